// The training checkpoint as one file (format `clora-checkpoint`, README "Training checkpoint file"): the
// one format for a run outside IndexedDB — `train --save-state` / `--resume`, the PyTorch companion
// (python/clora_torch/checkpoint.py reads and writes the same file), and later the app's project zip.
//
// A safetensors file: the adapter's tensors in the native layout (clora-spec §2.2), AdamW's moments of each
// under `optimizer.m.<key>` / `optimizer.v.<key>` in that same layout, the current epoch's order as
// `sampler.order` (I32), and the rest as metadata strings. The engine keeps tensors and moments in its own
// flat layout (cores [m,p,r,r], LoRA A/B transposed, 64-float slots; see TrainingState): moments are mapped
// to native keys exactly as the tensors are (nativeTensors / internalTensors).
import { trainableLayout } from '../autodiff/params';
import { classesOf, fitProblems, internalTensors, nativeMetadata, nativeTensors, settingsFromMetadata } from '../clora/files';
import { trainableSpecs } from '../clora/model';
import { METHODS, SettingsError, type AdapterSettings, type Method } from '../clora/settings';
import { ShapeError } from '../gpu/errors';
import type { BackboneConfig } from '../nn/backbone';
import type { OptimizerName, TrainingState, TrainMetrics, TrainOptions } from '../train/trainer';
import { writeSafetensors, type SafetensorsFile, type TensorToWrite } from './safetensors';

export const CHECKPOINT_FORMAT = 'clora-checkpoint';
export const CHECKPOINT_VERSION = '1';

/** Which data a run trains on: the sampler's order refers to samples by position. */
export interface DataIdentity {
  count: number;
  /** sha256 of the labels as little-endian int32, in sample order. */
  labelsSha256: string;
}

/**
 * Metadata keys describing the backbone (those of an adapter file, plus a fingerprint of its weights). A point
 * backbone's grouping is among them: its weights do not fix it, so a resumed run must be told it again.
 */
export const BACKBONE_KEYS = ['base_model', 'num_heads', 'image_size', 'mean', 'std', 'crop_pct', 'num_points', 'num_groups', 'group_size', 'backbone_sha256'] as const;

/**
 * A sentence when a point run's checkpoint grouped its clouds otherwise than `cfg` does (the options that
 * restore the run's grouping included); undefined when they agree or the checkpoint does not say.
 */
export function groupingMismatch(saved: Record<string, string>, cfg: BackboneConfig): string | undefined {
  if (cfg.kind !== 'point') return undefined;
  const grouping: [key: string, option: string, value: number][] = [
    ['num_points', '--points', cfg.points],
    ['num_groups', '--groups', cfg.groups],
    ['group_size', '--group-size', cfg.groupSize],
  ];
  if (grouping.every(([key, , value]) => saved[key] === undefined || Number(saved[key]) === value)) return undefined;
  const theirs = grouping.filter(([key]) => saved[key] !== undefined);
  return (
    `The checkpoint's run grouped ${saved.num_points ?? '?'} points into ${saved.num_groups ?? '?'} groups of ${saved.group_size ?? '?'}; ` +
    `this backbone is read with ${cfg.points} points in ${cfg.groups} groups of ${cfg.groupSize}. Pass ${theirs.map(([key, option]) => `${option} ${saved[key]}`).join(' ')}.`
  );
}

/** Everything a checkpoint file holds. */
export interface CheckpointRun {
  settings: AdapterSettings;
  classes: string[];
  /** The run's options as given (device-dependent choices such as the memory plan are not kept). */
  train: TrainOptions;
  totalSteps: number;
  /** Tensors and moments in the engine's internal layout, as the trainer and the app's IndexedDB hold them. */
  state: TrainingState;
  data: DataIdentity;
  /** BACKBONE_KEYS found or given. */
  backbone: Record<string, string>;
  /** Other metadata a writer adds (the app's own fields), kept as found. */
  extra: Record<string, string>;
}

const KNOWN_KEYS = new Set(['format', 'format_version', 'method', 'rank', 'spaces', 'scale', 'targets', 'classes', 'sade_weight', 'dropout', 'step', 'total_steps', 'optimizer_step', 'train', 'sampler', 'data', 'history', ...BACKBONE_KEYS]);

// ---------------------------------------------------------------------------------------------------------
// Fingerprints

async function sha256(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new Uint8Array(bytes));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

function littleEndian(values: Int32Array | Float32Array): Uint8Array {
  const out = new Uint8Array(values.length * 4);
  const view = new DataView(out.buffer);
  values.forEach((v, i) => (values instanceof Int32Array ? view.setInt32(i * 4, v, true) : view.setFloat32(i * 4, v, true)));
  return out;
}

export async function dataIdentity(labels: Int32Array): Promise<DataIdentity> {
  return { count: labels.length, labelsSha256: await sha256(littleEndian(labels)) };
}

