// Checks a checkpoint read back from IndexedDB before anything uses it. The browser hands back whatever
// was stored: a record written by another version of the app, cut short, or edited by hand. A bad record
// is refused with a sentence naming what is wrong, never shown half or passed on to crash the page or the
// worker. Pure functions on plain values (structured clones), so they are tested in Node.
import { METHODS, TARGETS, validateAdapterSettings, type AdapterSettings } from '../clora/settings';
import type { AccuracyPoint, CheckpointState, RunSettings } from '../worker/protocol';
import type { TrainOptions } from '../train/trainer';

/** The record layout this app writes; records without a version are the first layout (version 1). */
export const CHECKPOINT_RECORD_VERSION = 1;

export interface CheckpointMeta {
  /** Record layout (CHECKPOINT_RECORD_VERSION); absent in records written before it was added. */
  version?: number;
  id: string;
  runId: string;
  createdAt: number;
  reason: 'interval' | 'pause' | 'stop' | 'done';
  step: number;
  totalSteps: number;
  epoch: number;
  settings: RunSettings;
  classes: string[];
  /** datasetFingerprint() of the data the run trains on. */
  fingerprint: string;
  backbone: { spec: string; label: string; url: string | undefined };
  loss: number | undefined;
  validationAccuracy: number | undefined;
  /** Bytes of tensor data (adapter and optimizer moments). */
  bytes: number;
}

export interface CheckpointData {
  state: CheckpointState;
  accuracy: AccuracyPoint[];
}

export class CheckpointError extends Error {
  override name = 'CheckpointError';
  constructor(
    message: string,
    /** True when the browser's storage quota was the cause. */
    readonly quota = false,
  ) {
    super(message);
  }
}

/** What is wrong with one field; the caller turns it into a sentence about the whole record. */
class Problem extends Error {}

type Fields = Record<string, unknown>;

/** The field is missing, or it holds something else than `expected`. */
function wrong(what: string, value: unknown, expected: string): Problem {
  return new Problem(value === undefined ? `${what} is missing` : `${what} is ${describe(value)}, not ${expected}`);
}

function object(value: unknown, what: string): Fields {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw wrong(what, value, 'a record');
  return value as Fields;
}

