// Predictions of a model in inference mode, for the command line and the web worker alike: logits a chunk
// at a time (bounds GPU memory), top classes with probabilities, and the backbone's own head as a model.
//
// Tape-safe: each chunk's forward is recorded and its read submitted synchronously, and the tape is
// released before the read is awaited. No tape is held across an await, so the worker can predict while
// a training run (which records its own tapes on the same device) waits between steps.
import { Tape } from '../autodiff/tape';
import { Tensor } from '../autodiff/tensor';
import type { AdapterFile } from '../clora/files';
import type { FineTuneModel } from '../clora/model';
import { DEFAULT_ADAPTER_SETTINGS } from '../clora/settings';
import { copyImage, sampleSize, type Dataset } from '../data/dataset';
import { activationFloatsPerSample, type BackboneConfig } from '../nn/backbone';

/** Builds the model input of samples [start, start + n) on the model's device (called while no tape waits). */
export type BatchInput = (start: number, n: number) => Tensor;

/** Samples per forward pass: as many as keep one activation under ~16 MB, from 8 to 64. */
export function predictionChunk(cfg: BackboneConfig): number {
  return Math.max(8, Math.min(64, Math.floor((4 << 20) / activationFloatsPerSample(cfg))));
}

/**
 * Rows [count, width] that `compute` makes from each chunk's input, in inference mode: each chunk's work is
 * recorded on its own tape and its read submitted before the tape is released, then awaited.
 */
export async function rowsOf(
  model: FineTuneModel,
  count: number,
  width: number,
  input: BatchInput,
  compute: (x: Tensor) => Tensor,
  chunk = predictionChunk(model.parts.cfg),
  onChunk?: (done: number) => void,
): Promise<Float32Array> {
  const rows = new Float32Array(count * width);
  for (let start = 0; start < count; start += chunk) {
    const n = Math.min(chunk, count - start);
    const tape = new Tape(model.ctx);
    let pending: Promise<Float32Array>;
    try {
      pending = compute(input(start, n)).read();
    } finally {
      tape.dispose();
    }
    rows.set(await pending, start * width);
    onChunk?.(start + n);
  }
  return rows;
}

/** Logits [count, classes] of `count` samples whose input `input` builds a chunk at a time. */
export function logitsOf(model: FineTuneModel, count: number, input: BatchInput, chunk?: number): Promise<Float32Array> {
  return rowsOf(model, count, model.parts.classes.length, input, (x) => model.forward(x, { training: false }), chunk);
}

/** Logits of model input already in memory (pixels or points): f32 [count, ...sampleShape]. */
export function predictLogits(model: FineTuneModel, pixels: Float32Array, count: number, sampleShape: readonly number[], chunk?: number): Promise<Float32Array> {
  const per = sampleShape.reduce((a, b) => a * b, 1);
  return logitsOf(model, count, (start, n) => Tensor.fromData(model.ctx, [n, ...sampleShape], pixels.subarray(start * per, (start + n) * per)), chunk);
}

/** Logits and labels of a data set's samples (all, or those at `indices`), each normalised as it is copied. */
export async function datasetLogits(model: FineTuneModel, data: Dataset, indices?: readonly number[], chunk?: number): Promise<{ logits: Float32Array; labels: Int32Array }> {
  const pick = indices ?? Array.from({ length: data.count }, (_, i) => i);
  const per = sampleSize(data);
  const labels = Int32Array.from(pick, (index) => data.labels[index]!);
  const input: BatchInput = (start, n) => {
    const pixels = new Float32Array(n * per);
    for (let k = 0; k < n; k++) copyImage(data, pick[start + k]!, pixels, k * per);
    return Tensor.fromData(model.ctx, [n, ...data.sampleShape], pixels);
  };
  return { logits: await logitsOf(model, pick.length, input, chunk), labels };
}

export interface TopClass {
  class: string;
  index: number;
  probability: number;
}

/** The `k` most likely classes of one row of logits, with softmax probabilities (ties: lower index first). */
export function topClasses(logits: Float32Array, classes: readonly string[], k = 5): TopClass[] {
  const max = Math.max(...logits);
  const exps = Array.from(logits, (v) => Math.exp(v - max));
  const sum = exps.reduce((a, v) => a + v, 0);
  return exps
    .map((e, index) => ({ class: classes[index]!, index, probability: e / sum }))
    .sort((x, y) => y.probability - x.probability || x.index - y.index)
    .slice(0, k);
}

/** The backbone's stored classifier as a `head` adapter: predictions then take the trained models' path. */
export async function backboneHeadAdapter(classes: string[], read: (name: string) => Promise<Float32Array>): Promise<AdapterFile> {
  const tensors = new Map([
    ['head.weight', await read('head.weight')],
    ['head.bias', await read('head.bias')],
  ]);
  return { settings: { ...DEFAULT_ADAPTER_SETTINGS, method: 'head', targets: [] }, classes, tensors, metadata: {} };
}