/** Tensors a backbone fingerprint hashes: small, and different in every pretrained ViT. */
export const FINGERPRINT_TENSORS = ['cls_token', 'pos_embed', 'patch_embed.proj.bias', 'norm.weight', 'norm.bias'];
/** The same for a point transformer (clora-spec §4), which has no pos_embed or patch embedding. */
export const POINT_FINGERPRINT_TENSORS = ['cls_token', 'cls_pos', 'encoder.first_conv.0.bias', 'norm.weight', 'norm.bias'];

/** sha256 of the fingerprint tensors as little-endian f32, in that order: the same backbone whatever its path. */
export async function backboneSha256(read: (name: string) => Promise<Float32Array>, cfg?: BackboneConfig): Promise<string> {
  const names = cfg?.kind === 'point' ? POINT_FINGERPRINT_TENSORS : FINGERPRINT_TENSORS;
  const parts = await Promise.all(names.map(async (name) => littleEndian(await read(name))));
  const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    all.set(p, at);
    at += p.length;
  }
  return sha256(all);
}

// ---------------------------------------------------------------------------------------------------------
// Options and history as JSON (snake_case, the names the Python side uses)

/** Image runs: flip and random resized crop; point runs: scale and translate, rotate, jitter (null: none). */
function augmentJson(a: TrainOptions['augment']): Record<string, boolean> | null {
  if (!a) return null;
  if ('scaleAndTranslate' in a) return a.scaleAndTranslate || a.rotate || a.jitter ? { scale_and_translate: a.scaleAndTranslate, rotate: a.rotate, jitter: a.jitter } : null;
  return a.flip || a.randomResizedCrop ? { flip: a.flip, random_resized_crop: a.randomResizedCrop } : null;
}

function augmentFrom(value: unknown): TrainOptions['augment'] {
  if (value === null || value === undefined) return undefined;
  if (typeof value !== 'object' || Array.isArray(value)) return damaged('"train.augment"');
  const j = value as Record<string, unknown>;
  if ('scale_and_translate' in j || 'rotate' in j || 'jitter' in j) return { scaleAndTranslate: j.scale_and_translate === true, rotate: j.rotate === true, jitter: j.jitter === true };
  return { flip: j.flip === true, randomResizedCrop: j.random_resized_crop === true };
}

function optionsJson(o: TrainOptions): string {
  const augment = augmentJson(o.augment);
  return JSON.stringify({
    optimizer: o.optimizer,
    lr: o.lr,
    weight_decay: o.weightDecay,
    beta1: o.beta1 ?? 0.9,
    beta2: o.beta2 ?? 0.999,
    eps: o.eps ?? 1e-8,
    epochs: o.epochs ?? null,
    steps: o.steps ?? null,
    batch_size: o.batchSize,
    micro_batch_size: o.microBatchSize ?? null,
    warmup: o.warmup,
    label_smoothing: o.labelSmoothing,
    seed: o.seed,
    shuffle: o.shuffle,
    augment,
    log_every: o.logEvery,
    precision: o.precision ?? 'f32',
  });
}

function damaged(what: string): never {
  throw new SettingsError(`The checkpoint has no readable ${what}; the file is damaged or was not written by clora-web.`);
}

function parseJson(meta: Record<string, string>, key: string): unknown {
  try {
    return JSON.parse(meta[key] ?? '');
  } catch {
    return damaged(`"${key}" in its metadata`);
  }
}

function optionsFrom(json: unknown): TrainOptions {
  const j = json as Record<string, unknown> | null;
  const num = (key: string, fallback?: number): number => {
    const v = j?.[key] ?? fallback;
    if (typeof v !== 'number' || !Number.isFinite(v)) return damaged(`"train.${key}"`);
    return v;
  };
  const optional = (key: string): number | undefined => (j?.[key] === null || j?.[key] === undefined ? undefined : num(key));
  const optimizer = j?.optimizer;
  if (optimizer !== 'adamw' && optimizer !== 'sgd') return damaged('"train.optimizer"');
  return {
    optimizer: optimizer as OptimizerName,
    lr: num('lr'),
    weightDecay: num('weight_decay'),
    beta1: num('beta1', 0.9),
    beta2: num('beta2', 0.999),
    eps: num('eps', 1e-8),
    epochs: optional('epochs'),
    steps: optional('steps'),
    batchSize: num('batch_size'),
    microBatchSize: optional('micro_batch_size'),
    warmup: num('warmup'),
    labelSmoothing: num('label_smoothing'),
    seed: num('seed'),
    shuffle: j?.shuffle !== false,
    augment: augmentFrom(j?.augment),
    logEvery: num('log_every', 10),
    precision: j?.precision === 'f16' ? 'f16' : 'f32',
  };
}

