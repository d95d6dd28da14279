// The training worker: owns the GPU device, the backbone, the model being trained or imported, and the
// trainer, so the page's main thread never runs engine work. It answers the requests of protocol.ts and
// streams events (download progress, metrics, accuracy, checkpoints, run state, device loss).
//
// Only one Tape may record on a device at a time; every GPU section here is synchronous up to the point
// where its reads are submitted, so predictions and intake can interleave with training safely.
import { Tape } from '../autodiff/tape';
import { Tensor } from '../autodiff/tensor';
import { mergedExport, peftExport } from '../clora/export';
import { modelFile, readAdapterFile, type AdapterFile } from '../clora/files';
import { createFineTuneModel, initialTensors, trainableParameterCount, type FineTuneModel } from '../clora/model';
import { DEFAULT_ADAPTER_SETTINGS, SettingsError, validateAdapterSettings } from '../clora/settings';
import { copyImage, DatasetError, sampleSize, type Dataset } from '../data/dataset';
import { decodeImageBlob } from '../data/decode-browser';
import { ImageDecodeError, preprocessImages, preprocessInto, type PreprocessParams, type RgbaImage } from '../data/preprocess';
import { createBrowserGpuContext } from '../gpu/browser';
import { adapterName, type GpuContext } from '../gpu/context';
import { DeviceLostError, GpuUnavailableError, ShapeError } from '../gpu/errors';
import { DownloadError, fetchCached, type WeightCache } from '../io/download';
import { browserWeightCache } from '../io/download-browser';
import { blobSource, openSafetensors, SafetensorsError, writeSafetensors, type SafetensorsFile } from '../io/safetensors';
import { zipFiles } from '../io/zip';
import { imageBackbone, readBackboneMeta } from '../nn/backbone-meta';
import { findKnownModel } from '../nn/models';
import { tokenCount, type BackboneConfig } from '../nn/backbone';
import { vitShapes, type VitConfig } from '../nn/vit';
import { evaluate } from './evaluate';
import type {
  AccuracyPoint,
  BackboneInfo,
  BackboneSource,
  CheckpointState,
  ErrorKind,
  ExportedFile,
  ImportedAdapter,
  PackedSamples,
  PrepareItem,
  PrepareResult,
  Prediction,
  ReplyMessage,
  ReplyValue,
  RequestMessage,
  RunState,
  TrainStart,
  WorkerEvent,
} from './protocol';
import { transferablesOf } from './protocol';
import { Rng } from './rng';
import { Trainer, TrainingDiverged, type TrainMetrics } from './trainer';

interface WorkerScope {
  postMessage(message: unknown, transfer?: Transferable[]): void;
  onmessage: ((event: MessageEvent<RequestMessage>) => void) | null;
}
const scope = self as unknown as WorkerScope;

function emit(event: WorkerEvent, transfer: Transferable[] = []): void {
  scope.postMessage(event, transfer);
}

/** Images decoded and resized per GPU submission during intake. */
const CHUNK = 16;
/** Images per forward pass in evaluation: as many as keep one activation under ~16 MB, from 8 to 64. */
function evalChunk(cfg: BackboneConfig): number {
  return Math.max(8, Math.min(64, Math.floor((4 << 20) / (tokenCount(cfg) * Math.max(cfg.dim, cfg.mlpDim / 4)))));
}
/** Training samples scored for the "train accuracy" curve at each epoch end. */
const TRAIN_ACCURACY_SAMPLES = 128;

interface LoadedBackbone {
  info: BackboneInfo;
  file: SafetensorsFile;
  cfg: VitConfig;
  read(name: string): Promise<Float32Array>;
  describe(): Record<string, string>;
}

interface Session {
  runId: string;
  model: FineTuneModel;
  trainer: Trainer;
  train: Dataset;
  validation: Dataset | undefined;
  checkpointEvery: number;
  accuracy: AccuracyPoint[];
  userPause: boolean;
  state: RunState;
  resume: (() => void) | undefined;
  lastSavedStep: number;
}

let ctx: GpuContext | undefined;
let backbone: LoadedBackbone | undefined;
let session: Session | undefined;
/** The model predictions and exports use: the run being trained, or an imported adapter. */
let current: { model: FineTuneModel; source: 'trained' | 'imported' } | undefined;
let headModel: FineTuneModel | undefined;
let download: AbortController | undefined;

