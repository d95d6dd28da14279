// The app's state as the components render it: one plain object of slices (GPU, backbone, data, settings,
// run, checkpoints, model, exports, predictions), with the types and defaults components import.
import { DEFAULT_ADAPTER_SETTINGS, type Method, type Target } from '../clora/settings';
import type { IntakeProgress, SkippedFile } from '../data/intake';
import type { SampleKind } from '../data/sample-kind';
import type { DeviceKind } from '../gpu/profile';
import type { CheckpointMeta, StorageUse } from '../io/checkpoints';
import type { EvaluatedSample, Evaluation } from '../train/evaluate';
import type { TopClass } from '../train/predict';
import { DEFAULT_TRAIN_OPTIONS, type TrainMetrics } from '../train/trainer';
import type { AccuracyPoint, BackboneInfo, ErrorKind, ExportFormat, GpuUsage, Prediction, RunState } from '../worker/protocol';

export type { ExportFormat };

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
  /** Epochs of quick mode (the head on cached features: each epoch takes a fraction of a second). */
  quickEpochs: number;
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
  quickEpochs: 30,
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

export type GpuState = { kind: 'checking' } | { kind: 'ready'; adapter: string; features: string[]; profile: { kind: DeviceKind; reason: string } } | { kind: 'error'; message: string };

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

/**
 * One sample of a confusion-matrix cell: its key, a thumbnail of its stored pixels (an image) or its points
 * (a cloud, [P, 3]), and its top predictions.
 */
export interface CellImage {
  key: string;
  thumbnail: string;
  cloud?: Float32Array;
  top: TopClass[];
}

/** The images the evaluation counted under one cell of the confusion matrix (true class, predicted class). */
export interface ConfusionCell {
  actual: number;
  predicted: number;
  /** Images in the cell; at most CELL_IMAGES of them are shown. */
  count: number;
  images: CellImage[];
  loading: boolean;
}

export interface RunEvaluation {
  evaluation: Evaluation;
  on: 'validation' | 'training';
  /** Each evaluated image's top predictions, by its position in the evaluated set. */
  samples: EvaluatedSample[];
}

export interface RunView {
  phase: RunPhase;
  runId: string | undefined;
  step: number;
  totalSteps: number;
  stepsPerEpoch: number;
  metrics: TrainMetrics[];
  accuracy: AccuracyPoint[];
  evaluation: RunEvaluation | undefined;
  /** The confusion-matrix cell opened to see its images. */
  cell: ConfusionCell | undefined;
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
  /** Quick mode: the head trained on cached backbone features. */
  quick: boolean;
  /** Quick mode's feature pass: images done of total, of which cached from an earlier run. */
  features: { done: number; total: number; cached: number } | undefined;
  /** Wall-clock seconds from Train to the end of the run in this tab (set when it is done). */
  seconds: number | undefined;
  /** What the worker's GPU held at the latest metrics (flat over a long session once warm; the page soak reads it). */
  gpu: GpuUsage | undefined;
}

export interface CheckpointsState {
  list: CheckpointMeta[];
  storage: StorageUse | undefined;
  message: string | undefined;
  saving: boolean;
}

export interface ModelState {
  kind: 'none' | 'trained' | 'imported' | 'checkpoint';
  classes: string[];
  /** Which model predicts and exports, in words: "checkpoint at step 6 of run …", "imported clora adapter …". */
  label: string;
  /** The saved checkpoint this model comes from (kind 'checkpoint'). */
  checkpointId?: string;
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
  project: ProjectState;
  camera: CameraPrefs;
}

/** The webcam as the user set it up (remembered between visits): which camera, mirrored, frames per second. */
export interface CameraPrefs {
  /** The chosen camera's deviceId; undefined: the browser's default. */
  deviceId: string | undefined;
  /** Show and record the picture mirrored, as a selfie camera shows it. */
  mirror: boolean;
  /** Frames recorded per second while "Hold to record" is held. */
  fps: number;
}

export const DEFAULT_CAMERA: CameraPrefs = { deviceId: undefined, mirror: false, fps: 5 };

/** Saving, opening or exporting a project (one zip with the images, settings and latest checkpoint). */
export interface ProjectState {
  busy: 'saving' | 'opening' | 'exporting' | undefined;
  /** Images written or read so far, of how many. */
  progress: { done: number; total: number } | undefined;
  message: string | undefined;
  /** The message says why a project could not be opened or saved. */
  failed: boolean;
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
    cell: undefined,
    message: undefined,
    errorKind: undefined,
    trainableParameters: 0,
    trainCount: 0,
    validationCount: 0,
    resumable: undefined,
    live: false,
    quick: false,
    features: undefined,
    gpu: undefined,
    seconds: undefined,
  };
}

/** No model to predict or export with yet (the backbone's own head answers Try it). */
export const NO_MODEL: ModelState = { kind: 'none', classes: [], label: '' };
export const NO_PREDICTION: PredictionState = { result: undefined, busy: false, message: undefined };

/** The app before anything is loaded: saved settings and backbone choice, empty data, no run. */
export function initialState(settings: UiSettings, choice: BackboneChoice, version: string, camera: CameraPrefs = DEFAULT_CAMERA): AppState {
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
    project: { busy: undefined, progress: undefined, message: undefined, failed: false },
    camera,
  };
}