function historyJson(history: TrainMetrics[]): string {
  return JSON.stringify(
    history.map((m) => ({
      step: m.step,
      total_steps: m.totalSteps,
      epoch: m.epoch,
      loss: m.loss,
      cross_entropy: m.crossEntropy,
      sade: m.sade,
      lr: m.lr,
      images_per_second: m.imagesPerSecond,
      eta_seconds: m.etaSeconds,
      ...(m.lossScale === undefined ? {} : { loss_scale: m.lossScale, skipped_steps: m.skippedSteps }),
    })),
  );
}

function historyFrom(json: unknown): TrainMetrics[] {
  if (!Array.isArray(json) || !json.every((r) => typeof r === 'object' && r !== null && typeof r.step === 'number')) return damaged('"history"');
  return json.map((r: Record<string, number>) => ({
    step: r.step!,
    totalSteps: r.total_steps!,
    epoch: r.epoch!,
    loss: r.loss!,
    crossEntropy: r.cross_entropy!,
    sade: r.sade!,
    lr: r.lr!,
    imagesPerSecond: r.images_per_second ?? 0,
    etaSeconds: r.eta_seconds ?? 0,
    ...(r.loss_scale === undefined ? {} : { lossScale: r.loss_scale, skippedSteps: r.skipped_steps }),
  }));
}

// ---------------------------------------------------------------------------------------------------------
// Flat moments <-> per-tensor moments

/** Slices a flat moment buffer (the store's layout) into internal tensors. */
function unflatten(cfg: BackboneConfig, settings: AdapterSettings, classes: number, flat: Float32Array): Map<string, Float32Array> {
  const layout = trainableLayout(trainableSpecs(cfg, settings, classes));
  if (flat.length !== layout.floats) throw new Error(`Internal: the optimizer moments have ${flat.length} floats; this model's layout has ${layout.floats}.`);
  return new Map(layout.slots.map((s) => [s.name, flat.slice(s.offset, s.offset + s.size)]));
}

/** Internal tensors into a flat moment buffer (padding zero). */
function flatten(cfg: BackboneConfig, settings: AdapterSettings, classes: number, tensors: Map<string, Float32Array>): Float32Array {
  const layout = trainableLayout(trainableSpecs(cfg, settings, classes));
  const flat = new Float32Array(layout.floats);
  for (const s of layout.slots) flat.set(tensors.get(s.name)!, s.offset);
  return flat;
}

// ---------------------------------------------------------------------------------------------------------
// Writing and reading

/** The file's tensors and metadata for a run's state. */
export function checkpointFile(cfg: BackboneConfig, run: CheckpointRun): { tensors: TensorToWrite[]; metadata: Record<string, string> } {
  const { settings, classes, state } = run;
  const c = classes.length;
  const tensors = nativeTensors(cfg, settings, c, state.trainable);
  if (run.train.optimizer === 'adamw') {
    const moments = (name: 'm' | 'v'): TensorToWrite[] =>
      nativeTensors(cfg, settings, c, unflatten(cfg, settings, c, state.optimizer[name])).map((t) => ({ ...t, name: `optimizer.${name}.${t.name}` }));
    tensors.push(...moments('m'), ...moments('v'));
  }
  tensors.push({ name: 'sampler.order', shape: [state.order.length], data: Int32Array.from(state.order) });
  const { format: _method, format_version: _version, ...settingsMeta } = nativeMetadata(settings, classes);
  const backbone = Object.fromEntries(BACKBONE_KEYS.filter((k) => run.backbone[k] !== undefined).map((k) => [k, run.backbone[k]!]));
  const metadata: Record<string, string> = {
    ...run.extra,
    format: CHECKPOINT_FORMAT,
    format_version: CHECKPOINT_VERSION,
    method: settings.method,
    ...settingsMeta,
    step: String(state.step),
    total_steps: String(run.totalSteps),
    optimizer_step: String(state.optimizer.step),
    train: optionsJson(run.train),
    sampler: JSON.stringify({ cursor: state.cursor, rng_state: state.rngState >>> 0 }),
    data: JSON.stringify({ count: run.data.count, labels_sha256: run.data.labelsSha256 }),
    ...backbone,
    history: historyJson(state.history),
  };
  return { tensors, metadata };
}

export function writeCheckpoint(cfg: BackboneConfig, run: CheckpointRun): Uint8Array<ArrayBuffer> {
  const { tensors, metadata } = checkpointFile(cfg, run);
  return writeSafetensors(tensors, metadata);
}

/**
 * Reads a checkpoint file for a backbone of configuration `cfg`; refuses, with a sentence, what is not a
 * checkpoint, a newer format, tensors that do not fit this backbone, and a sampler state that is not an
 * epoch of its data set. Whether it fits the data and the command line is the caller's check.
 */
