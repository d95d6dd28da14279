// Backbone choice on the page: the bundled one, a known hub model, a URL or a local file, loaded by the
// worker; while one loads, a failed load keeps the previous backbone and says so.
import { BUNDLED_MODEL, KNOWN_MODELS, modelUrl } from '../nn/models';
import type { BackboneInfo, BackboneSource } from '../worker/protocol';
import type { CheckpointController } from './checkpoints';
import { messageOf, type AppContext } from './context';
import { saveBackboneChoice } from './preferences';
import { siteBase } from './site';
import { blockedDownload } from './site-policy';
import { NO_MODEL, NO_PREDICTION, type BackboneChoice } from './state';

/** `?backbone=URL` in the page's address (tests, links to a model). */
export function choiceFromAddress(): BackboneChoice | undefined {
  const url = new URLSearchParams(location.search).get('backbone');
  return url ? { kind: 'url', url } : undefined;
}

/** A URL as the page reads it (the worker's own address is another); one that does not parse goes as typed, for the download to explain. */
function pageRelative(url: string): string {
  try {
    return new URL(url, location.href).href;
  } catch {
    return url;
  }
}

export class BackboneController {
  private ready: Promise<void> | undefined;

  constructor(
    private readonly ctx: AppContext,
    private readonly checkpoints: CheckpointController,
  ) {}

  /** Where the worker fetches a choice from. */
  sourceOf(choice: BackboneChoice): BackboneSource {
    switch (choice.kind) {
      case 'bundled':
        // Served with the site (public/models/): works offline.
        return { kind: 'url', url: modelUrl(BUNDLED_MODEL, siteBase()), id: BUNDLED_MODEL.id };
      case 'known': {
        const known = KNOWN_MODELS.find((m) => m.id === choice.id);
        if (!known) throw new Error(`Unknown model ${choice.id}.`);
        return { kind: 'url', url: modelUrl(known, siteBase()), id: known.id };
      }
      case 'url':
        return { kind: 'url', url: pageRelative(choice.url) };
      case 'file':
        return { kind: 'file', file: choice.file, name: choice.file.name };
    }
  }

  /** The URL the current backbone came from (a file the user chose has none: it cannot be fetched again). */
  currentUrl(): string | undefined {
    const choice = this.ctx.store.state.backbone.choice;
    if (choice.kind === 'file') return undefined;
    return (this.sourceOf(choice) as { url: string }).url;
  }

  /**
   * The choice that loads a checkpoint's backbone again: a known model by its id (wherever the site is
   * hosted now), another by its URL; none for a file the user chose.
   */
  choiceFor(backbone: { spec: string; url: string | undefined }): BackboneChoice | undefined {
    if (!backbone.url) return undefined;
    const known = KNOWN_MODELS.find((m) => m.id === backbone.spec);
    if (known === BUNDLED_MODEL) return { kind: 'bundled' };
    return known ? { kind: 'known', id: known.id } : { kind: 'url', url: backbone.url };
  }

  /** The backbone a checkpoint was trained on, loaded when another one is; a sentence when it cannot be. */
  async requireFor(backbone: { spec: string; label: string; url: string | undefined }): Promise<BackboneInfo> {
    const current = this.ctx.store.state.backbone.info;
    if (current && current.spec === backbone.spec) return current;
    const choice = this.choiceFor(backbone);
    if (!choice) throw new Error(`This was trained on the backbone file "${backbone.label}": choose that file as the backbone first.`);
    await this.choose(choice);
    const loaded = this.ctx.store.state.backbone.info;
    if (!loaded || loaded.spec !== backbone.spec) throw new Error(`The backbone ${backbone.label} could not be loaded.`);
    return loaded;
  }

  choose(choice: BackboneChoice): Promise<void> {
    const { store, worker } = this.ctx;
    if (!worker) return Promise.resolve();
    if (store.state.run.phase === 'training' || store.state.run.phase === 'starting') {
      store.patch('backbone', { message: 'Pause or stop training before changing the backbone.' });
      return Promise.resolve();
    }
    const previous = store.state.backbone;
    store.update({ backbone: { ...previous, status: 'loading', choice, progress: undefined, message: undefined } });
    const load = (async () => {
      try {
        const source = this.sourceOf(choice);
        // The browser would block it anyway (the built site's policy holds in the worker too); this says why.
        const blocked = source.kind === 'url' ? blockedDownload(source.url) : undefined;
        if (blocked) throw new Error(blocked);
        const info = await worker.request({ type: 'loadBackbone', source });
        // The worker let go of every model built on the previous backbone, the run's included.
        store.update({ backbone: { status: 'ready', choice, info, progress: undefined, message: undefined }, model: NO_MODEL, prediction: NO_PREDICTION });
        store.patch('run', { live: false });
        saveBackboneChoice(choice);
        const phase = store.state.run.phase;
        if (phase !== 'idle' && phase !== 'failed') store.patch('run', { phase: 'idle', message: undefined });
        await this.checkpoints.refreshResumable();
      } catch (error) {
        // The worker keeps the backbone it had when a new one fails to load: keep using it, and say so.
        if (previous.status === 'ready' && previous.info) {
          store.update({ backbone: { ...previous, message: `${messageOf(error)} Still using ${previous.info.label}.` } });
        } else {
          store.patch('backbone', { status: 'error', progress: undefined, message: messageOf(error) });
        }
        throw error;
      }
    })();
    this.ready = load.catch(() => undefined);
    return this.ready;
  }

  cancelDownload(): void {
    void this.ctx.worker?.request({ type: 'cancelDownload' });
  }

  onProgress(loaded: number, total: number | undefined): void {
    this.ctx.store.patch('backbone', { progress: { loaded, total } });
  }

  /** The loaded backbone, once the load under way (if any) is over; a sentence when there is none. */
  async require(): Promise<BackboneInfo> {
    await this.ready;
    const { info, status } = this.ctx.store.state.backbone;
    if (!info || status !== 'ready') throw new Error('No backbone is loaded: choose one first (the bundled one works offline).');
    return info;
  }
}
