// The app's state as the components render it: one plain object of slices (GPU, backbone, data, settings,
// run, checkpoints, model, exports, predictions), with the types and defaults components import.
import { DEFAULT_ADAPTER_SETTINGS, type Method, type Target } from '../clora/settings';
import type { IntakeProgress, SkippedFile } from '../data/intake';
import type { SampleKind } from '../data/sample-kind';
import type { CheckpointMeta, StorageUse } from '../io/checkpoints';
import type { Evaluation } from '../train/evaluate';
import { DEFAULT_TRAIN_OPTIONS, type TrainMetrics } from '../train/trainer';
import type { AccuracyPoint, BackboneInfo, ErrorKind, Prediction, RunState } from '../worker/protocol';

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
  /** Image URLs of a few samples (an image data set). */
  thumbnails: string[];
  /** A few clouds [P, 3], normalised, for 3-D previews (a point data set). */
  clouds?: Float32Array[];
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
  /** What the stored samples are; undefined while the data set is empty (either kind may come). */
  kind?: SampleKind;
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
  /**
   * The worker still holds this run: Pause, Resume and Stop reach it. False before it starts, and after a
   * reload, a lost device, another backbone or an imported adapter (Resume then continues from a checkpoint).
   */
  live: boolean;
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
  /** The export being written, if any. */
  exporting: ExportFormat | undefined;
  exportMessage: string | undefined;
  prediction: PredictionState;
  site: SiteState;
}

/** The site itself: its version, whether it is saved for offline use, and whether a newer version waits. */
export interface SiteState {
  version: string;
  offlineReady: boolean;
  updateReady: boolean;
  /** The user asked for the new version; the page reloads once it has taken over. */
  updating: boolean;
  message: string | undefined;
}

export type ExportFormat = 'native' | 'peft' | 'merged';

export interface PredictionState {
  result: Prediction | undefined;
  busy: boolean;
  message: string | undefined;
}

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
    live: false,
  };
}

/** No model to predict or export with yet (the backbone's own head answers Try it). */
export const NO_MODEL: ModelState = { kind: 'none', classes: [], label: '' };
export const NO_PREDICTION: PredictionState = { result: undefined, busy: false, message: undefined };

/** The app before anything is loaded: saved settings and backbone choice, empty data, no run. */
export function initialState(settings: UiSettings, choice: BackboneChoice, version: string): AppState {
  return {
    gpu: { kind: 'checking' },
    backbone: { status: 'idle', choice, info: undefined, progress: undefined, message: undefined },
    data: { classes: [], skipped: [], validationShare: 0.2, total: 0, intake: undefined, message: undefined, sampleLoaded: false },
    settings,
    run: initialRun(),
    checkpoints: { list: [], storage: undefined, message: undefined, saving: false },
    model: NO_MODEL,
    exporting: undefined,
    exportMessage: undefined,
    prediction: NO_PREDICTION,
    site: { version, offlineReady: false, updateReady: false, updating: false, message: undefined },
  };
}

