// The app's controller on the main thread: owns the training worker and IndexedDB (samples, checkpoints,
// settings), turns user intents from the components into worker requests, and keeps one state object that
// the components render. Components never talk to the worker or the storage themselves.
import { DEFAULT_ADAPTER_SETTINGS, TARGETS, type Method, type Target } from '../clora/settings';
import {
  packSamples,
  runIntake,
  sampleDataFiles,
  SampleStore,
  validationFlags,
  walkDropped,
  walkFileList,
  type DatasetManifest,
  type DroppedItem,
  type FoundFile,
  type IntakeProgress,
  type SkippedFile,
  type StoredSample,
} from '../data/intake';
import { CheckpointError, CheckpointStore, describeUnreadable, requestPersistentStorage, storageUse, type CheckpointMeta, type StorageUse } from '../io/checkpoints';
import { BUNDLED_MODEL, KNOWN_MODELS } from '../nn/models';
import type { Evaluation } from '../train/evaluate';
import type { AccuracyPoint, BackboneInfo, BackboneSource, ErrorKind, Prediction, RunSettings, RunState, WorkerEvent } from '../train/protocol';
import { DEFAULT_TRAIN_OPTIONS, type TrainMetrics } from '../train/trainer';
import { WorkerClient, WorkerError } from './worker-client';

/** The bundled backbone (public/models/, served at the site root): works offline. */
export const DEFAULT_BACKBONE_URL = BUNDLED_MODEL.url;
/** The sample data set's file list (public/samples/fashion/index.json). */
export const SAMPLE_DATA_URL = '/samples/fashion/index.json';

export type BackboneChoice = { kind: 'bundled' } | { kind: 'known'; id: string } | { kind: 'url'; url: string } | { kind: 'file'; file: File };

export interface UiSettings {
  method: Exclude<Method, 'full'>;
  rank: number;
  spaces: number;
  sadeWeight: number;
  lr: number;
  epochs: number;
  batchSize: number;
  // advanced
  targets: Target[];
  dropout: number;
  scale: number;
  weightDecay: number;
  warmup: number;
  labelSmoothing: number;
  seed: number;
  augment: boolean;
  checkpointEvery: number;
}

export const DEFAULT_UI_SETTINGS: UiSettings = {
  method: 'clora',
  rank: DEFAULT_ADAPTER_SETTINGS.rank,
  spaces: DEFAULT_ADAPTER_SETTINGS.spaces,
  sadeWeight: DEFAULT_ADAPTER_SETTINGS.sadeWeight,
  lr: 2e-3,
  epochs: 5,
  batchSize: 32,
  targets: [...DEFAULT_ADAPTER_SETTINGS.targets],
  dropout: DEFAULT_ADAPTER_SETTINGS.dropout,
  scale: DEFAULT_ADAPTER_SETTINGS.scale,
  weightDecay: DEFAULT_TRAIN_OPTIONS.weightDecay,
  warmup: 0,
  labelSmoothing: 0,
  seed: 0,
  augment: false,
  checkpointEvery: 20,
};

export interface ClassView {
  id: string;
  name: string;
  count: number;
  validation: number;
  /** Object URLs of a few samples. */
  thumbnails: string[];
}

export type GpuState = { kind: 'checking' } | { kind: 'ready'; adapter: string; features: string[] } | { kind: 'error'; message: string };

export interface BackboneState {
  status: 'idle' | 'loading' | 'ready' | 'error';
  choice: BackboneChoice;
  info: BackboneInfo | undefined;
  progress: { loaded: number; total: number | undefined } | undefined;
  message: string | undefined;
}

export interface DataState {
  classes: ClassView[];
  skipped: SkippedFile[];
  validationShare: number;
  total: number;
  intake: (IntakeProgress & { label: string }) | undefined;
  message: string | undefined;
  sampleLoaded: boolean;
}

export type RunPhase = 'idle' | 'starting' | RunState;

export interface RunView {
  phase: RunPhase;
  runId: string | undefined;
  step: number;
  totalSteps: number;
  stepsPerEpoch: number;
  metrics: TrainMetrics[];
  accuracy: AccuracyPoint[];
  evaluation: { evaluation: Evaluation; on: 'validation' | 'training' } | undefined;
  message: string | undefined;
  errorKind: ErrorKind | undefined;
  trainableParameters: number;
  trainCount: number;
  validationCount: number;
  /** A checkpoint Resume can continue from (after a reload or a lost device). */
  resumable: CheckpointMeta | undefined;
}

