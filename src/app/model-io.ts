// The model in and out of the page: exports downloaded as files, an adapter file imported to predict with,
// a saved checkpoint made the model (after a reload the newest one is, without resuming training), and
// Try it's predictions on an image or a point file (frames that arrive while one is in flight are dropped,
// for the live webcam).
import type { CheckpointMeta } from '../io/checkpoints';
import type { BackboneController } from './backbone';
import type { CheckpointController } from './checkpoints';
import { messageOf, type AppContext } from './context';
import type { RunController } from './runs';
import { NO_PREDICTION, type ExportFormat } from './state';
import type { WorkerRequest } from '../worker/protocol';

const EXPORT_NAMES: Record<ExportFormat, string> = { native: 'adapter', peft: 'PEFT adapter', merged: 'merged model', onnx: 'merged model as ONNX' };

/** Hands a file to the browser's downloads. */
export function download(blob: Blob, filename: string): void {
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

/** How Try it and the export panel name a checkpoint's model. */
export function checkpointLabel(meta: Pick<CheckpointMeta, 'step' | 'totalSteps' | 'runId' | 'settings'>): string {
  return `checkpoint at step ${meta.step} of ${meta.totalSteps} of run ${meta.runId} (${meta.settings.quick ? 'head, quick mode' : meta.settings.adapter.method})`;
}

export class ModelIo {
  constructor(
    private readonly ctx: AppContext,
    private readonly backbone: BackboneController,
    private readonly runs: RunController,
    private readonly checkpoints: CheckpointController,
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
        model: { kind: 'imported', classes: imported.classes, method: imported.method, label: imported.label },
        exportMessage: `Imported ${file.name}: a ${imported.method} adapter for ${imported.classes.length} classes. Try it below.`,
        prediction: NO_PREDICTION,
      });
    } catch (error) {
      store.update({ exportMessage: `${file.name} could not be imported: ${messageOf(error)}` });
    }
  }

  /**
   * Makes a saved checkpoint the model Try it and the exports use, without resuming its training (its
   * backbone is loaded first when another one is).
   */
  async useCheckpoint(id: string): Promise<void> {
    const { store, worker } = this.ctx;
    if (!worker) return;
    const phase = store.state.run.phase;
    if (phase === 'training' || phase === 'starting') {
      store.update({ exportMessage: 'Pause or stop training before using a saved checkpoint.' });
      return;
    }
    try {
      const { meta, data } = await this.checkpoints.load(id);
      await this.backbone.requireFor(meta.backbone);
      const label = checkpointLabel(meta);
      const settings = meta.settings.adapter;
      await worker.request({ type: 'useWeights', weights: { settings, classes: meta.classes, tensors: data.state.trainable, source: 'checkpoint', label } });
      this.runs.detach();
      store.update({
        model: { kind: 'checkpoint', classes: meta.classes, method: settings.method, label, checkpointId: id },
        exportMessage: `Using the ${label}: Try it and the exports use it now.`,
        prediction: NO_PREDICTION,
      });
    } catch (error) {
      store.update({ exportMessage: `The checkpoint could not be used: ${messageOf(error)}` });
    }
  }

  /** After a reload: the newest checkpoint on the loaded backbone becomes the model (no training resumes). */
  async adoptNewestCheckpoint(): Promise<void> {
    const { store } = this.ctx;
    const backbone = store.state.backbone.info;
    const newest = store.state.checkpoints.list.find((c) => c.backbone.spec === backbone?.spec);
    if (!newest || store.state.model.kind !== 'none' || store.state.run.phase !== 'idle') return;
    try {
      const { meta, data } = await this.checkpoints.load(newest.id);
      // Something else became the model meanwhile (a run, an import): leave it.
      if (store.state.model.kind !== 'none' || store.state.run.phase !== 'idle' || store.state.backbone.info?.spec !== meta.backbone.spec) return;
      const label = checkpointLabel(meta);
      await this.ctx.worker?.request({ type: 'useWeights', weights: { settings: meta.settings.adapter, classes: meta.classes, tensors: data.state.trainable, source: 'checkpoint', label } });
      if (store.state.model.kind !== 'none' || store.state.run.phase !== 'idle') return;
      store.update({ model: { kind: 'checkpoint', classes: meta.classes, method: meta.settings.adapter.method, label, checkpointId: newest.id } });
    } catch {
      // An unreadable checkpoint stays listed; using or resuming it says what is wrong.
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
