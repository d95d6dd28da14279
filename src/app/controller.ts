// The page's controller: makes the training worker and the stores, puts the parts together (backbone,
// data set, runs, checkpoints, model input/output), routes the worker's events to them, and answers every
// event the components emit (AppEvents) with the part that handles it. Components never talk to the
// worker or the storage themselves.
import { ActiveDataset } from '../io/active-dataset';
import { CheckpointStore } from '../io/checkpoints';
import type { WorkerEvent } from '../worker/protocol';
import { BackboneController, choiceFromAddress } from './backbone';
import { CheckpointController } from './checkpoints';
import { messageOf, type AppContext } from './context';
import { SAMPLE_DATA_PATHS } from './data-kind';
import { DataController } from './data-set';
import { EvaluationController } from './evaluation';
import type { AppEvents, Handlers } from './events';
import { ModelIo } from './model-io';
import { ProjectController } from './project';
import { saveCamera, savedBackboneChoice, savedCamera, saveSettings, savedSettings } from './preferences';
import { RunController } from './runs';
import { siteUrl } from './site';
import { initialState, type AppState, type UiSettings } from './state';
import { Store } from './store';
import { APP_VERSION, SiteUpdates } from './updates';
import { WorkerClient } from './worker-client';

export class AppController {
  readonly store: Store;
  readonly backbone: BackboneController;
  readonly data: DataController;
  readonly runs: RunController;
  readonly checkpoints: CheckpointController;
  readonly evaluation: EvaluationController;
  readonly model: ModelIo;
  readonly project: ProjectController;
  readonly updates: SiteUpdates;
  private readonly ctx: AppContext;

  constructor(opts: { storagePrefix?: string } = {}) {
    this.store = new Store(initialState(savedSettings(), choiceFromAddress() ?? savedBackboneChoice(), APP_VERSION, savedCamera()));
    this.ctx = { store: this.store, worker: undefined };
    // `?samples=URL` replaces the image sample set (tests).
    const sampleDataUrls = {
      images: new URLSearchParams(location.search).get('samples') ?? siteUrl(SAMPLE_DATA_PATHS.images),
      points: siteUrl(SAMPLE_DATA_PATHS.points),
    };
    this.checkpoints = new CheckpointController(this.ctx, new CheckpointStore(opts.storagePrefix));
    this.backbone = new BackboneController(this.ctx, this.checkpoints);
    this.data = new DataController(this.ctx, this.backbone, new ActiveDataset(opts.storagePrefix), sampleDataUrls);
    this.evaluation = new EvaluationController(this.ctx, this.data);
    this.runs = new RunController(this.ctx, this.backbone, this.data, this.checkpoints, this.evaluation);
    this.model = new ModelIo(this.ctx, this.backbone, this.runs, this.checkpoints);
    this.project = new ProjectController(this.ctx, this.backbone, this.data, this.checkpoints, this.model, (settings) => this.updateSettings(settings));
    this.updates = new SiteUpdates(this.ctx);
  }

  get state(): AppState {
    return this.store.state;
  }

  /** Registers the service worker, finds the GPU (in the worker), shows what is saved, and loads the chosen backbone. */
  async start(): Promise<void> {
    const { store } = this;
    this.updates.register();
    // Data and checkpoints load even without WebGPU: the page can still show what is saved.
    const stored = (async () => {
      await this.data.load();
      await this.checkpoints.refresh();
    })();
    if (!navigator.gpu) {
      try {
        // Says why there is no WebGPU and what to do.
        const { createBrowserGpuContext } = await import('../gpu/browser');
        await createBrowserGpuContext();
      } catch (error) {
        store.update({ gpu: { kind: 'error', message: messageOf(error) } });
      }
      await stored;
      return;
    }
    const started = await this.startWorker();
    await stored;
    if (!started) return;
    await this.backbone.choose(store.state.backbone.choice);
    // After a reload the newest saved checkpoint answers Try it and exports, without resuming training.
    await this.model.adoptNewestCheckpoint();
  }

