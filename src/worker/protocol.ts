// The typed messages between the page and the training worker (src/worker/): plain objects,
// Blobs and typed arrays only, so every message survives structured cloning; large arrays are transferred.
//
// Requests carry an `id`; the worker answers each with exactly one `reply` (ok or error) carrying the same
// id. Events (progress, metrics, checkpoints, device loss) flow from the worker at any time without an id.
import type { AdapterSettings } from '../clora/settings';
import type { DeviceKind } from '../gpu/profile';
import type { PreprocessParams } from '../data/preprocess';
import type { Evaluation } from '../train/evaluate';
import type { TopClass } from '../train/predict';
import type { EvaluatedSample } from '../train/evaluate';
import type { TrainingState, TrainMetrics, TrainOptions } from '../train/trainer';
import type { CheckpointRun } from '../io/checkpoint-file';

/** Where the backbone comes from: a URL (bundled file or hub, cached with the Cache API) or a file the user chose. */
export type BackboneSource = { kind: 'url'; url: string; id?: string } | { kind: 'file'; file: Blob; name: string };

/** What every kind of backbone tells the page. */
interface BackboneInfoCommon {
  /** What the adapter files name as base model (known-model id, URL or file name). */
  spec: string;
  label: string;
  depth: number;
  dim: number;
  heads: number;
  parameters: number;
  /** Classes of the backbone's own head (from metadata), when it has one. */
  headClasses: string[];
  fromCache: boolean;
}

/** The loaded backbone and the input it takes: images (a timm ViT) or point clouds (Point-MAE's transformer). */
export type BackboneInfo = BackboneInfoCommon &
  (
    | { kind: 'vit'; imageSize: number; preprocess: PreprocessParams }
    | {
        kind: 'point';
        /** P: every cloud is brought to this many points. */
        points: number;
        groups: number;
        groupSize: number;
      }
  );

/** One file to prepare: decoded, resized and centre-cropped to the model's input, as 8-bit RGB. */
export interface PrepareItem {
  key: string;
  name: string;
  blob: Blob;
}

export type PrepareResult = { key: string; ok: true; size: number; rgb: Uint8Array<ArrayBuffer> } | { key: string; ok: false; name: string; reason: string };

/** A point file read, brought to the model's P points and normalised, as the page stores it (src/data/points/quantize.ts). */
export type PreparedCloud = { key: string; ok: true; count: number; points: Int16Array<ArrayBuffer> } | { key: string; ok: false; name: string; reason: string };

/**
 * Samples packed for training: `rgb` holds `count` images of `sizes[i]`² RGB bytes in a row (sizes may
 * differ when the data was added under another backbone); labels index `classes`.
 */
export interface PackedSamples {
  classes: string[];
  count: number;
  /** Each sample's key in the page's store (class id / sequence), in packed order. */
  keys: string[];
  sizes: Int32Array<ArrayBuffer>;
  rgb: Uint8Array<ArrayBuffer>;
  labels: Int32Array<ArrayBuffer>;
  /** 1 for validation samples, 0 for training ones. */
  validation: Uint8Array<ArrayBuffer>;
}

/**
 * Point clouds packed for training: `points` holds `count` quantised clouds of `counts[i]` points [P, 3] in a
 * row (counts may differ when the data was added under another point backbone); labels index `classes`.
 */
export interface PackedClouds {
  kind: 'points';
  classes: string[];
  count: number;
  /** Each sample's key in the page's store (class id / sequence), in packed order. */
  keys: string[];
  counts: Int32Array<ArrayBuffer>;
  points: Int16Array<ArrayBuffer>;
  labels: Int32Array<ArrayBuffer>;
  /** 1 for validation samples, 0 for training ones. */
  validation: Uint8Array<ArrayBuffer>;
}

/** Either kind of packed data set. */
export type PackedData = PackedSamples | PackedClouds;