function describe(value: unknown): string {
  if (value === undefined) return 'missing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return `a list of ${value.length}`;
  if (ArrayBuffer.isView(value)) return `${value.constructor.name} of ${(value as unknown as { length?: number }).length ?? value.byteLength}`;
  if (typeof value === 'string') return `the text ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (typeof value !== 'object') return `a ${typeof value}`;
  const kind = (value as object).constructor?.name;
  return !kind || kind === 'Object' ? 'an object' : `a ${kind}`;
}

function text(value: unknown, what: string, allowEmpty = false): string {
  if (typeof value !== 'string' || (!allowEmpty && value === '')) throw wrong(what, value, allowEmpty ? 'a text' : 'a name');
  return value;
}

function finite(value: unknown, what: string, min = -Infinity, max = Infinity): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    const range = min === -Infinity ? 'a finite number' : max === Infinity ? `a number ≥ ${min}` : `a number in [${min}, ${max}]`;
    throw wrong(what, value, range);
  }
  return value;
}

function whole(value: unknown, what: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw wrong(what, value, `a whole number${max === Number.MAX_SAFE_INTEGER ? ` ≥ ${min}` : ` in [${min}, ${max}]`}`);
  }
  return value;
}

function optionalFinite(value: unknown, what: string, min?: number, max?: number): number | undefined {
  return value === undefined ? undefined : finite(value, what, min, max);
}

function list(value: unknown, what: string): unknown[] {
  if (!Array.isArray(value)) throw wrong(what, value, 'a list');
  return value;
}

function floats(value: unknown, what: string): Float32Array {
  if (!(value instanceof Float32Array)) throw wrong(what, value, 'a Float32Array');
  for (let i = 0; i < value.length; i++) if (!Number.isFinite(value[i]!)) throw new Problem(`${what} holds ${value[i]} at index ${i}`);
  return value;
}

function adapterSettings(value: unknown): AdapterSettings {
  const a = object(value, 'the adapter settings');
  if (!METHODS.includes(a.method as never)) throw wrong('the method', a.method, 'clora, lora, head or full');
  const targets = list(a.targets, 'the target list');
  for (const t of targets) if (!TARGETS.includes(t as never)) throw new Problem(`the target list holds ${describe(t)}`);
  const settings: AdapterSettings = {
    method: a.method as AdapterSettings['method'],
    rank: whole(a.rank, 'the rank', 1, 4096),
    spaces: whole(a.spaces, 'the number of spaces', 1, 4096),
    targets: targets as AdapterSettings['targets'],
    scale: finite(a.scale, 'the scale'),
    sadeWeight: finite(a.sadeWeight, 'the SADE weight', 0),
    dropout: finite(a.dropout, 'the dropout', 0, 1),
  };
  try {
    validateAdapterSettings(settings);
  } catch (error) {
    throw new Problem(`its settings cannot work (${(error as Error).message})`);
  }
  return settings;
}

function trainOptions(value: unknown): TrainOptions {
  const t = object(value, 'the training options');
  if (t.optimizer !== 'adamw' && t.optimizer !== 'sgd') throw wrong('the optimizer', t.optimizer, 'adamw or sgd');
  finite(t.lr, 'the learning rate', Number.MIN_VALUE);
  finite(t.weightDecay, 'the weight decay', 0);
  whole(t.batchSize, 'the batch size', 1);
  if (t.epochs === undefined && t.steps === undefined) throw new Problem('the run length (epochs or steps) is missing');
  if (t.epochs !== undefined) whole(t.epochs, 'the number of epochs', 1);
  if (t.steps !== undefined) whole(t.steps, 'the number of steps', 1);
  if (t.microBatchSize !== undefined) whole(t.microBatchSize, 'the micro-batch size', 1);
  whole(t.warmup, 'the warm-up', 0);
  finite(t.labelSmoothing, 'the label smoothing', 0, 1);
  whole(t.seed, 'the seed', -(2 ** 31), 2 ** 32);
  if (typeof t.shuffle !== 'boolean') throw wrong('the shuffle setting', t.shuffle, 'true or false');
  whole(t.logEvery, 'the metrics interval', 1);
  return value as TrainOptions;
}

function runSettings(value: unknown): RunSettings {
  const s = object(value, 'the settings record');
  return { adapter: adapterSettings(s.adapter), train: trainOptions(s.train), checkpointEvery: whole(s.checkpointEvery, 'the checkpoint interval', 1) };
}

const REASONS = ['interval', 'pause', 'stop', 'done'];

/** The problem with a checkpoint's description, or undefined when it can be listed. */
function metaProblem(value: unknown): string | undefined {
  try {
    const m = object(value, 'the record');
    if (m.version !== undefined) {
      const version = whole(m.version, 'the record version', 1);
      if (version > CHECKPOINT_RECORD_VERSION) return `it was saved by a newer version of this app (record version ${version}; this one reads version ${CHECKPOINT_RECORD_VERSION}): update the app (reload the page) to use it`;
    }
    text(m.id, 'the id');
    text(m.runId, 'the run id');
    finite(m.createdAt, 'the time it was saved', 0);
    if (!REASONS.includes(m.reason as string)) throw wrong('the reason it was saved', m.reason, 'interval, pause, stop or done');
    const totalSteps = whole(m.totalSteps, 'the number of steps', 1);
    whole(m.step, 'the step', 0, totalSteps);
    finite(m.epoch, 'the epoch', 0);
    runSettings(m.settings);
    const classes = list(m.classes, 'the list of class names');
    if (classes.length < 2) throw new Problem(`it names ${classes.length} class${classes.length === 1 ? '' : 'es'}; a run has at least two`);
    classes.forEach((c, i) => text(c, `class name ${i + 1}`, true));
    text(m.fingerprint, 'the data set fingerprint');
    const backbone = object(m.backbone, 'the backbone record');
    text(backbone.spec, 'the backbone');
    text(backbone.label, 'the backbone label', true);
    if (backbone.url !== undefined) text(backbone.url, 'the backbone URL');
    optionalFinite(m.loss, 'the loss');
    optionalFinite(m.validationAccuracy, 'the validation accuracy', 0, 1);
    finite(m.bytes, 'its size', 0);
    return undefined;
  } catch (error) {
    if (error instanceof Problem) return error.message;
    throw error;
  }
}

/** The problem with a checkpoint's saved state (its description already checked), or undefined. */
function dataProblem(value: unknown, meta: CheckpointMeta): string | undefined {
  try {
    const d = object(value, 'the saved state');
    const state = object(d.state, 'the training state');
    const step = whole(state.step, 'the saved step', 0);
    if (step !== meta.step) throw new Problem(`it holds step ${step} but is listed as step ${meta.step}`);
    whole(state.rngState, 'the random generator state', 0, 2 ** 32 - 1);
    const order = list(state.order, 'the sample order');
    const seen = new Uint8Array(order.length);
    for (const [i, index] of order.entries()) {
      whole(index, `entry ${i + 1} of the sample order`, 0, order.length - 1);
      if (seen[index as number]) throw new Problem(`the sample order names sample ${index as number} twice`);
      seen[index as number] = 1;
    }
    whole(state.cursor, 'the position in the sample order', 0, order.length);
    if (!(state.trainable instanceof Map)) throw wrong('the table of adapter weights', state.trainable, 'a Map');
    if (state.trainable.size === 0) throw new Problem('the table of adapter weights is empty');
    let parameters = 0;
    for (const [name, data] of state.trainable as Map<unknown, unknown>) {
      text(name, 'a weight name');
      parameters += floats(data, `the weight array "${String(name)}"`).length;
    }
    const headBias = (state.trainable as Map<string, Float32Array>).get('head.bias');
    if (headBias && headBias.length !== meta.classes.length) throw new Problem(`the head has ${headBias.length} outputs for ${meta.classes.length} classes`);
    const optimizer = object(state.optimizer, 'the optimizer state');
    whole(optimizer.step, 'the optimizer step', 0, step);
    const m = floats(optimizer.m, "the optimizer's first-moment array");
    const v = floats(optimizer.v, "the optimizer's second-moment array");
    if (v.some((x) => x < 0)) throw new Problem("the optimizer's second-moment array holds negative values");
    if (m.length !== v.length) throw new Problem(`the optimizer moments have ${m.length} and ${v.length} values; they must match`);
    if (meta.settings.train.optimizer === 'sgd' && m.length !== 0) throw new Problem(`the SGD run's state holds ${m.length} optimizer moments; SGD keeps none`);
    if (meta.settings.train.optimizer === 'adamw' && m.length < parameters) throw new Problem(`the optimizer moments hold ${m.length} values for ${parameters} weights`);
    const history = list(state.history, 'the metrics history');
    history.forEach((entry, i) => {
      const h = object(entry, `metrics entry ${i + 1}`);
      whole(h.step, `the step of metrics entry ${i + 1}`, 1, step);
      finite(h.loss, `the loss of metrics entry ${i + 1}`);
    });
    const accuracy = list(d.accuracy, 'the accuracy history');
    accuracy.forEach((entry, i) => {
      const a = object(entry, `accuracy entry ${i + 1}`);
      whole(a.step, `the step of accuracy entry ${i + 1}`, 0, step);
      finite(a.train, `the training accuracy of entry ${i + 1}`, 0, 1);
      optionalFinite(a.validation, `the validation accuracy of entry ${i + 1}`, 0, 1);
    });
    return undefined;
  } catch (error) {
    if (error instanceof Problem) return error.message;
    throw error;
  }
}

/** A checkpoint description as stored, checked; throws CheckpointError saying what is wrong. */
export function checkCheckpointMeta(value: unknown): CheckpointMeta {
  const problem = metaProblem(value);
  if (problem) throw new CheckpointError(`A saved checkpoint cannot be used: ${problem}.`);
  return value as CheckpointMeta;
}

/** A checkpoint's description and saved state, checked together; throws CheckpointError saying what is wrong. */
export function checkCheckpoint(meta: unknown, data: unknown): { meta: CheckpointMeta; data: CheckpointData } {
  const checkedMeta = checkCheckpointMeta(meta);
  const problem = dataProblem(data, checkedMeta);
  if (problem) {
    throw new CheckpointError(
      `The checkpoint at step ${checkedMeta.step} cannot be resumed: its saved training state is damaged (${problem}). Delete it, or start a new run with Train.`,
    );
  }
  return { meta: checkedMeta, data: data as CheckpointData };
}