export interface CheckpointsState {
  list: CheckpointMeta[];
  storage: StorageUse | undefined;
  message: string | undefined;
  saving: boolean;
}

export interface ModelState {
  kind: 'none' | 'trained' | 'imported';
  classes: string[];
  label: string;
  /** The adapter's method (a head-only adapter has no PEFT export). */
  method?: string;
}

export interface AppState {
  gpu: GpuState;
  backbone: BackboneState;
  data: DataState;
  settings: UiSettings;
  run: RunView;
  checkpoints: CheckpointsState;
  model: ModelState;
  exporting: string | undefined;
  exportMessage: string | undefined;
  prediction: { result: Prediction | undefined; busy: boolean; message: string | undefined };
}

const SETTINGS_KEY = 'clora-web.settings';
const BACKBONE_KEY = 'clora-web.backbone';
const THUMBNAILS = 6;

/** The run panel before any run (also what the component tests start from). */
export function initialRun(): RunView {
  return {
    phase: 'idle',
    runId: undefined,
    step: 0,
    totalSteps: 0,
    stepsPerEpoch: 0,
    metrics: [],
    accuracy: [],
    evaluation: undefined,
    message: undefined,
    errorKind: undefined,
    trainableParameters: 0,
    trainCount: 0,
    validationCount: 0,
    resumable: undefined,
  };
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** A thumbnail image URL from stored RGB bytes. */
function thumbnailUrl(rgb: Uint8Array, size: number): string {
  const canvas = document.createElement('canvas');
  canvas.width = size;
  canvas.height = size;
  const context = canvas.getContext('2d');
  if (!context) return '';
  const image = context.createImageData(size, size);
  for (let p = 0; p < size * size; p++) {
    image.data[p * 4] = rgb[p * 3]!;
    image.data[p * 4 + 1] = rgb[p * 3 + 1]!;
    image.data[p * 4 + 2] = rgb[p * 3 + 2]!;
    image.data[p * 4 + 3] = 255;
  }
  context.putImageData(image, 0, 0);
  return canvas.toDataURL('image/png');
}

function choiceFromUrl(): BackboneChoice | undefined {
  const url = new URLSearchParams(location.search).get('backbone');
  return url ? { kind: 'url', url } : undefined;
}

export class AppController extends EventTarget {
  state: AppState;
  readonly samples: SampleStore;
  readonly checkpoints: CheckpointStore;
  private worker: WorkerClient | undefined;
  private manifest: DatasetManifest | undefined;
  private intakeChain: Promise<unknown> = Promise.resolve();
  private saveChain: Promise<unknown> = Promise.resolve();
  private runSettings: RunSettings | undefined;
  private runFingerprint = '';
  private backboneReady: Promise<void> | undefined;
  private liveSession = false;
  readonly sampleDataUrl: string;

  constructor(opts: { storagePrefix?: string } = {}) {
    super();
    this.samples = new SampleStore(opts.storagePrefix);
    this.checkpoints = new CheckpointStore(opts.storagePrefix);
    this.sampleDataUrl = new URLSearchParams(location.search).get('samples') ?? SAMPLE_DATA_URL;
    this.state = {
      gpu: { kind: 'checking' },
      backbone: { status: 'idle', choice: choiceFromUrl() ?? this.savedBackboneChoice(), info: undefined, progress: undefined, message: undefined },
      data: { classes: [], skipped: [], validationShare: 0.2, total: 0, intake: undefined, message: undefined, sampleLoaded: false },
      settings: this.savedSettings(),
      run: initialRun(),
      checkpoints: { list: [], storage: undefined, message: undefined, saving: false },
      model: { kind: 'none', classes: [], label: '' },
      exporting: undefined,
      exportMessage: undefined,
      prediction: { result: undefined, busy: false, message: undefined },
    };
  }

  private update(patch: Partial<AppState>): void {
    this.state = { ...this.state, ...patch };
    this.dispatchEvent(new Event('change'));
  }

  private patchRun(patch: Partial<RunView>): void {
    this.update({ run: { ...this.state.run, ...patch } });
  }

  private patchData(patch: Partial<DataState>): void {
    this.update({ data: { ...this.state.data, ...patch } });
  }

  // -------------------------------------------------------------------------------------------
  // Start-up

  async start(): Promise<void> {
    // Data and checkpoints load even without WebGPU: the page can still show what is saved.
    const stored = this.loadStoredData();
    if (!navigator.gpu) {
      try {
        const { createBrowserGpuContext } = await import('../gpu/browser');
        await createBrowserGpuContext();
      } catch (error) {
        this.update({ gpu: { kind: 'error', message: messageOf(error) } });
      }
      await stored;
      return;
    }
    this.worker = WorkerClient.create();
    this.worker.onEvent((e) => this.onWorkerEvent(e));
    try {
      const ready = await this.worker.request({ type: 'init' });
      this.update({ gpu: { kind: 'ready', adapter: ready.adapter, features: ready.features } });
    } catch (error) {
      this.update({ gpu: { kind: 'error', message: messageOf(error) } });
      await stored;
      return;
    }
    await stored;
    await this.chooseBackbone(this.state.backbone.choice);
  }

  private async loadStoredData(): Promise<void> {
    try {
      this.manifest = await this.samples.manifest();
      await this.refreshClasses();
    } catch (error) {
      this.patchData({ message: `The saved data set could not be read (${messageOf(error)}).` });
    }
    await this.refreshCheckpoints();
  }

  private savedSettings(): UiSettings {
    try {
      const saved = JSON.parse(localStorage.getItem(SETTINGS_KEY) ?? 'null') as Partial<UiSettings> | null;
      return { ...DEFAULT_UI_SETTINGS, ...(saved ?? {}) };
    } catch {
      return { ...DEFAULT_UI_SETTINGS };
    }
  }

  private savedBackboneChoice(): BackboneChoice {
    try {
      const saved = JSON.parse(localStorage.getItem(BACKBONE_KEY) ?? 'null') as BackboneChoice | null;
      if (saved && (saved.kind === 'bundled' || saved.kind === 'known' || saved.kind === 'url')) return saved;
    } catch {
      // fall through to the default
    }
    return { kind: 'bundled' };
  }

  updateSettings(patch: Partial<UiSettings>): void {
    const settings = { ...this.state.settings, ...patch };
    this.update({ settings });
    try {
      localStorage.setItem(SETTINGS_KEY, JSON.stringify(settings));
    } catch {
      // private mode or full storage: settings just are not remembered
    }
  }

  /** The share of every class held out for validation (part of the data set, so checkpoints compare it). */
  async setValidationShare(share: number): Promise<void> {
    if (!(share >= 0 && share <= 0.9)) {
      this.patchData({ message: 'The validation share must be between 0 % and 90 %.' });
      return;
    }
    await this.ensureManifest();
    this.manifest = { ...this.manifest!, validationShare: share };
    await this.saveManifest();
    await this.refreshClasses();
  }

  // -------------------------------------------------------------------------------------------
  // Backbone

  private sourceOf(choice: BackboneChoice): BackboneSource {
    switch (choice.kind) {
      case 'bundled':
        return { kind: 'url', url: DEFAULT_BACKBONE_URL, id: BUNDLED_MODEL.id };
      case 'known': {
        const known = KNOWN_MODELS.find((m) => m.id === choice.id);
        if (!known) throw new Error(`Unknown model ${choice.id}.`);
        return { kind: 'url', url: known.url, id: known.id };
      }
      case 'url':
        return { kind: 'url', url: choice.url };
      case 'file':
        return { kind: 'file', file: choice.file, name: choice.file.name };
    }
  }

  chooseBackbone(choice: BackboneChoice): Promise<void> {
    const worker = this.worker;
    if (!worker) return Promise.resolve();
    if (this.state.run.phase === 'training' || this.state.run.phase === 'starting') {
      this.update({ backbone: { ...this.state.backbone, message: 'Pause or stop training before changing the backbone.' } });
      return Promise.resolve();
    }
    const previous = this.state.backbone;
    this.update({ backbone: { ...previous, status: 'loading', choice, progress: undefined, message: undefined } });
    const load = (async () => {
      try {
        const info = await worker.request({ type: 'loadBackbone', source: this.sourceOf(choice) });
        this.liveSession = false;
        this.update({
          backbone: { status: 'ready', choice, info, progress: undefined, message: undefined },
          model: { kind: 'none', classes: [], label: '' },
          prediction: { result: undefined, busy: false, message: undefined },
        });
        if (choice.kind !== 'file') localStorage.setItem(BACKBONE_KEY, JSON.stringify(choice));
        if (this.state.run.phase !== 'idle' && this.state.run.phase !== 'failed') this.patchRun({ phase: 'idle', message: undefined });
        await this.refreshResumable();
      } catch (error) {
        // The worker keeps the backbone it had when a new one fails to load: keep using it, and say so.
        if (previous.status === 'ready' && previous.info) {
          this.update({ backbone: { ...previous, message: `${messageOf(error)} Still using ${previous.info.label}.` } });
        } else {
          this.update({ backbone: { ...this.state.backbone, status: 'error', progress: undefined, message: messageOf(error) } });
        }
        throw error;
      }
    })();
    this.backboneReady = load.catch(() => undefined);
    return load.catch(() => undefined);
  }

  cancelDownload(): void {
    void this.worker?.request({ type: 'cancelDownload' });
  }

  private async requireBackbone(): Promise<BackboneInfo> {
    await this.backboneReady;
    const info = this.state.backbone.info;
    if (!info || this.state.backbone.status !== 'ready') throw new Error('No backbone is loaded: choose one first (the bundled one works offline).');
    return info;
  }

  // -------------------------------------------------------------------------------------------
  // Data

  private async refreshClasses(): Promise<void> {
    const manifest = this.manifest ?? (await this.samples.manifest());
    this.manifest = manifest;
    const old = new Map(this.state.data.classes.map((c) => [c.id, c]));
    const classes: ClassView[] = [];
    let total = 0;
    for (const info of manifest.classes) {
      const keys = await this.samples.keysOf(info.id);
      total += keys.length;
      const previous = old.get(info.id);
      let thumbnails = previous && previous.count === keys.length && previous.thumbnails.length ? previous.thumbnails : [];
      if (thumbnails.length < Math.min(THUMBNAILS, keys.length)) {
        const picked = await this.samples.get(keys.slice(0, THUMBNAILS));
        thumbnails = picked.map((s) => thumbnailUrl(s.rgb, s.size));
      }
      const validation = validationFlags(keys.length, manifest.validationShare).filter(Boolean).length;
      classes.push({ id: info.id, name: info.name, count: keys.length, validation, thumbnails });
    }
    this.patchData({
      classes,
      total,
      skipped: manifest.skipped,
      validationShare: manifest.validationShare,
      sampleLoaded: Boolean(manifest.sample),
    });
  }

  private async saveManifest(): Promise<void> {
    if (this.manifest) await this.samples.saveManifest(this.manifest);
  }

  private newClassId(): string {
    const m = this.manifest!;
    return `c${m.nextSeq++}`;
  }

  private classIdFor(name: string): string {
    const m = this.manifest!;
    const clean = name.trim() || 'unnamed';
    const found = m.classes.find((c) => c.name === clean);
    if (found) return found.id;
    const id = this.newClassId();
    m.classes = [...m.classes, { id, name: clean }];
    return id;
  }

  async addClass(name?: string): Promise<void> {
    await this.ensureManifest();
    const m = this.manifest!;
    let base = (name ?? '').trim() || `class ${m.classes.length + 1}`;
    let n = 2;
    const taken = new Set(m.classes.map((c) => c.name));
    const wanted = base;
    while (taken.has(base)) base = `${wanted} ${n++}`;
    m.classes = [...m.classes, { id: this.newClassId(), name: base }];
    await this.saveManifest();
    await this.refreshClasses();
  }

  async renameClass(id: string, name: string): Promise<void> {
    await this.ensureManifest();
    const m = this.manifest!;
    const clean = name.trim();
    if (!clean) {
      this.patchData({ message: 'A class needs a name.' });
      return;
    }
    if (m.classes.some((c) => c.name === clean && c.id !== id)) {
      this.patchData({ message: `There is already a class named "${clean}".` });
      return;
    }
    m.classes = m.classes.map((c) => (c.id === id ? { ...c, name: clean } : c));
    await this.saveManifest();
    this.patchData({ message: undefined });
    await this.refreshClasses();
  }

  async deleteClass(id: string): Promise<void> {
    await this.ensureManifest();
    const m = this.manifest!;
    const name = m.classes.find((c) => c.id === id)?.name;
    await this.samples.deleteClass(id);
    m.classes = m.classes.filter((c) => c.id !== id);
    await this.saveManifest();
    await this.refreshClasses();
    this.patchData({ message: name ? `Deleted the class "${name}" and its images.` : undefined });
  }

  async clearData(): Promise<void> {
    await this.samples.clear();
    this.manifest = { ...(await this.samples.manifest()), validationShare: this.state.data.validationShare };
    await this.saveManifest();
    this.patchData({ classes: [], skipped: [], total: 0, message: 'The data set is empty now.', sampleLoaded: false });
  }

  private async ensureManifest(): Promise<void> {
    this.manifest ??= await this.samples.manifest();
  }

  /** Runs one intake after another (they share the sequence counter and the manifest). */
  private intake(label: string, found: () => AsyncIterable<FoundFile>, targetClassId?: string): Promise<IntakeProgress | undefined> {
    const job = this.intakeChain.then(async () => {
      const worker = this.worker;
      try {
        await this.requireBackbone();
        if (!worker) throw new Error('WebGPU is not available in this browser, so images cannot be prepared.');
        await this.ensureManifest();
        const m = this.manifest!;
        this.patchData({ intake: { label, seen: 0, added: 0, skipped: 0, done: false }, message: undefined });
        const skippedNow: SkippedFile[] = [];
        const result = await runIntake(
          found(),
          {
            store: this.samples,
            prepare: (items) => worker.request({ type: 'prepare', items }),
            classId: (name) => this.classIdFor(name),
            nextSeq: () => m.nextSeq++,
            onProgress: (p) => this.patchData({ intake: { ...p, label } }),
            onSkipped: (s) => skippedNow.push(s),
            onAdded: (added) => this.noteAdded(added),
          },
          targetClassId,
        );
        m.skipped = [...m.skipped, ...skippedNow];
        await this.saveManifest();
        await this.refreshClasses();
        const skippedText = result.skipped ? `, skipped ${result.skipped} (see the list below)` : '';
        this.patchData({ intake: undefined, message: `${label}: added ${result.added} image${result.added === 1 ? '' : 's'}${skippedText}.` });
        return result;
      } catch (error) {
        await this.saveManifest().catch(() => undefined);
        await this.refreshClasses().catch(() => undefined);
        this.patchData({ intake: undefined, message: `${label} failed: ${messageOf(error)}` });
        return undefined;
      }
    });
    this.intakeChain = job;
    return job;
  }

  /** Live counts while an intake runs (thumbnails for classes that have few). */
  private noteAdded(added: StoredSample[]): void {
    const m = this.manifest!;
    const byId = new Map(this.state.data.classes.map((c) => [c.id, { ...c, thumbnails: [...c.thumbnails] }]));
    for (const s of added) {
      let view = byId.get(s.classId);
      if (!view) {
        const name = m.classes.find((c) => c.id === s.classId)?.name ?? s.classId;
        view = { id: s.classId, name, count: 0, validation: 0, thumbnails: [] };
        byId.set(s.classId, view);
      }
      view.count++;
      if (view.thumbnails.length < THUMBNAILS) view.thumbnails.push(thumbnailUrl(s.rgb, s.size));
    }
    const classes = m.classes.map((c) => byId.get(c.id) ?? { id: c.id, name: c.name, count: 0, validation: 0, thumbnails: [] });
    this.patchData({ classes, total: classes.reduce((n, c) => n + c.count, 0) });
  }

  addDropped(items: DroppedItem[], targetClassId?: string): Promise<IntakeProgress | undefined> {
    return this.intake(targetClassId ? 'Adding images' : 'Adding the dropped folder', () => walkDropped(items), targetClassId);
  }

  addFiles(files: File[], targetClassId?: string, label = 'Adding files'): Promise<IntakeProgress | undefined> {
    return this.intake(label, () => walkFileList(files), targetClassId);
  }

  addFound(found: () => AsyncIterable<FoundFile>, label: string, targetClassId?: string): Promise<IntakeProgress | undefined> {
    return this.intake(label, found, targetClassId);
  }

  async useSampleData(): Promise<void> {
    await this.ensureManifest();
    const m = this.manifest!;
    if (m.sample === this.sampleDataUrl && this.state.data.total > 0) {
      this.patchData({ message: 'The sample data is already in the data set.' });
      return;
    }
    const result = await this.intake('Loading the sample data', () => sampleDataFiles(this.sampleDataUrl));
    if (result && result.added > 0) {
      this.manifest!.sample = this.sampleDataUrl;
      await this.saveManifest();
      this.patchData({ sampleLoaded: true });
    }
  }

  clearSkipped(): void {
    if (!this.manifest) return;
    this.manifest.skipped = [];
    void this.saveManifest();
    this.patchData({ skipped: [] });
  }

  // -------------------------------------------------------------------------------------------
  // Training

  private runSettingsFrom(s: UiSettings): RunSettings {
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
        augment: s.augment ? { flip: true, randomResizedCrop: false } : undefined,
        logEvery: 5,
      },
      checkpointEvery: s.checkpointEvery,
    };
  }

  async train(): Promise<void> {
    const worker = this.worker;
    if (!worker) return;
    if (this.state.run.phase === 'training' || this.state.run.phase === 'starting') return;
    this.patchRun({ ...initialRun(), phase: 'starting', message: 'Preparing the data…' });
    try {
      await this.intakeChain;
      const backbone = await this.requireBackbone();
      await this.ensureManifest();
      const { samples, fingerprint } = await packSamples(this.samples, this.manifest!);
      const settings = this.runSettingsFrom(this.state.settings);
      const runId = `run-${Date.now().toString(36)}`;
      this.runSettings = settings;
      this.runFingerprint = fingerprint;
      this.patchRun({ runId, message: undefined });
      const started = await worker.request({ type: 'train', start: { runId, settings, samples } }, [samples.rgb.buffer, samples.sizes.buffer, samples.labels.buffer, samples.validation.buffer]);
      this.liveSession = true;
      this.patchRun({
        totalSteps: started.totalSteps,
        stepsPerEpoch: started.stepsPerEpoch,
        trainableParameters: started.trainableParameters,
        trainCount: started.trainCount,
        validationCount: started.validationCount,
      });
      this.update({ model: { kind: 'trained', classes: samples.classes, method: settings.adapter.method, label: `${settings.adapter.method} adapter being trained on ${backbone.label}` } });
      void requestPersistentStorage().then(() => this.refreshStorage());
    } catch (error) {
      this.patchRun({ phase: 'idle', message: messageOf(error), errorKind: error instanceof WorkerError ? error.kind : 'other' });
    }
  }

  pause(): void {
    if (this.state.run.phase === 'training') void this.worker?.request({ type: 'pause' });
  }

  async resume(): Promise<void> {
    const run = this.state.run;
    if (run.phase === 'paused' && this.liveSession) {
      try {
        await this.worker?.request({ type: 'resume' });
      } catch (error) {
        this.patchRun({ message: messageOf(error) });
      }
      return;
    }
    const from = run.resumable ?? this.state.checkpoints.list[0];
    if (from) await this.resumeCheckpoint(from.id);
    else this.patchRun({ message: 'There is no checkpoint to resume from: start training.' });
  }

  stop(): void {
    if (this.state.run.phase === 'training' || (this.state.run.phase === 'paused' && this.liveSession)) void this.worker?.request({ type: 'stop' });
  }

  async resumeCheckpoint(id: string): Promise<void> {
    const worker = this.worker;
    if (!worker) return;
    if (this.state.run.phase === 'training' || this.state.run.phase === 'starting') {
      this.patchRun({ message: 'Pause or stop the current run before resuming another.' });
      return;
    }
    this.patchRun({ phase: 'starting', message: 'Loading the checkpoint…' });
    try {
      await this.intakeChain;
      const checkpoint = await this.checkpoints.load(id);
      const { meta, data } = checkpoint;
      let backbone = this.state.backbone.info;
      if (!backbone || backbone.spec !== meta.backbone.spec) {
        if (!meta.backbone.url) throw new Error(`This checkpoint was trained on the backbone file "${meta.backbone.label}": choose that file as the backbone, then resume.`);
        const known = KNOWN_MODELS.find((m) => m.id === meta.backbone.spec);
        await this.chooseBackbone(meta.backbone.url === DEFAULT_BACKBONE_URL ? { kind: 'bundled' } : known ? { kind: 'known', id: known.id } : { kind: 'url', url: meta.backbone.url });
        backbone = this.state.backbone.info;
        if (!backbone || backbone.spec !== meta.backbone.spec) throw new Error(`The checkpoint's backbone ${meta.backbone.label} could not be loaded.`);
      }
      await this.ensureManifest();
      const { samples, fingerprint } = await packSamples(this.samples, this.manifest!);
      if (fingerprint !== meta.fingerprint) {
        throw new Error(
          `The data set changed since this checkpoint was saved (${meta.fingerprint.split('-')[1]} images then, ${samples.count} now, or other classes or split): ` +
            'resuming needs the same images. Restore them, or start a new run with Train.',
        );
      }
      this.runSettings = meta.settings;
      this.runFingerprint = fingerprint;
      this.patchRun({
        ...initialRun(),
        phase: 'starting',
        runId: meta.runId,
        step: meta.step,
        totalSteps: meta.totalSteps,
        metrics: data.state.history,
        accuracy: data.accuracy,
        message: undefined,
      });
      const started = await worker.request(
        { type: 'train', start: { runId: meta.runId, settings: meta.settings, samples, resume: { state: data.state, accuracy: data.accuracy } } },
        [samples.rgb.buffer, samples.sizes.buffer, samples.labels.buffer, samples.validation.buffer],
      );
      this.liveSession = true;
      this.patchRun({ totalSteps: started.totalSteps, stepsPerEpoch: started.stepsPerEpoch, trainableParameters: started.trainableParameters, trainCount: started.trainCount, validationCount: started.validationCount });
      this.update({ model: { kind: 'trained', classes: meta.classes, method: meta.settings.adapter.method, label: `${meta.settings.adapter.method} adapter resumed at step ${meta.step}` } });
    } catch (error) {
      this.patchRun({ phase: 'idle', message: messageOf(error), errorKind: error instanceof WorkerError ? error.kind : 'other' });
      await this.refreshResumable();
    }
  }

  async deleteCheckpoint(id: string): Promise<void> {
    await this.checkpoints.delete(id);
    await this.refreshCheckpoints();
  }

  private async refreshCheckpoints(): Promise<void> {
    try {
      const { list, unreadable } = await this.checkpoints.inspect();
      this.update({ checkpoints: { ...this.state.checkpoints, list, message: describeUnreadable(unreadable) ?? this.state.checkpoints.message } });
      await this.refreshResumable();
    } catch (error) {
      this.update({ checkpoints: { ...this.state.checkpoints, message: `Saved checkpoints could not be read (${messageOf(error)}).` } });
    }
    await this.refreshStorage();
  }

  private async refreshStorage(): Promise<void> {
    try {
      this.update({ checkpoints: { ...this.state.checkpoints, storage: await storageUse() } });
    } catch {
      // estimate() is best effort
    }
  }

  /** After a reload (or a lost device), the newest checkpoint is what Resume continues from. */
  private async refreshResumable(): Promise<void> {
    const run = this.state.run;
    if (run.phase === 'training' || run.phase === 'starting' || (run.phase === 'paused' && this.liveSession)) return;
    const list = this.state.checkpoints.list;
    const resumable = (run.runId ? list.find((c) => c.runId === run.runId) : undefined) ?? list.find((c) => c.step < c.totalSteps);
    if (resumable && run.phase === 'idle' && run.metrics.length === 0) {
      // Show the saved run's curves so the page looks as it was.
      try {
        const { data } = await this.checkpoints.load(resumable.id);
        this.patchRun({ resumable, runId: resumable.runId, step: resumable.step, totalSteps: resumable.totalSteps, metrics: data.state.history, accuracy: data.accuracy });
        return;
      } catch {
        // listed but unreadable: offer it anyway; resuming will say what is wrong
      }
    }
    this.patchRun({ resumable });
  }

  private saveCheckpoint(event: Extract<WorkerEvent, { kind: 'checkpoint' }>): void {
    const settings = this.runSettings;
    const backbone = this.state.backbone.info;
    if (!settings || !backbone) return;
    const choice = this.state.backbone.choice;
    const url = choice.kind === 'file' ? undefined : (this.sourceOf(choice) as { url: string }).url;
    const last = event.state.history.at(-1);
    const acc = event.accuracy.at(-1);
    const job = this.saveChain.then(async () => {
      this.update({ checkpoints: { ...this.state.checkpoints, saving: true } });
      try {
        await this.checkpoints.save(
          {
            runId: event.runId,
            createdAt: Date.now(),
            reason: event.reason,
            step: event.state.step,
            totalSteps: this.state.run.totalSteps || last?.totalSteps || event.state.step,
            epoch: last?.epoch ?? 0,
            settings,
            classes: this.state.model.classes,
            fingerprint: this.runFingerprint,
            backbone: { spec: backbone.spec, label: backbone.label, url },
            loss: last?.loss,
            validationAccuracy: acc?.validation,
          },
          { state: event.state, accuracy: event.accuracy },
        );
        this.update({ checkpoints: { ...this.state.checkpoints, saving: false, message: undefined } });
      } catch (error) {
        const text = error instanceof CheckpointError ? error.message : `The checkpoint could not be saved: ${messageOf(error)}`;
        this.update({ checkpoints: { ...this.state.checkpoints, saving: false, message: text } });
      }
      await this.refreshCheckpoints();
    });
    this.saveChain = job;
  }

  private onWorkerEvent(e: WorkerEvent): void {
    switch (e.kind) {
      case 'download':
        this.update({ backbone: { ...this.state.backbone, progress: { loaded: e.loaded, total: e.total } } });
        return;
      case 'metrics':
        if (e.runId !== this.state.run.runId) return;
        this.patchRun({ metrics: [...this.state.run.metrics, e.metrics], step: e.metrics.step, totalSteps: e.metrics.totalSteps });
        return;
      case 'accuracy':
        if (e.runId !== this.state.run.runId) return;
        this.patchRun({ accuracy: [...this.state.run.accuracy, e.point] });
        return;
      case 'evaluation':
        if (e.runId !== this.state.run.runId) return;
        this.patchRun({ evaluation: { evaluation: e.evaluation, on: e.on } });
        return;
      case 'checkpoint':
        this.saveCheckpoint(e);
        return;
      case 'runState': {
        if (e.runId !== this.state.run.runId) return;
        const phase = e.state === 'failed' && e.errorKind === 'deviceLost' ? 'failed' : e.state;
        // 'runState' and 'deviceLost' can arrive in either order: both say how to go on.
        const message = e.errorKind === 'deviceLost' && e.message ? withResumeHint(e.message) : e.message;
        this.patchRun({ phase, step: e.step, totalSteps: e.totalSteps, message, errorKind: e.errorKind });
        if (e.state === 'failed') {
          this.liveSession = false;
          void this.saveChain.then(() => this.refreshResumable());
        }
        return;
      }
      case 'deviceLost': {
        this.liveSession = false;
        const wasTraining = this.state.run.phase === 'training' || this.state.run.phase === 'paused' || this.state.run.phase === 'starting';
        this.update({ model: { kind: 'none', classes: [], label: '' } });
        this.patchRun({
          phase: wasTraining ? 'failed' : this.state.run.phase,
          errorKind: 'deviceLost',
          message: wasTraining ? withResumeHint(e.message) : e.message,
        });
        void this.saveChain.then(() => this.refreshResumable());
        return;
      }
    }
  }

  // -------------------------------------------------------------------------------------------
  // Export, import, predictions

  async exportAs(format: 'native' | 'peft' | 'merged'): Promise<void> {
    const worker = this.worker;
    if (!worker) return;
    const what = format === 'native' ? 'adapter' : format === 'peft' ? 'PEFT adapter' : 'merged model';
    this.update({ exporting: format, exportMessage: `Exporting the ${what}…` });
    try {
      const file = await worker.request({ type: 'export', format });
      const url = URL.createObjectURL(file.blob);
      const a = document.createElement('a');
      a.href = url;
      a.download = file.filename;
      a.style.display = 'none';
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60_000);
      this.update({ exporting: undefined, exportMessage: `Saved ${file.filename} (${Math.max(1, Math.round(file.blob.size / 1000))} kB) to your downloads.` });
    } catch (error) {
      this.update({ exporting: undefined, exportMessage: messageOf(error) });
    }
  }

  async importAdapter(file: File): Promise<void> {
    const worker = this.worker;
    if (!worker) return;
    this.update({ exportMessage: `Importing ${file.name}…` });
    try {
      await this.requireBackbone();
      const imported = await worker.request({ type: 'importAdapter', file, name: file.name });
      this.liveSession = false;
      if (this.state.run.phase === 'paused') this.patchRun({ phase: 'stopped' });
      this.update({
        model: { kind: 'imported', classes: imported.classes, method: imported.method, label: `${imported.method} adapter from ${file.name} (${imported.classes.length} classes)` },
        exportMessage: `Imported ${file.name}: a ${imported.method} adapter for ${imported.classes.length} classes. Try it below.`,
        prediction: { result: undefined, busy: false, message: undefined },
      });
    } catch (error) {
      this.update({ exportMessage: `${file.name} could not be imported: ${messageOf(error)}` });
    }
  }

  /** Top-5 for one image; frames that arrive while one is in flight are dropped (live webcam). */
  async predict(image: Blob): Promise<void> {
    const worker = this.worker;
    if (!worker || this.state.prediction.busy) return;
    this.update({ prediction: { ...this.state.prediction, busy: true } });
    try {
      await this.requireBackbone();
      const result = await worker.request({ type: 'predict', image });
      this.update({ prediction: { result, busy: false, message: undefined } });
    } catch (error) {
      this.update({ prediction: { result: undefined, busy: false, message: messageOf(error) } });
    }
  }

  /** Tests: makes the worker lose its GPU device as a driver reset would. */
  async simulateDeviceLoss(): Promise<void> {
    await this.worker?.request({ type: 'loseDevice' });
  }
}

const RESUME_HINT = ' Press Resume to continue from the last checkpoint.';

function withResumeHint(message: string): string {
  return message.endsWith(RESUME_HINT) ? message : `${message}${RESUME_HINT}`;
}