export function isPackedClouds(data: PackedData): data is PackedClouds {
  return (data as PackedClouds).kind === 'points';
}

/** The buffers of a packed data set, to transfer rather than copy. */
export function packedBuffers(data: PackedData): ArrayBuffer[] {
  return isPackedClouds(data) ? [data.points.buffer, data.counts.buffer, data.labels.buffer, data.validation.buffer] : [data.rgb.buffer, data.sizes.buffer, data.labels.buffer, data.validation.buffer];
}

/** The web app's training choices: the engine's settings plus what the app adds (checkpoint interval, split). */
export interface RunSettings {
  adapter: AdapterSettings;
  train: TrainOptions;
  /** Save a checkpoint every this many steps (also on pause and stop). */
  checkpointEvery: number;
  /**
   * Quick mode: the head alone (method `head`) trained on the backbone's features, computed once per image
   * and cached, instead of running the backbone at every step. Same head, same AdamW, same sampler.
   */
  quick?: boolean;
}

/** The serialisable training state a checkpoint keeps: exactly what the trainer's `state()` gives. */
export type CheckpointState = TrainingState;

export interface AccuracyPoint {
  step: number;
  epoch: number;
  train: number;
  validation: number | undefined;
}

export interface TrainStart {
  runId: string;
  settings: RunSettings;
  samples: PackedData;
  /** Continue from this state (a checkpoint) instead of the method's initialisation. */
  resume?: { state: CheckpointState; accuracy: AccuracyPoint[] };
  /** Start from the head of the model the worker holds (a quick run's), like the command line's --init. */
  initHeadFromHeld?: boolean;
  /** Which model this is, as Try it names it ("clora adapter being trained on …"). */
  label: string;
}

export interface Prediction {
  classes: string[];
  /** Top classes, most likely first, with softmax probabilities. */
  top: TopClass[];
  /** Where the prediction's weights came from. */
  model: ModelSource;
  /** Which model answered, in words ("the backbone's own head", "checkpoint at step 6 of run …"). */
  label: string;
  /** A point backbone's input: the cloud as the model took it, [P, 3] normalised (Try it shows it). */
  cloud?: Float32Array<ArrayBuffer>;
}

export type ModelSource = 'trained' | 'imported' | 'checkpoint' | 'backbone head';

/** A model to predict and export with, from weights the page holds (a saved checkpoint). */
export interface ModelWeights {
  settings: AdapterSettings;
  classes: string[];
  /** Trainable tensors in the engine's internal layout (what a checkpoint's state holds). */
  tensors: Map<string, Float32Array>;
  source: ModelSource;
  label: string;
}

/** The files the page can export: native adapter, PEFT pair, merged safetensors, merged ONNX. */
export type ExportFormat = 'native' | 'peft' | 'merged' | 'onnx';

export interface ExportedFile {
  blob: Blob;
  filename: string;
}

export interface ImportedAdapter {
  method: string;
  /** What Try it calls it ("imported clora adapter my-adapter.safetensors (3 classes)"). */
  label: string;
  classes: string[];
  settings: AdapterSettings;
  metadata: Record<string, string>;
}

/** What the worker's GPU holds (src/worker/gpu-usage.ts): flat over a long session once warm. */
export interface GpuUsage {
  /** Bytes the buffer pool has allocated, and of those in use now. */
  poolBytes: number;
  poolInUseBytes: number;
  /** createBuffer calls the pool has made. */
  poolAllocations: number;
  /** GPU buffers alive on the device (created, not yet destroyed). */
  liveBuffers: number;
  /** Compiled pipelines. */
  pipelines: number;
}

