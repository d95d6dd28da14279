// The model in and out of the page: exports downloaded as files, an adapter file imported to predict with,
// and Try it's predictions on an image or a point file (frames that arrive while one is in flight are
// dropped, for the live webcam).
import type { BackboneController } from './backbone';
import { messageOf, type AppContext } from './context';
import type { RunController } from './runs';
import { NO_PREDICTION, type ExportFormat } from './state';
import type { WorkerRequest } from '../worker/protocol';

const EXPORT_NAMES: Record<ExportFormat, string> = { native: 'adapter', peft: 'PEFT adapter', merged: 'merged model' };

/** Hands a file to the browser's downloads. */
function download(blob: Blob, filename: string): void {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  a.style.display = 'none';
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

export class ModelIo {
  constructor(
    private readonly ctx: AppContext,
    private readonly backbone: BackboneController,
    private readonly runs: RunController,
  ) {}

  async exportAs(format: ExportFormat): Promise<void> {
    const { store, worker } = this.ctx;
    if (!worker) return;
    store.update({ exporting: format, exportMessage: `Exporting the ${EXPORT_NAMES[format]}…` });
    try {
      const file = await worker.request({ type: 'export', format });
      download(file.blob, file.filename);
      store.update({ exporting: undefined, exportMessage: `Saved ${file.filename} (${Math.max(1, Math.round(file.blob.size / 1000))} kB) to your downloads.` });
    } catch (error) {
      store.update({ exporting: undefined, exportMessage: messageOf(error) });
    }
  }

  async importAdapter(file: File): Promise<void> {
    const { store, worker } = this.ctx;
    if (!worker) return;
    store.update({ exportMessage: `Importing ${file.name}…` });
    try {
      await this.backbone.require();
      const imported = await worker.request({ type: 'importAdapter', file, name: file.name });
      this.runs.detach();
      store.update({
        model: { kind: 'imported', classes: imported.classes, method: imported.method, label: `${imported.method} adapter from ${file.name} (${imported.classes.length} classes)` },
        exportMessage: `Imported ${file.name}: a ${imported.method} adapter for ${imported.classes.length} classes. Try it below.`,
        prediction: NO_PREDICTION,
      });
    } catch (error) {
      store.update({ exportMessage: `${file.name} could not be imported: ${messageOf(error)}` });
    }
  }

  /** Top-5 for one image; frames that arrive while one is in flight are dropped (live webcam). */
  predict(image: Blob): Promise<void> {
    return this.predictWith(() => ({ type: 'predict', image }));
  }

  /** Top-5 for one point file, read and brought to the model's P points by the worker. */
  predictCloud(file: File): Promise<void> {
    return this.predictWith(() => ({ type: 'predictCloud', file, name: file.name }));
  }

  private async predictWith(request: () => Extract<WorkerRequest, { type: 'predict' | 'predictCloud' }>): Promise<void> {
    const { store, worker } = this.ctx;
    if (!worker || store.state.prediction.busy) return;
    store.patch('prediction', { busy: true });
    try {
      await this.backbone.require();
      const result = await worker.request(request());
      store.update({ prediction: { result, busy: false, message: undefined } });
    } catch (error) {
      store.update({ prediction: { result: undefined, busy: false, message: messageOf(error) } });
    }
  }
}
