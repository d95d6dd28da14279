// An in-memory labelled data set, already preprocessed to the model's input ([3, H, W] per image, or
// [P, 3] per point cloud), with helpers to cut it into batches and to check labels on the CPU (the loss
// kernel cannot report them).
import { shapeText } from '../gpu/errors';

export interface Dataset {
  classes: string[];
  /** One sample's shape: [3, H, W] for an image, [P, 3] for a point cloud. */
  sampleShape: readonly number[];
  count: number;
  /**
   * [count, ...sampleShape]: model input (normalised pixels or points), or, for images only, 8-bit channel
   * planes normalised as each image is copied out (a quarter of the memory: 5,000 images at 224² take
   * 750 MB instead of 3 GB).
   */
  inputs: Float32Array | Uint8Array;
  /** How 8-bit pixels become model input, (v / 255 − mean[c]) / std[c]; required with Uint8Array inputs. */
  normalize?: { mean: readonly number[]; std: readonly number[] };
  labels: Int32Array;
  /** Files that could not be used, with the reason (folder data sets). */
  skipped: { file: string; reason: string }[];
}

export class DatasetError extends Error {
  override name = 'DatasetError';
}

export function checkDataset(data: Dataset): void {
  if (data.count === 0) throw new DatasetError('The data set holds no usable samples.');
  const c = data.classes.length;
  for (let i = 0; i < data.count; i++) {
    const label = data.labels[i]!;
    if (!Number.isInteger(label) || label < 0 || label >= c) throw new DatasetError(`Label ${label} of sample ${i} is outside the ${c} classes (0..${c - 1}).`);
  }
  const used = new Set(data.labels);
  if (used.size < 2) throw new DatasetError(`The data set has only one class (${data.classes[data.labels[0]!] ?? data.labels[0]}); training needs at least two.`);
}

/** "6 images", "1 point cloud": a count of this data set's kind of sample. */
export function countText(data: Pick<Dataset, 'sampleShape'>, count: number): string {
  const noun = data.sampleShape.length === 2 ? 'point cloud' : 'image';
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

/** Elements in one sample (3·H·W or P·3). */
export function sampleSize(data: Pick<Dataset, 'sampleShape'>): number {
  return data.sampleShape.reduce((a, b) => a * b, 1);
}

/** [channels, H, W] of an image data set; a sentence when the samples are not images. */
export function imageDims(data: Pick<Dataset, 'sampleShape'>): [number, number, number] {
  const [channels, h, w] = data.sampleShape;
  if (data.sampleShape.length !== 3 || channels === undefined || h === undefined || w === undefined) {
    throw new DatasetError(`This needs images of shape [3, H, W]; the data set holds samples of shape ${shapeText(data.sampleShape)}.`);
  }
  return [channels, h, w];
}

/** Writes sample `index` as model input into `out` at `offset`. */
export function copyImage(data: Dataset, index: number, out: Float32Array, offset: number): void {
  const per = sampleSize(data);
  const inputs = data.inputs;
  if (inputs instanceof Float32Array) {
    out.set(inputs.subarray(index * per, (index + 1) * per), offset);
    return;
  }
  const [channels, h, w] = imageDims(data);
  const plane = h * w;
  const pixels = inputs;
  const normalize = data.normalize;
  if (!normalize) throw new DatasetError('8-bit pixels need normalisation parameters (mean and std).');
  for (let c = 0; c < channels; c++) {
    const scale = 1 / (255 * normalize.std[c]!);
    const shift = normalize.mean[c]! / normalize.std[c]!;
    const from = index * per + c * plane;
    const to = offset + c * plane;
    for (let q = 0; q < plane; q++) out[to + q] = pixels[from + q]! * scale - shift;
  }
}

/** Every image as model input, [count, 3, H, W] f32 (a view when the data set already holds f32). */
export function inputPixels(data: Dataset): Float32Array {
  if (data.inputs instanceof Float32Array) return data.inputs;
  const per = sampleSize(data);
  const out = new Float32Array(data.count * per);
  for (let i = 0; i < data.count; i++) copyImage(data, i, out, i * per);
  return out;
}

/** Copies the samples `indices` into a batch buffer (pixels) and label buffer (class ids as f32). */
export function gatherBatch(data: Dataset, indices: readonly number[], pixels: Float32Array, labels: Float32Array): void {
  const per = sampleSize(data);
  indices.forEach((index, k) => {
    copyImage(data, index, pixels, k * per);
    labels[k] = data.labels[index]!;
  });
}
