// Training runs on the page: Train and Resume start a run through one startRun (fresh settings, or a
// checkpoint's state after checking its backbone and data), Pause/Resume/Stop reach the worker's live run,
// and the run's events (metrics, accuracy, evaluation, checkpoints, state, device loss) update the page.
import { TARGETS } from '../clora/settings';
import { samplesText, type SampleKind } from '../data/sample-kind';
import { requestPersistentStorage } from '../io/checkpoints';
import { DEFAULT_TRAIN_OPTIONS } from '../train/trainer';
import { isPackedClouds, packedBuffers, type AccuracyPoint, type BackboneInfo, type CheckpointState, type RunSettings, type WorkerEvent } from '../worker/protocol';
import type { BackboneController } from './backbone';
import type { CheckpointController } from './checkpoints';
import { messageOf, type AppContext } from './context';
import { backboneTakes, dataKindProblem } from './data-kind';
import type { DataController } from './data-set';
import type { EvaluationController } from './evaluation';
import { NO_MODEL, initialRun, type RunView, type UiSettings } from './state';
import { WorkerError } from './worker-client';

const RESUME_HINT = ' Press Resume to continue from the last checkpoint.';

function withResumeHint(message: string): string {
  return message.endsWith(RESUME_HINT) ? message : `${message}${RESUME_HINT}`;
}

/** A checkpoint interval no quick run reaches: a quick run saves once, when it ends (or is paused or stopped). */
const QUICK_CHECKPOINT_EVERY = 1_000_000;

/** Quick mode's settings: the head alone on cached features, for the quick epochs, without augmentation (features are cached per sample). */
export function quickSettingsFrom(s: UiSettings, kind: SampleKind = 'images'): RunSettings {
  const settings = runSettingsFrom({ ...s, method: 'head', epochs: s.quickEpochs, augment: false }, kind);
  return { ...settings, checkpointEvery: QUICK_CHECKPOINT_EVERY, quick: true };
}

/** The method "Fine-tune from here" continues with: the form's, or CLoRA when the form says head only. */
export function followUpMethod(s: UiSettings): Exclude<UiSettings['method'], 'head'> {
  return s.method === 'head' ? 'clora' : s.method;
}

/**
 * Training-time augmentation when the form asks for it: random horizontal flips of images, or Point-MAE's
 * fine-tuning transform of point clouds (a random scale of each axis and a shift, src/data/points/augment.ts).
 */
function augmentFor(kind: SampleKind, on: boolean): RunSettings['train']['augment'] {
  if (!on) return undefined;
  return kind === 'points' ? { scaleAndTranslate: true, rotate: false, jitter: false } : { flip: true, randomResizedCrop: false };
}

/** The engine's settings from the page's form, for the kind of sample the backbone takes. */
export function runSettingsFrom(s: UiSettings, kind: SampleKind = 'images'): RunSettings {
  return {
    adapter: {
      method: s.method,
      rank: s.rank,
      spaces: s.method === 'clora' ? s.spaces : 1,
      targets: s.method === 'head' ? [] : TARGETS.filter((t) => s.targets.includes(t)),
      scale: s.scale,
      sadeWeight: s.method === 'clora' ? s.sadeWeight : 0,
      dropout: s.dropout,
    },
    train: {
      ...DEFAULT_TRAIN_OPTIONS,
      lr: s.lr,
      weightDecay: s.weightDecay,
      epochs: s.epochs,
      batchSize: s.batchSize,
      warmup: s.warmup,
      labelSmoothing: s.labelSmoothing,
      seed: s.seed,
      augment: augmentFor(kind, s.augment),
      logEvery: 5,
    },
    checkpointEvery: s.checkpointEvery,
  };
}

/** What a run starts from: the page's settings (Train) or a checkpoint (Resume). */
interface RunPlan {
  runId: string;
  settings: RunSettings;
  /** The run panel as the run starts (a resumed run shows its saved curves). */
  view: Partial<RunView>;
  /** A checkpoint's state, and the fingerprint of the data it was trained on. */
  resume?: { state: CheckpointState; accuracy: AccuracyPoint[]; fingerprint: string };
  /** The model's classes, or those of the data set when undefined. */
  classes?: string[];
  /** Start from the head the worker holds (a quick run's). */
  initHeadFromHeld?: boolean;
  modelLabel(backbone: BackboneInfo): string;
}

export class RunController {
  /** The settings and data fingerprint of the run the page follows: checkpoints record them. */
  private settings: RunSettings | undefined;
  private fingerprint = '';
  /** When the run the page follows was started in this tab (for its wall-clock time). */
  private startedAt = 0;

