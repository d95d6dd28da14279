// An in-memory labelled image set, already preprocessed to the model's input size ([3, H, W] per image),
// with helpers to cut it into batches and to check labels on the CPU (the loss kernel cannot report them).

export interface Dataset {
  classes: string[];
  /** [3, H, W] of each image. */
  imageShape: [number, number, number];
  count: number;
  /**
   * [count, 3, H, W]: normalised model input, or 8-bit channel planes normalised as each image is copied
   * out (a quarter of the memory: 5,000 images at 224² take 750 MB instead of 3 GB).
   */
  pixels: Float32Array | Uint8Array;
  /** How 8-bit pixels become model input, (v / 255 − mean[c]) / std[c]; required with Uint8Array pixels. */
  normalize?: { mean: readonly number[]; std: readonly number[] };
  labels: Int32Array;
  /** Files that could not be used, with the reason (folder data sets). */
  skipped: { file: string; reason: string }[];
}

export class DatasetError extends Error {
  override name = 'DatasetError';
}

export function checkDataset(data: Dataset): void {
  if (data.count === 0) throw new DatasetError('The data set holds no usable images.');
  const c = data.classes.length;
  for (let i = 0; i < data.count; i++) {
    const label = data.labels[i]!;
    if (!Number.isInteger(label) || label < 0 || label >= c) throw new DatasetError(`Label ${label} of sample ${i} is outside the ${c} classes (0..${c - 1}).`);
  }
  const used = new Set(data.labels);
  if (used.size < 2) throw new DatasetError(`The data set has only one class (${data.classes[data.labels[0]!] ?? data.labels[0]}); training needs at least two.`);
}

/** Writes image `index` as model input into `out` at `offset`. */
export function copyImage(data: Dataset, index: number, out: Float32Array, offset: number): void {
  const [channels, h, w] = data.imageShape;
  const plane = h * w;
  const per = channels * plane;
  const pixels = data.pixels;
  if (pixels instanceof Float32Array) {
    out.set(pixels.subarray(index * per, (index + 1) * per), offset);
    return;
  }
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
  if (data.pixels instanceof Float32Array) return data.pixels;
  const per = data.imageShape[0] * data.imageShape[1] * data.imageShape[2];
  const out = new Float32Array(data.count * per);
  for (let i = 0; i < data.count; i++) copyImage(data, i, out, i * per);
  return out;
}

/** Copies the samples `indices` into a batch buffer (pixels) and label buffer (class ids as f32). */
export function gatherBatch(data: Dataset, indices: readonly number[], pixels: Float32Array, labels: Float32Array): void {
  const per = data.imageShape[0] * data.imageShape[1] * data.imageShape[2];
  indices.forEach((index, k) => {
    copyImage(data, index, pixels, k * per);
    labels[k] = data.labels[index]!;
  });
}
