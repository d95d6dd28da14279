// An in-memory labelled image set, already preprocessed to the model's input ([3, H, W] f32 per image),
// with helpers to cut it into batches and to check labels on the CPU (the loss kernel cannot report them).

export interface Dataset {
  classes: string[];
  /** [3, H, W] of each image. */
  imageShape: [number, number, number];
  count: number;
  pixels: Float32Array;
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

/** Copies the samples `indices` into a batch buffer (pixels) and label buffer (class ids as f32). */
export function gatherBatch(data: Dataset, indices: readonly number[], pixels: Float32Array, labels: Float32Array): void {
  const per = data.imageShape[0] * data.imageShape[1] * data.imageShape[2];
  indices.forEach((index, k) => {
    pixels.set(data.pixels.subarray(index * per, (index + 1) * per), k * per);
    labels[k] = data.labels[index]!;
  });
}