async function context(): Promise<GpuContext> {
  if (ctx && !ctx.lostError) return ctx;
  const fresh = await createBrowserGpuContext();
  fresh.onLost((error) => {
    if (ctx !== fresh) return;
    // Everything on the device is gone; the backbone file itself is still here for a fresh device.
    ctx = undefined;
    current = undefined;
    headModel = undefined;
    const lostSession = session;
    session = undefined;
    lostSession?.resume?.();
    emit({ kind: 'deviceLost', message: error.message });
  });
  ctx = fresh;
  return fresh;
}

function errorKind(error: unknown): ErrorKind {
  if (error instanceof DeviceLostError) return 'deviceLost';
  if (error instanceof GpuUnavailableError) return 'gpuUnavailable';
  if (error instanceof SettingsError || error instanceof ShapeError) return 'settings';
  if (error instanceof DatasetError || error instanceof ImageDecodeError) return 'data';
  if (error instanceof TrainingDiverged) return 'diverged';
  if (error instanceof DownloadError || error instanceof SafetensorsError) return 'download';
  return 'other';
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function requireBackbone(): LoadedBackbone {
  if (!backbone) throw new SettingsError('No backbone is loaded yet: choose one (the bundled one works offline) and try again.');
  return backbone;
}

// ---------------------------------------------------------------------------------------------
// Backbone

/** A cache that keeps nothing: fetchCached then just downloads (with its checks and progress). */
const uncached: WeightCache<Blob> = {
  get: async () => undefined,
  put: async (_url, body) => new Response(body).blob(),
  delete: async () => undefined,
};

async function loadBackbone(source: BackboneSource): Promise<BackboneInfo> {
  let blob: Blob;
  let spec: string;
  let fromCache = false;
  const known = source.kind === 'url' ? findKnownModel(source.id ?? source.url) : undefined;
  if (source.kind === 'url') {
    download?.abort();
    const controller = new AbortController();
    download = controller;
    let last = 0;
    try {
      // Files of the app's own site (the bundled backbone) are fetched as they are, so an updated file is
      // never shadowed by an old cached copy; other sites' files are downloaded once into the cache.
      const sameSite = new URL(source.url, location.href).origin === location.origin;
      const got = await fetchCached(source.url, sameSite ? uncached : browserWeightCache, {
        signal: controller.signal,
        onProgress: ({ loaded, total }) => {
          const now = performance.now();
          if (now - last < 100 && loaded !== total) return;
          last = now;
          emit({ kind: 'download', loaded, total });
        },
      });
      blob = got.data;
      fromCache = got.fromCache;
    } finally {
      if (download === controller) download = undefined;
    }
    spec = source.url;
  } else {
    blob = source.file;
    spec = source.name;
  }
  const file = await openSafetensors(blobSource(blob, source.kind === 'file' ? source.name : (known?.id ?? spec)));
  // Point backbones train from the command line until the app takes point data (issue 11 item 6).
  const meta = imageBackbone(readBackboneMeta(file, { spec, known }), 'the web app (for now; point backbones train with `npm run clora`)');
  const info: BackboneInfo = {
    spec: meta.baseModel,
    label: meta.label,
    depth: meta.cfg.depth,
    dim: meta.cfg.dim,
    heads: meta.cfg.heads,
    imageSize: meta.cfg.imageSize,
    parameters: meta.parameters,
    preprocess: meta.preprocess,
    headClasses: meta.headClasses,
    fromCache,
  };
  // Models built on the previous backbone no longer apply.
  disposeSession();
  if (current?.source === 'imported') current.model.dispose();
  current = undefined;
  headModel?.dispose();
  headModel = undefined;
  backbone = { info, file, cfg: meta.cfg, read: (name) => file.readF32(name), describe: meta.describe };
  return info;
}

// ---------------------------------------------------------------------------------------------
// Intake: decode, resize and centre-crop to the model's input, kept as 8-bit RGB

function toRgbBytes(values: Float32Array, n: number, size: number): Uint8Array<ArrayBuffer>[] {
  const plane = size * size;
  const out: Uint8Array<ArrayBuffer>[] = [];
  for (let k = 0; k < n; k++) {
    const rgb = new Uint8Array(plane * 3);
    const base = k * 3 * plane;
    for (let p = 0; p < plane; p++) {
      for (let c = 0; c < 3; c++) {
        const v = Math.round(values[base + c * plane + p]! * 255);
        rgb[p * 3 + c] = v < 0 ? 0 : v > 255 ? 255 : v;
      }
    }
    out.push(rgb);
  }
  return out;
}

async function prepare(items: PrepareItem[]): Promise<PrepareResult[]> {
  const { preprocess } = requireBackbone().info;
  const gpu = await context();
  const size = preprocess.size;
  // Mean 0, std 1: the tensor holds pixels in [0, 1], stored as bytes; normalisation happens at training time.
  const params: PreprocessParams = { size, cropPct: preprocess.cropPct, mean: [0, 0, 0], std: [1, 1, 1] };
  const results: PrepareResult[] = [];
  for (let start = 0; start < items.length; start += CHUNK) {
    const chunk = items.slice(start, start + CHUNK);
    const decoded: (RgbaImage | string)[] = [];
    for (const item of chunk) {
      try {
        decoded.push(await decodeImageBlob(item.blob, item.name));
      } catch (error) {
        decoded.push(messageOf(error));
      }
    }
    const good = decoded.filter((d): d is RgbaImage => typeof d !== 'string');
    let rgb: Uint8Array<ArrayBuffer>[] = [];
    if (good.length) {
      const out = Tensor.empty(gpu, [good.length, 3, size, size], 'prepared samples');
      try {
        good.forEach((image, i) => preprocessInto(gpu, image, out, i, params));
        rgb = toRgbBytes(await out.read(), good.length, size);
      } finally {
        out.dispose();
      }
    }
    let g = 0;
    chunk.forEach((item, i) => {
      const d = decoded[i]!;
      if (typeof d === 'string') results.push({ key: item.key, ok: false, name: item.name, reason: d });
      else results.push({ key: item.key, ok: true, size, rgb: rgb[g++]! });
    });
  }
  return results;
}

// ---------------------------------------------------------------------------------------------
// Training

function disposeSession(): void {
  if (!session) return;
  const s = session;
  session = undefined;
  s.trainer.stop();
  s.resume?.();
  s.trainer.dispose();
  if (current?.model === s.model) current = undefined;
  s.model.dispose();
}

/**
 * 8-bit [N, 3, S, S] channel planes from packed 8-bit samples, normalised batch by batch as training reads them
 * (a quarter of the memory of f32). Samples of another size are resized on the GPU and rounded back to 8 bits,
 * as PIL does in timm's own pipeline.
 */
async function unpackSamples(samples: PackedSamples, pick: number[], p: PreprocessParams): Promise<Dataset> {
  const S = p.size;
  const plane = S * S;
  const pixels = new Uint8Array(pick.length * 3 * plane);
  const labels = new Int32Array(pick.length);
  const offsets = new Float64Array(samples.count + 1);
  for (let i = 0; i < samples.count; i++) offsets[i + 1] = offsets[i]! + samples.sizes[i]! * samples.sizes[i]! * 3;
  const resize: { slot: number; image: RgbaImage }[] = [];
  pick.forEach((index, slot) => {
    labels[slot] = samples.labels[index]!;
    const s = samples.sizes[index]!;
    const rgb = samples.rgb.subarray(offsets[index]!, offsets[index + 1]!);
    if (s === S) {
      const base = slot * 3 * plane;
      for (let c = 0; c < 3; c++) for (let q = 0; q < plane; q++) pixels[base + c * plane + q] = rgb[q * 3 + c]!;
    } else {
      const rgba = new Uint8Array(s * s * 4);
      for (let q = 0; q < s * s; q++) {
        rgba[q * 4] = rgb[q * 3]!;
        rgba[q * 4 + 1] = rgb[q * 3 + 1]!;
        rgba[q * 4 + 2] = rgb[q * 3 + 2]!;
        rgba[q * 4 + 3] = 255;
      }
      resize.push({ slot, image: { width: s, height: s, data: rgba } });
    }
  });
  if (resize.length) {
    // Stored samples are already centre-cropped squares: only resize them (crop_pct 1).
    const gpu = await context();
    for (let start = 0; start < resize.length; start += CHUNK) {
      const chunk = resize.slice(start, start + CHUNK);
      const out = Tensor.empty(gpu, [chunk.length, 3, S, S], 'resized samples');
      try {
        // Mean 0, std 1/255: the resized values come back on the 0–255 scale.
        chunk.forEach((r, i) => preprocessInto(gpu, r.image, out, i, { ...p, cropPct: 1, mean: [0, 0, 0], std: [1 / 255, 1 / 255, 1 / 255] }));
        const values = await out.read();
        chunk.forEach((r, i) => {
          const base = r.slot * 3 * plane;
          for (let q = 0; q < 3 * plane; q++) pixels[base + q] = Math.round(values[i * 3 * plane + q]!); // Uint8Array clamps
        });
      } finally {
        out.dispose();
      }
    }
  }
  return { classes: samples.classes, sampleShape: [3, S, S], count: pick.length, inputs: pixels, normalize: { mean: p.mean, std: p.std }, labels, skipped: [] };
}

/** Logits of every image of a data set, a chunk at a time (no tape held across an await). */
async function logitsOf(model: FineTuneModel, data: Dataset, indices?: number[]): Promise<{ logits: Float32Array; labels: Int32Array }> {
  const gpu = model.ctx;
  const pick = indices ?? Array.from({ length: data.count }, (_, i) => i);
  const per = sampleSize(data);
  const c = model.parts.classes.length;
  const logits = new Float32Array(pick.length * c);
  const labels = new Int32Array(pick.length);
  const chunk = evalChunk(model.parts.cfg);
  for (let start = 0; start < pick.length; start += chunk) {
    const part = pick.slice(start, start + chunk);
    const pixels = new Float32Array(part.length * per);
    part.forEach((index, k) => {
      copyImage(data, index, pixels, k * per);
      labels[start + k] = data.labels[index]!;
    });
    const tape = new Tape(gpu);
    let pending: Promise<Float32Array>;
    try {
      const x = Tensor.fromData(gpu, [part.length, ...data.sampleShape], pixels);
      pending = model.forward(x, { training: false }).read();
    } finally {
      tape.dispose();
    }
    logits.set(await pending, start * c);
  }
  return { logits, labels };
}

async function accuracyOf(model: FineTuneModel, data: Dataset, indices?: number[]): Promise<number> {
  const { logits, labels } = await logitsOf(model, data, indices);
  return evaluate(logits, labels, model.parts.classes).accuracy;
}

async function epochEvaluation(s: Session): Promise<void> {
  const step = s.trainer.currentStep;
  if (s.accuracy.at(-1)?.step === step) return;
  const n = Math.min(TRAIN_ACCURACY_SAMPLES, s.train.count);
  // A fixed, evenly spread subset of the training samples, so the curve compares like with like.
  const subset = Array.from({ length: n }, (_, k) => Math.floor((k * s.train.count) / n));
  const point: AccuracyPoint = {
    step,
    epoch: step / s.trainer.stepsPerEpoch,
    train: await accuracyOf(s.model, s.train, subset),
    validation: s.validation ? await accuracyOf(s.model, s.validation) : undefined,
  };
  s.accuracy.push(point);
  emit({ kind: 'accuracy', runId: s.runId, point });
}

async function finalEvaluation(s: Session): Promise<void> {
  await epochEvaluation(s);
  const on = s.validation ? 'validation' : 'training';
  const data = s.validation ?? s.train;
  const { logits, labels } = await logitsOf(s.model, data);
  emit({ kind: 'evaluation', runId: s.runId, evaluation: evaluate(logits, labels, s.model.parts.classes), on });
}

async function saveCheckpoint(s: Session, reason: 'interval' | 'pause' | 'stop' | 'done'): Promise<void> {
  const state = await s.trainer.state();
  s.lastSavedStep = state.step;
  const checkpoint: CheckpointState = { ...state };
  emit({ kind: 'checkpoint', runId: s.runId, reason, state: checkpoint, accuracy: [...s.accuracy] }, transferablesOf([...state.trainable.values(), state.optimizer.m, state.optimizer.v]));
}

function runState(s: Session, state: RunState, message?: string, kind?: ErrorKind): void {
  s.state = state;
  emit({ kind: 'runState', runId: s.runId, state, step: s.trainer.currentStep, totalSteps: s.trainer.totalSteps, message, errorKind: kind });
}

/** Steps after which the run stops briefly, on the step itself: a checkpoint is due, or an epoch ended. */
function isCheckpointStep(s: Session, step: number): boolean {
  return step % s.checkpointEvery === 0 && step < s.trainer.totalSteps;
}
function isEpochEnd(s: Session, step: number): boolean {
  return step % s.trainer.stepsPerEpoch === 0 && step < s.trainer.totalSteps;
}

async function runLoop(s: Session): Promise<void> {
  runState(s, 'training');
  for (;;) {
    let result: 'done' | 'paused' | 'stopped';
    try {
      result = await s.trainer.run(
        (metrics) => emit({ kind: 'metrics', runId: s.runId, metrics }),
        (step) => isCheckpointStep(s, step) || isEpochEnd(s, step),
      );
      if (session !== s) return;
      const step = s.trainer.currentStep;
      if (result !== 'stopped' && isEpochEnd(s, step) && s.accuracy.at(-1)?.step !== step) await epochEvaluation(s);
      if (result !== 'stopped' && isCheckpointStep(s, step) && s.lastSavedStep !== step) await saveCheckpoint(s, 'interval');
      if (result === 'paused' && !s.userPause) continue;
      if (result === 'paused') {
        if (s.lastSavedStep !== s.trainer.currentStep) await saveCheckpoint(s, 'pause');
        runState(s, 'paused');
        await new Promise<void>((resolve) => (s.resume = resolve));
        s.resume = undefined;
        if (session !== s || !ctx) return;
        s.userPause = false;
        runState(s, 'training');
        continue;
      }
      await finalEvaluation(s);
      await saveCheckpoint(s, result === 'done' ? 'done' : 'stop');
      runState(s, result === 'done' ? 'done' : 'stopped');
      return;
    } catch (error) {
      if (session !== s) return;
      const kind = errorKind(error);
      if (error instanceof TrainingDiverged) {
        // The trainer restored the last good state: keep the session, paused, so a lower rate can be tried.
        runState(s, 'paused', error.message, kind);
        await new Promise<void>((resolve) => (s.resume = resolve));
        s.resume = undefined;
        if (session !== s || !ctx) return;
        s.userPause = false;
        runState(s, 'training');
        continue;
      }
      runState(s, 'failed', kind === 'deviceLost' ? `${messageOf(error)}` : messageOf(error), kind);
      if (kind === 'deviceLost') {
        session = undefined;
        current = undefined;
      }
      return;
    }
  }
}

async function startTraining(start: TrainStart): Promise<ReplyValue['train']> {
  const b = requireBackbone();
  if (session?.state === 'training') throw new SettingsError('A run is already training: pause or stop it first.');
  const { adapter, train: trainOptions, checkpointEvery } = start.settings;
  validateAdapterSettings(adapter);
  if (!Number.isInteger(checkpointEvery) || checkpointEvery < 1) throw new SettingsError(`Checkpoints every ${checkpointEvery} steps: use a whole number ≥ 1.`);
  const samples = start.samples;
  if (samples.classes.length < 2) throw new DatasetError(`Training needs at least two classes with images (there ${samples.classes.length === 1 ? 'is one' : 'are none'}).`);
  const trainIdx: number[] = [];
  const valIdx: number[] = [];
  for (let i = 0; i < samples.count; i++) (samples.validation[i] ? valIdx : trainIdx).push(i);
  if (trainIdx.length === 0) throw new DatasetError('Every image is in the validation split: lower the validation share or add images.');
  disposeSession();
  if (current?.source === 'imported') current.model.dispose();
  current = undefined;
  const gpu = await context();
  const trainData = await unpackSamples(samples, trainIdx, b.info.preprocess);
  const validation = valIdx.length ? await unpackSamples(samples, valIdx, b.info.preprocess) : undefined;
  const batchSize = Math.min(trainOptions.batchSize, trainData.count);
  const stepsPerEpoch = Math.ceil(trainData.count / batchSize);
  // Metrics come back a few times per epoch; reads never happen inside a step.
  const logEvery = Math.max(1, Math.min(trainOptions.logEvery, checkpointEvery, Math.ceil(stepsPerEpoch / 4)));
  const options = { ...trainOptions, batchSize, logEvery };
  const resume = start.resume;
  const initial = resume ? resume.state.trainable : initialTensors(b.cfg, adapter, samples.classes.length, new Rng(options.seed ^ 0x5eed));
  const model = await createFineTuneModel(gpu, b.cfg, adapter, samples.classes, b.read, initial);
  let trainer: Trainer;
  try {
    trainer = await Trainer.create(model, trainData, options);
    if (resume) trainer.loadState({ ...resume.state, history: [...resume.state.history] });
  } catch (error) {
    model.dispose();
    throw error;
  }
  const step = trainer.currentStep;
  const s: Session = {
    runId: start.runId,
    model,
    trainer,
    train: trainData,
    validation,
    checkpointEvery,
    accuracy: resume ? [...resume.accuracy] : [],
    userPause: false,
    state: 'training',
    resume: undefined,
    lastSavedStep: resume ? step : -1,
  };
  session = s;
  current = { model, source: 'trained' };
  void runLoop(s);
  return {
    totalSteps: trainer.totalSteps,
    stepsPerEpoch: trainer.stepsPerEpoch,
    trainableParameters: trainableParameterCount(b.cfg, adapter, samples.classes.length),
    trainCount: trainData.count,
    validationCount: validation?.count ?? 0,
  };
}

// ---------------------------------------------------------------------------------------------
// Predictions, exports, imports

async function predictionModel(): Promise<{ model: FineTuneModel; source: Prediction['model'] }> {
  if (current) return current;
  const b = requireBackbone();
  if (b.cfg.classes === 0) throw new SettingsError('This backbone has no classifier head of its own: train or import an adapter first.');
  if (!headModel) {
    // The backbone's own head as a `head` adapter: the same code path as a trained one.
    const tensors = new Map([
      ['head.weight', await b.read('head.weight')],
      ['head.bias', await b.read('head.bias')],
    ]);
    headModel = await createFineTuneModel(await context(), b.cfg, { ...DEFAULT_ADAPTER_SETTINGS, method: 'head', targets: [] }, b.info.headClasses, b.read, tensors);
  }
  return { model: headModel, source: 'backbone head' };
}

async function predict(image: Blob): Promise<Prediction> {
  const b = requireBackbone();
  const decoded = await decodeImageBlob(image, image instanceof File ? image.name : 'The image');
  const { model, source } = await predictionModel();
  const gpu = model.ctx;
  const tape = new Tape(gpu);
  let pending: Promise<Float32Array>;
  try {
    const pixels = preprocessImages(gpu, [decoded], b.info.preprocess);
    pending = model.forward(pixels, { training: false }).read();
  } finally {
    tape.dispose();
  }
  const logits = await pending;
  const classes = model.parts.classes;
  const max = Math.max(...logits);
  const exps = Array.from(logits, (v) => Math.exp(v - max));
  const sum = exps.reduce((a, v) => a + v, 0);
  const top = exps
    .map((e, index) => ({ class: classes[index]!, index, probability: e / sum }))
    .sort((x, y) => y.probability - x.probability || x.index - y.index)
    .slice(0, 5);
  return { classes, top, model: source };
}

function exportModel(): FineTuneModel {
  if (!current) throw new SettingsError('There is no adapter to export yet: train one, resume a checkpoint or import an adapter file.');
  return current.model;
}

function safeName(text: string): string {
  return text.replace(/^.*\//, '').replace(/\.safetensors$/, '').replace(/[^A-Za-z0-9._-]+/g, '-').slice(0, 60) || 'model';
}

async function nativeFile(model: FineTuneModel): Promise<Uint8Array<ArrayBuffer>> {
  const b = requireBackbone();
  const extra: Record<string, string> = { ...b.describe() };
  if (session?.model === model) {
    const last = session.trainer.history.at(-1);
    extra.training = JSON.stringify({ ...session.trainer.options, steps: session.trainer.totalSteps, step: session.trainer.currentStep });
    if (last) extra.final_loss = String(last.loss);
    const acc = session.accuracy.at(-1);
    if (acc?.validation !== undefined) extra.validation_accuracy = String(acc.validation);
  }
  const { tensors, metadata } = await modelFile(model, extra);
  return writeSafetensors(tensors, metadata);
}

async function exportFile(format: 'native' | 'peft' | 'merged'): Promise<ExportedFile> {
  const b = requireBackbone();
  const model = exportModel();
  const method = model.parts.settings.method;
  const bytes = await nativeFile(model);
  const base = `${safeName(b.info.spec)}-${method}`;
  if (format === 'native') return { blob: new Blob([bytes], { type: 'application/octet-stream' }), filename: `${base}-adapter.safetensors` };
  const adapter: AdapterFile = await readAdapterFile(await openSafetensors(blobSource(new Blob([bytes]), 'adapter')), b.cfg);
  if (format === 'peft') {
    const { config, tensors } = peftExport(b.cfg, adapter, b.info.spec);
    const zip = zipFiles({
      'adapter_config.json': new TextEncoder().encode(`${JSON.stringify(config, null, 2)}\n`),
      'adapter_model.safetensors': writeSafetensors(tensors, { format: 'pt' }),
    });
    return { blob: new Blob([zip], { type: 'application/zip' }), filename: `${base}-peft.zip` };
  }
  const shapes = vitShapes({ ...b.cfg, classes: 0 });
  const tensors = await mergedExport(b.cfg, adapter, [...shapes.keys()], b.read, shapes);
  const merged = writeSafetensors(tensors, { ...b.describe(), classes: JSON.stringify(adapter.classes), merged_from: method });
  return { blob: new Blob([merged], { type: 'application/octet-stream' }), filename: `${base}-merged.safetensors` };
}

async function importAdapter(fileBlob: Blob, name: string): Promise<ImportedAdapter> {
  const b = requireBackbone();
  if (session?.state === 'training') throw new SettingsError('A run is training: pause or stop it before importing an adapter.');
  const file = await openSafetensors(blobSource(fileBlob, name));
  const adapter = await readAdapterFile(file, b.cfg);
  const model = await createFineTuneModel(await context(), b.cfg, adapter.settings, adapter.classes, b.read, adapter.tensors);
  disposeSession();
  if (current?.source === 'imported') current.model.dispose();
  current = { model, source: 'imported' };
  return { method: adapter.settings.method, classes: adapter.classes, settings: adapter.settings, metadata: adapter.metadata };
}

// ---------------------------------------------------------------------------------------------
// Dispatch

async function handle(request: RequestMessage): Promise<{ value: unknown; transfer?: Transferable[] }> {
  switch (request.type) {
    case 'init': {
      const gpu = await context();
      return { value: { adapter: adapterName(gpu.adapter), features: [...gpu.features].filter((f) => ['shader-f16', 'subgroups', 'timestamp-query'].includes(f)) } };
    }
    case 'loadBackbone':
      return { value: await loadBackbone(request.source) };
    case 'cancelDownload':
      download?.abort();
      return { value: null };
    case 'prepare': {
      const results = await prepare(request.items);
      return { value: results, transfer: transferablesOf(results.flatMap((r) => (r.ok ? [r.rgb] : []))) };
    }
    case 'train':
      return { value: await startTraining(request.start) };
    case 'pause':
      if (session && session.state === 'training') {
        session.userPause = true;
        session.trainer.pause();
      }
      return { value: null };
    case 'resume':
      if (!session || session.state !== 'paused' || !session.resume) throw new SettingsError('Nothing is paused in this tab: resume from a checkpoint instead.');
      session.resume();
      return { value: null };
    case 'stop':
      if (session && (session.state === 'training' || session.state === 'paused')) {
        session.trainer.stop();
        session.userPause = false;
        session.resume?.();
      }
      return { value: null };
    case 'predict':
      return { value: await predict(request.image) };
    case 'export': {
      const file = await exportFile(request.format);
      return { value: file };
    }
    case 'importAdapter':
      return { value: await importAdapter(request.file, request.name) };
    case 'loseDevice':
      ctx?.destroy();
      return { value: null };
  }
}

scope.onmessage = (event: MessageEvent<RequestMessage>) => {
  const request = event.data;
  handle(request).then(
    ({ value, transfer }) => {
      const reply: ReplyMessage = { kind: 'reply', id: request.id, ok: true, value };
      scope.postMessage(reply, transfer ?? []);
    },
    (error: unknown) => {
      const reply: ReplyMessage = { kind: 'reply', id: request.id, ok: false, error: { message: messageOf(error), kind: errorKind(error) } };
      scope.postMessage(reply);
    },
  );
};