  constructor(
    private readonly ctx: AppContext,
    private readonly backbone: BackboneController,
    private readonly data: DataController,
    private readonly checkpoints: CheckpointController,
    private readonly evaluation: EvaluationController,
  ) {}

  private patch(fields: Partial<RunView>): void {
    this.ctx.store.patch('run', fields);
  }

  private get run(): RunView {
    return this.ctx.store.state.run;
  }

  private busy(): boolean {
    return this.run.phase === 'training' || this.run.phase === 'starting';
  }

  /** What the loaded backbone takes (images or point clouds): the settings follow it. */
  private kind(): SampleKind {
    return backboneTakes(this.ctx.store.state.backbone.info);
  }

  train(): Promise<void> {
    const settings = runSettingsFrom(this.ctx.store.state.settings, this.kind());
    return this.newRun(settings, (backbone) => `${settings.adapter.method} adapter being trained on ${backbone.label}`);
  }

  /** Quick mode: the head on features the backbone computes once per image (seconds on the sample data). */
  quickTrain(): Promise<void> {
    return this.newRun(quickSettingsFrom(this.ctx.store.state.settings, this.kind()), (backbone) => `head trained in quick mode on ${backbone.label}`);
  }

  /** Fine-tuning onward from the quick run's head (the form's method, CLoRA when it says head only). */
  trainFromQuick(): Promise<void> {
    const form = this.ctx.store.state.settings;
    const settings = runSettingsFrom({ ...form, method: followUpMethod(form) }, this.kind());
    return this.newRun(settings, (backbone) => `${settings.adapter.method} adapter being trained on ${backbone.label}, from the quick head`, true);
  }

  private newRun(settings: RunSettings, modelLabel: (backbone: BackboneInfo) => string, initHeadFromHeld = false): Promise<void> {
    if (this.busy()) return Promise.resolve();
    this.patch({ ...initialRun(), phase: 'starting', message: 'Preparing the data…' });
    this.startedAt = performance.now();
    return this.startRun(async () => ({ runId: `run-${Date.now().toString(36)}`, settings, view: {}, initHeadFromHeld, modelLabel }));
  }

  resumeCheckpoint(id: string): Promise<void> {
    if (this.busy()) {
      this.patch({ message: 'Pause or stop the current run before resuming another.' });
      return Promise.resolve();
    }
    this.patch({ phase: 'starting', message: 'Loading the checkpoint…' });
    // A resumed run's time in this tab is not the run's time: none is shown.
    this.startedAt = 0;
    return this.startRun(async () => {
      const { meta, data } = await this.checkpoints.load(id);
      await this.backbone.requireFor(meta.backbone);
      return {
        runId: meta.runId,
        settings: meta.settings,
        view: { step: meta.step, totalSteps: meta.totalSteps, metrics: data.state.history, accuracy: data.accuracy, quick: meta.settings.quick === true },
        resume: { state: data.state, accuracy: data.accuracy, fingerprint: meta.fingerprint },
        classes: meta.classes,
        modelLabel: () => `${meta.settings.adapter.method} adapter resumed at step ${meta.step}`,
      };
    });
  }

  /** Train and Resume alike: the data packed, the run handed to the worker, the page following it. */
  private async startRun(plan: () => Promise<RunPlan>): Promise<void> {
    const worker = this.ctx.worker;
    if (!worker) return;
    let resuming = false;
    try {
      await this.data.settled();
      const p = await plan();
      resuming = p.resume !== undefined;
      const backbone = await this.backbone.require();
      const problem = dataKindProblem(this.ctx.store.state.data, backbone);
      if (problem) throw new Error(problem);
      const { samples, fingerprint } = await this.data.pack();
      if (p.resume && fingerprint !== p.resume.fingerprint) {
        const kind = isPackedClouds(samples) ? 'points' : 'images';
        throw new Error(
          `The data set changed since this checkpoint was saved (${samplesText(kind, Number(p.resume.fingerprint.split('-')[1]))} then, ${samples.count} now, or other classes or split): ` +
            'resuming needs the same samples. Restore them, or start a new run with Train.',
        );
      }
      this.settings = p.settings;
      this.fingerprint = fingerprint;
      // The final evaluation scores the validation images (the training ones without a split), in packed order.
      const held = samples.keys.filter((_, i) => samples.validation[i]);
      this.evaluation.track(held.length ? held : samples.keys.filter((_, i) => !samples.validation[i]));
      const quick = p.settings.quick === true;
      this.patch({ ...initialRun(), phase: 'starting', runId: p.runId, quick, message: quick ? 'Computing the backbone\'s features…' : undefined, ...p.view });
      const resume = p.resume ? { state: p.resume.state, accuracy: p.resume.accuracy } : undefined;
      const label = p.modelLabel(backbone);
      const started = await worker.request(
        { type: 'train', start: { runId: p.runId, settings: p.settings, samples, resume, label, initHeadFromHeld: p.initHeadFromHeld } },
        packedBuffers(samples),
      );
      this.patch({ live: true, ...(quick ? { message: undefined } : {}), ...started });
      const method = p.settings.adapter.method;
      this.ctx.store.update({ model: { kind: 'trained', classes: p.classes ?? samples.classes, method, label } });
      if (!resuming) void requestPersistentStorage().then(() => this.checkpoints.refreshStorage());
    } catch (error) {
      this.patch({ phase: 'idle', message: messageOf(error), errorKind: error instanceof WorkerError ? error.kind : 'other' });
      if (resuming) await this.checkpoints.refreshResumable();
    }
  }