  /** A training worker, its events routed and its end watched; false (the page says why) when it finds no GPU. */
  private async startWorker(): Promise<boolean> {
    const worker = WorkerClient.create();
    this.ctx.worker = worker;
    worker.onEvent((e) => this.onWorkerEvent(e));
    worker.onEnd((error) => void this.onWorkerEnd(error));
    try {
      const ready = await worker.init();
      this.store.update({ gpu: { kind: 'ready', adapter: ready.adapter, features: ready.features, profile: ready.profile } });
      return true;
    } catch (error) {
      this.store.update({ gpu: { kind: 'error', message: messageOf(error) } });
      return false;
    }
  }

  /** The worker ended on its own: the run it held stops (Resume continues from the last checkpoint) and a new worker loads the backbone again. */
  private async onWorkerEnd(error: Error): Promise<void> {
    this.runs.onWorkerLost(error.message);
    if (await this.startWorker()) await this.backbone.choose(this.store.state.backbone.choice).catch(() => undefined);
  }

  private onWorkerEvent(e: WorkerEvent): void {
    if (e.kind === 'download') this.backbone.onProgress(e.loaded, e.total);
    else this.runs.onEvent(e);
  }

  updateSettings(patch: Partial<UiSettings>): void {
    const settings = { ...this.store.state.settings, ...patch };
    this.store.update({ settings });
    saveSettings(settings);
  }

  /** Tests: makes the worker lose its GPU device as a driver reset would. */
  async simulateDeviceLoss(): Promise<void> {
    await this.ctx.worker?.request({ type: 'loseDevice' });
  }

  /** What each event the components emit does. */
  readonly handlers: Handlers<AppEvents> = {
    'choose-backbone': ({ choice }) => void this.backbone.choose(choice),
    'cancel-download': () => this.backbone.cancelDownload(),
    'use-sample-data': () => void this.data.useSampleData(),
    'add-dropped': ({ items, classId }) => void this.data.addDropped(items, classId),
    'add-files': ({ files, classId, label }) => void this.data.addFiles(files, classId, label),
    'add-frames': ({ classId, blobs }) => void this.data.addFrames(classId, blobs),
    'add-class': ({ name }) => void this.data.addClass(name),
    'rename-class': ({ id, name }) => void this.data.renameClass(id, name),
    'delete-class': ({ id }) => void this.data.deleteClass(id),
    'clear-data': () => void this.data.clear(),
    'clear-skipped': () => this.data.clearSkipped(),
    'set-validation-share': ({ share }) => void this.data.setValidationShare(share),
    'settings-change': ({ patch }) => this.updateSettings(patch),
    train: () => void this.runs.train(),
    'quick-train': () => void this.runs.quickTrain(),
    'train-from-quick': () => void this.runs.trainFromQuick(),
    pause: () => this.runs.pause(),
    resume: () => void this.runs.resume(),
    stop: () => this.runs.stop(),
    'resume-checkpoint': ({ id }) => void this.runs.resumeCheckpoint(id),
    'delete-checkpoint': ({ id }) => void this.checkpoints.delete(id),
    'use-checkpoint': ({ id }) => void this.model.useCheckpoint(id),
    'open-confusion-cell': ({ actual, predicted }) => void this.evaluation.openCell(actual, predicted),
    'close-confusion-cell': () => this.evaluation.closeCell(),
    'save-project': () => void this.project.save(),
    'open-project': ({ file }) => void this.project.open(file),
    'export-dataset': () => void this.project.exportDataset(),
    'camera-change': ({ patch }) => {
      const camera = { ...this.store.state.camera, ...patch };
      this.store.update({ camera });
      saveCamera(camera);
    },
    export: ({ format }) => void this.model.exportAs(format),
    'import-adapter': ({ file }) => void this.model.importAdapter(file),
    predict: ({ image }) => void this.model.predict(image),
    'predict-cloud': ({ file }) => void this.model.predictCloud(file),
    'reload-update': () => void this.updates.reload(),
  };
}