export type WorkerRequest =
  /**
   * Starts the worker (finds the GPU). It first takes the Web Lock `lock` and holds it while it lives: the
   * browser releases it only when the worker ends, which is how the page learns that it ended.
   */
  | { type: 'init'; lock: string }
  | { type: 'loadBackbone'; source: BackboneSource }
  | { type: 'cancelDownload' }
  | { type: 'prepare'; items: PrepareItem[]; exact?: boolean }
  /** Point files read, brought to the point backbone's P points and quantised (src/worker/points.ts). */
  | { type: 'preparePoints'; items: PrepareItem[] }
  | { type: 'train'; start: TrainStart }
  | { type: 'pause' }
  | { type: 'resume' }
  | { type: 'stop' }
  | { type: 'predict'; image: Blob }
  | { type: 'predictCloud'; file: Blob; name: string }
  | { type: 'export'; format: ExportFormat }
  | { type: 'importAdapter'; file: Blob; name: string }
  | { type: 'useWeights'; weights: ModelWeights }
  /** A run's state as a checkpoint file for the loaded backbone (a project's checkpoint.safetensors). */
  | { type: 'writeCheckpointFile'; run: Omit<CheckpointRun, 'backbone'> }
  | { type: 'readCheckpointFile'; file: Blob; name: string }
  /** Tests: destroys the device as a driver reset would. */
  | { type: 'loseDevice' };

export type RequestType = WorkerRequest['type'];

/** What each request resolves with. */
export interface ReplyValue {
  /** The adapter's name, its features worth naming, and its device profile (src/gpu/profile.ts). */
  init: { adapter: string; features: string[]; profile: { kind: DeviceKind; reason: string } };
  loadBackbone: BackboneInfo;
  cancelDownload: null;
  prepare: PrepareResult[];
  preparePoints: PreparedCloud[];
  train: { totalSteps: number; stepsPerEpoch: number; trainableParameters: number; trainCount: number; validationCount: number };
  pause: null;
  resume: null;
  stop: null;
  predict: Prediction;
  predictCloud: Prediction;
  export: ExportedFile;
  importAdapter: ImportedAdapter;
  useWeights: null;
  writeCheckpointFile: Blob;
  readCheckpointFile: CheckpointRun;
  loseDevice: null;
}

export type RequestMessage = WorkerRequest & { id: number };

/** What sort of problem an error is ('workerLost': the page's own, when the worker itself ended). */
export type ErrorKind = 'deviceLost' | 'workerLost' | 'gpuUnavailable' | 'settings' | 'data' | 'diverged' | 'download' | 'other';

export interface ReplyMessage {
  kind: 'reply';
  id: number;
  ok: boolean;
  value?: unknown;
  error?: { message: string; kind: ErrorKind };
}

export type RunState = 'training' | 'paused' | 'stopped' | 'done' | 'failed';

export type WorkerEvent =
  | { kind: 'download'; loaded: number; total: number | undefined }
  | { kind: 'metrics'; runId: string; metrics: TrainMetrics; gpu: GpuUsage }
  | { kind: 'accuracy'; runId: string; point: AccuracyPoint }
  | { kind: 'evaluation'; runId: string; evaluation: Evaluation; on: 'validation' | 'training'; samples: EvaluatedSample[] }
  /** Quick mode: the backbone's features, image by image (those already cached count as done). */
  | { kind: 'features'; runId: string; done: number; total: number; cached: number }
  | { kind: 'checkpoint'; runId: string; reason: 'interval' | 'pause' | 'stop' | 'done'; state: CheckpointState; accuracy: AccuracyPoint[] }
  | { kind: 'runState'; runId: string; state: RunState; step: number; totalSteps: number; message?: string; errorKind?: ErrorKind }
  | { kind: 'deviceLost'; message: string };

export type WorkerMessage = ReplyMessage | WorkerEvent;

/** Buffers of the typed arrays in `values` (each once), for a postMessage transfer list. */
export function transferablesOf(values: Iterable<ArrayBufferView>): ArrayBuffer[] {
  const seen = new Set<ArrayBuffer>();
  for (const v of values) if (v.buffer instanceof ArrayBuffer && v.byteLength === v.buffer.byteLength) seen.add(v.buffer);
  return [...seen];
}
