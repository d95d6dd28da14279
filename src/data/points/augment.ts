// Training-time augmentation of point batches, as Point-MAE's fine-tuning does it (datasets/data_transforms.py):
// per cloud, scale each axis by U(2/3, 3/2) and translate it by U(−0.2, 0.2) (PointcloudScaleAndTranslate,
// the one transform Point-MAE's classification fine-tuning applies); optionally first a rotation about the
// up axis y by U(0, 2π) (PointcloudRotate: p ← p·R, R = [[c, 0, s], [0, 1, 0], [−s, 0, c]]) and last a
// jitter of every coordinate by N(0, 0.01²) clipped to ±0.05 (PointcloudJitter). Drawn from the trainer's
// RNG so a seeded run is reproducible. Same shape as augmentInto (src/data/augment.ts) for images.
import type { Rng } from '../../train/rng';
import { DatasetError, type Dataset } from '../dataset';
import { shapeText } from '../../gpu/errors';

export interface PointAugmentOptions {
  scaleAndTranslate: boolean;
  rotate: boolean;
  jitter: boolean;
}

export const SCALE_RANGE = [2 / 3, 3 / 2] as const;
export const TRANSLATE_RANGE = 0.2;
export const JITTER_STD = 0.01;
export const JITTER_CLIP = 0.05;

/** Copies the clouds `indices` of a [count, P, 3] data set into `points`, augmented, and their labels into `labels`. */
export function augmentPointsInto(data: Dataset, indices: readonly number[], points: Float32Array, labels: Float32Array, rng: Rng, opts: PointAugmentOptions): void {
  const [p, three] = data.sampleShape;
  if (data.sampleShape.length !== 2 || three !== 3 || p === undefined || !(data.inputs instanceof Float32Array)) {
    throw new DatasetError(`Point augmentation needs point clouds of shape [P, 3] as f32; the data set holds samples of shape ${shapeText(data.sampleShape)}.`);
  }
  const per = p * 3;
  const inputs = data.inputs;
  indices.forEach((index, k) => {
    labels[k] = data.labels[index]!;
    const src = index * per;
    const dst = k * per;
    let cos = 1;
    let sin = 0;
    if (opts.rotate) {
      const angle = rng.next() * 2 * Math.PI;
      cos = Math.cos(angle);
      sin = Math.sin(angle);
    }
    const scale = [1, 1, 1];
    const shift = [0, 0, 0];
    if (opts.scaleAndTranslate) {
      for (let a = 0; a < 3; a++) scale[a] = rng.uniform(SCALE_RANGE[0], SCALE_RANGE[1]);
      for (let a = 0; a < 3; a++) shift[a] = rng.uniform(-TRANSLATE_RANGE, TRANSLATE_RANGE);
    }
    for (let i = 0; i < p; i++) {
      const x = inputs[src + i * 3]!;
      const y = inputs[src + i * 3 + 1]!;
      const z = inputs[src + i * 3 + 2]!;
      // Row vector times R: x' = x·c − z·s, z' = x·s + z·c.
      points[dst + i * 3] = (x * cos - z * sin) * scale[0]! + shift[0]!;
      points[dst + i * 3 + 1] = y * scale[1]! + shift[1]!;
      points[dst + i * 3 + 2] = (x * sin + z * cos) * scale[2]! + shift[2]!;
    }
    if (opts.jitter) {
      for (let j = 0; j < per; j++) points[dst + j] = points[dst + j]! + Math.max(-JITTER_CLIP, Math.min(JITTER_CLIP, JITTER_STD * rng.normal()));
    }
  });
}