  pause(): void {
    if (this.run.phase === 'training') void this.ctx.worker?.request({ type: 'pause' });
  }

  /** Continues the paused run in this tab, else the newest checkpoint. */
  async resume(): Promise<void> {
    const run = this.run;
    if (run.phase === 'paused' && run.live) {
      try {
        await this.ctx.worker?.request({ type: 'resume' });
      } catch (error) {
        this.patch({ message: messageOf(error) });
      }
      return;
    }
    const from = run.resumable ?? this.ctx.store.state.checkpoints.list[0];
    if (from) await this.resumeCheckpoint(from.id);
    else this.patch({ message: 'There is no checkpoint to resume from: start training.' });
  }

  stop(): void {
    if (this.run.phase === 'training' || (this.run.phase === 'paused' && this.run.live)) void this.ctx.worker?.request({ type: 'stop' });
  }

  /** The worker no longer holds the run (an adapter was imported): a paused run can only resume from a checkpoint. */
  detach(): void {
    this.patch({ live: false, ...(this.run.phase === 'paused' ? { phase: 'stopped' as const } : {}) });
  }

  onEvent(e: WorkerEvent): void {
    switch (e.kind) {
      case 'download':
        return;
      case 'metrics':
        if (e.runId !== this.run.runId) return;
        this.patch({ metrics: [...this.run.metrics, e.metrics], step: e.metrics.step, totalSteps: e.metrics.totalSteps, gpu: e.gpu });
        return;
      case 'accuracy':
        if (e.runId !== this.run.runId) return;
        this.patch({ accuracy: [...this.run.accuracy, e.point] });
        return;
      case 'evaluation':
        if (e.runId !== this.run.runId) return;
        this.evaluation.onEvaluation(e);
        return;
      case 'features':
        if (e.runId !== this.run.runId) return;
        this.patch({ features: { done: e.done, total: e.total, cached: e.cached } });
        return;
      case 'checkpoint': {
        const backbone = this.ctx.store.state.backbone.info;
        if (!this.settings || !backbone) return;
        this.checkpoints.save(e, {
          settings: this.settings,
          fingerprint: this.fingerprint,
          classes: this.ctx.store.state.model.classes,
          totalSteps: this.run.totalSteps,
          backbone: { spec: backbone.spec, label: backbone.label, url: this.backbone.currentUrl() },
        });
        return;
      }
      case 'runState': {
        if (e.runId !== this.run.runId) return;
        const phase = e.state === 'failed' && e.errorKind === 'deviceLost' ? 'failed' : e.state;
        // 'runState' and 'deviceLost' can arrive in either order: both say how to go on.
        const message = e.errorKind === 'deviceLost' && e.message ? withResumeHint(e.message) : e.message;
        const seconds = e.state === 'done' && this.startedAt ? (performance.now() - this.startedAt) / 1000 : undefined;
        this.patch({ phase, step: e.step, totalSteps: e.totalSteps, message, errorKind: e.errorKind, seconds, ...(e.state === 'failed' ? { live: false } : {}) });
        if (e.state === 'failed') void this.checkpoints.saved().then(() => this.checkpoints.refreshResumable());
        return;
      }
      case 'deviceLost':
        this.lost('deviceLost', e.message);
        return;
    }
  }

  /** The worker itself ended (src/app/controller.ts starts another). */
  onWorkerLost(message: string): void {
    this.lost('workerLost', message);
  }

  /** The GPU device or the whole worker is gone, and the run and model with it: Resume continues from the last checkpoint. */
  private lost(kind: 'deviceLost' | 'workerLost', message: string): void {
    const wasTraining = this.run.phase === 'training' || this.run.phase === 'paused' || this.run.phase === 'starting';
    this.ctx.store.update({ model: NO_MODEL });
    this.patch({ live: false, phase: wasTraining ? 'failed' : this.run.phase, errorKind: kind, message: wasTraining ? withResumeHint(message) : message });
    void this.checkpoints.saved().then(() => this.checkpoints.refreshResumable());
  }
}
