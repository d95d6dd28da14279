import { describe, expect, it } from 'vitest';
import { augmentInto } from '../../src/data/augment';
import type { Dataset } from '../../src/data/dataset';
import { Rng } from '../../src/train/rng';

// One 3×4×5 image whose value encodes its position, so flips and crops are visible.
const H = 4;
const W = 5;
const data: Dataset = {
  classes: ['a', 'b'],
  sampleShape: [3, H, W],
  count: 2,
  inputs: Float32Array.from({ length: 2 * 3 * H * W }, (_, i) => i % (H * W)),
  labels: Int32Array.from([0, 1]),
  skipped: [],
};

describe('augmentation', () => {
  it('a flip mirrors each row; without crop nothing else changes', () => {
    const pixels = new Float32Array(3 * H * W);
    const labels = new Float32Array(1);
    let flipped = 0;
    const rng = new Rng(3);
    for (let trial = 0; trial < 40; trial++) {
      augmentInto(data, [1], pixels, labels, rng, { flip: true, randomResizedCrop: false });
      expect(labels[0]).toBe(1);
      const isFlipped = pixels[0] === W - 1;
      if (isFlipped) flipped++;
      for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) expect(pixels[y * W + x]).toBe(y * W + (isFlipped ? W - 1 - x : x));
    }
    expect(flipped).toBeGreaterThan(8);
    expect(flipped).toBeLessThan(32);
  });

  it('a random resized crop stays within the source values and is reproducible from the seed', () => {
    const a = new Float32Array(3 * H * W);
    const b = new Float32Array(3 * H * W);
    const labels = new Float32Array(1);
    augmentInto(data, [0], a, labels, new Rng(9), { flip: false, randomResizedCrop: true });
    augmentInto(data, [0], b, labels, new Rng(9), { flip: false, randomResizedCrop: true });
    expect([...a]).toEqual([...b]);
    expect(a.every((v) => v >= 0 && v <= H * W - 1)).toBe(true);
    // A crop zooms in: some values differ from the untouched image.
    expect(a.some((v, i) => Math.abs(v - (i % (H * W))) > 1e-6)).toBe(true);
  });
});