export async function readCheckpoint(file: SafetensorsFile, cfg: BackboneConfig): Promise<CheckpointRun> {
  const meta = file.metadata;
  if (meta.format !== CHECKPOINT_FORMAT) {
    const hint = (METHODS as readonly string[]).includes(meta.format ?? '') ? ' (an adapter: pass it to --init to start a new run from it)' : '';
    throw new SettingsError(`This is not a training checkpoint: its metadata "format" is ${meta.format ? `"${meta.format}"` : 'missing'}${hint}; expected "${CHECKPOINT_FORMAT}".`);
  }
  if (meta.format_version !== CHECKPOINT_VERSION) {
    throw new SettingsError(`This checkpoint has format_version ${meta.format_version ?? 'missing'}; this version reads ${CHECKPOINT_VERSION}. Update clora-web to the version that wrote it.`);
  }
  const method = meta.method as Method;
  if (!METHODS.includes(method)) throw new SettingsError(`The checkpoint's method is ${meta.method === undefined ? 'missing' : `"${meta.method}"`}; expected clora, lora, head or full. The file is damaged or was not written by clora-web.`);
  const settings = settingsFromMetadata(meta, method);
  const classes = classesOf(file);
  const train = optionsFrom(parseJson(meta, 'train'));
  const c = classes.length;
  const prefixes = train.optimizer === 'adamw' ? ['', 'optimizer.m.', 'optimizer.v.'] : [''];
  const problems = prefixes.flatMap((prefix) => fitProblems(file.tensors, cfg, settings, c, prefix));
  if (problems.length) {
    throw new ShapeError(`This checkpoint of a ${method} run does not fit the backbone (width ${cfg.dim}, depth ${cfg.depth}): ${problems.slice(0, 5).join('; ')}${problems.length > 5 ? ` (and ${problems.length - 5} more)` : ''}.`);
  }
  const trainable = await internalTensors(cfg, settings, c, (key) => file.readF32(key));
  const moments = async (name: 'm' | 'v'): Promise<Float32Array> =>
    train.optimizer === 'adamw' ? flatten(cfg, settings, c, await internalTensors(cfg, settings, c, (key) => file.readF32(`optimizer.${name}.${key}`))) : new Float32Array(0);
  const sampler = parseJson(meta, 'sampler') as { cursor?: unknown; rng_state?: unknown } | null;
  const data = parseJson(meta, 'data') as { count?: unknown; labels_sha256?: unknown } | null;
  if (!file.tensors.has('sampler.order')) damaged('"sampler.order" tensor');
  const order = [...(await file.readInt('sampler.order'))];
  const count = typeof data?.count === 'number' ? data.count : -1;
  const cursor = typeof sampler?.cursor === 'number' ? sampler.cursor : -1;
  const seen = new Uint8Array(order.length === count ? count : 0);
  const permutation = order.length === count && order.every((i) => Number.isInteger(i) && i >= 0 && i < count && seen[i]!++ === 0);
  if (!permutation || !(cursor >= 0 && cursor <= count) || typeof sampler?.rng_state !== 'number') {
    throw new SettingsError("The checkpoint's sampler state does not describe an epoch of its data set; the file is damaged.");
  }
  const integer = (key: string, fallback?: string): number => {
    const n = Number(meta[key] ?? fallback);
    if (!Number.isSafeInteger(n) || n < 0) return damaged(`"${key}"`);
    return n;
  };
  const step = integer('step');
  const m = await moments('m');
  const v = await moments('v');
  // Weights or moments that are not finite (or a negative second moment) would make every later step NaN.
  for (const [name, values] of [...trainable, ['optimizer.m', m], ['optimizer.v', v]] as [string, Float32Array][]) {
    const bad = values.findIndex((x) => !Number.isFinite(x) || (name === 'optimizer.v' && x < 0));
    if (bad >= 0) {
      throw new SettingsError(`The checkpoint's saved state is damaged: "${name}" holds ${values[bad]} at position ${bad}, where training needs a finite number${name === 'optimizer.v' ? ' ≥ 0' : ''}. Resume from another checkpoint, or start a new run.`);
    }
  }
  return {
    settings,
    classes,
    train,
    totalSteps: integer('total_steps'),
    state: {
      step,
      rngState: sampler.rng_state >>> 0,
      order,
      cursor,
      trainable,
      optimizer: { step: integer('optimizer_step', String(step)), m, v },
      history: meta.history === undefined ? [] : historyFrom(parseJson(meta, 'history')),
    },
    data: { count, labelsSha256: typeof data?.labels_sha256 === 'string' ? data.labels_sha256 : '' },
    backbone: Object.fromEntries(BACKBONE_KEYS.filter((k) => meta[k] !== undefined).map((k) => [k, meta[k]!])),
    extra: Object.fromEntries(Object.entries(meta).filter(([k]) => !KNOWN_KEYS.has(k))),
  };
}
