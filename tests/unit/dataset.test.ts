// 8-bit data sets (what the web app trains on) must feed the model exactly what the f32 form of the same
// images would: batches, augmented batches and a whole training run.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readAdapterFile } from '../../src/clora/files';
import { createFineTuneModel } from '../../src/clora/model';
import { augmentInto } from '../../src/data/augment';
import { copyImage, gatherBatch, imageDims, inputPixels, type Dataset } from '../../src/data/dataset';
import { loadTensorDataset } from '../../src/data/load-node';
import { bytesSource, openSafetensors } from '../../src/io/safetensors';
import { vitConfigFromShapes } from '../../src/nn/vit';
import { Rng } from '../../src/train/rng';
import { Trainer } from '../../src/train/trainer';
import { freshGpu } from '../helpers/gpu';

const root = new URL('../../', import.meta.url).pathname;
const mean = [0.485, 0.456, 0.406];
const std = [0.229, 0.224, 0.225];

/** Seeded 8-bit images and the f32 data set a loader would have made from them. */
function pair(count: number, shape: [number, number, number], classes: number, seed: number): { bytes: Dataset; floats: Dataset } {
  const rng = new Rng(seed);
  const [c, h, w] = shape;
  const plane = h * w;
  const raw = Uint8Array.from({ length: count * c * plane }, () => Math.floor(rng.next() * 256));
  const floats = new Float32Array(raw.length);
  raw.forEach((v, i) => {
    const channel = Math.floor(i / plane) % c;
    floats[i] = (v / 255 - mean[channel]!) / std[channel]!;
  });
  const labels = Int32Array.from({ length: count }, (_, i) => i % classes);
  const common = { classes: Array.from({ length: classes }, (_, i) => `class ${i}`), sampleShape: shape, count, labels, skipped: [] };
  return { bytes: { ...common, inputs: raw, normalize: { mean, std } }, floats: { ...common, inputs: floats } };
}

function maxDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  return a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);
}

describe('8-bit data sets', () => {
  it('normalise each channel as the image is copied out', () => {
    const { bytes, floats } = pair(5, [3, 7, 9], 2, 1);
    const per = 3 * 7 * 9;
    const out = new Float32Array(per + 3);
    copyImage(bytes, 4, out, 3);
    expect(maxDiff(out.subarray(3), floats.inputs.subarray(4 * per, 5 * per) as Float32Array)).toBeLessThan(1e-6);
    expect(maxDiff(inputPixels(bytes), floats.inputs as Float32Array)).toBeLessThan(1e-6);
    expect(inputPixels(floats)).toBe(floats.inputs);
  });

  it('give the same batches and augmented batches as f32', () => {
    const { bytes, floats } = pair(6, [3, 11, 13], 3, 2);
    const per = 3 * 11 * 13;
    const indices = [5, 0, 3];
    const [a, b] = [new Float32Array(3 * per), new Float32Array(3 * per)];
    const [la, lb] = [new Float32Array(3), new Float32Array(3)];
    gatherBatch(bytes, indices, a, la);
    gatherBatch(floats, indices, b, lb);
    expect(maxDiff(a, b)).toBeLessThan(1e-6);
    expect([...la]).toEqual([2, 0, 0]);
    expect([...la]).toEqual([...lb]);
    const options = { flip: true, randomResizedCrop: true };
    augmentInto(bytes, indices, a, la, new Rng(7), options);
    augmentInto(floats, indices, b, lb, new Rng(7), options);
    expect(maxDiff(a, b)).toBeLessThan(1e-5);
  });

  it('refuse to be read without normalisation parameters, saying what is missing', () => {
    const { bytes } = pair(1, [3, 2, 2], 2, 3);
    expect(() => copyImage({ ...bytes, normalize: undefined }, 0, new Float32Array(12), 0)).toThrow(/8-bit pixels need normalisation parameters/);
  });

  it('train to the same adapter as the f32 form of the same images', async () => {
    const backbone = await openSafetensors(bytesSource(new Uint8Array(readFileSync(join(root, 'tests/fixtures/train/backbone.safetensors')))));
    const cfg = vitConfigFromShapes(new Map([...backbone.tensors].map(([n, t]) => [n, t.shape] as const)), 3);
    const init = await readAdapterFile(await openSafetensors(bytesSource(new Uint8Array(readFileSync(join(root, 'tests/fixtures/train/init_clora.safetensors'))))), cfg);
    const shape = imageDims(await loadTensorDataset(join(root, 'tests/fixtures/train/data.safetensors')));
    const { bytes, floats } = pair(6, shape, init.classes.length, 4);
    const results: Map<string, Float32Array>[] = [];
    for (const data of [bytes, floats]) {
      const ctx = await freshGpu();
      const model = await createFineTuneModel(ctx, cfg, { ...init.settings, dropout: 0 }, init.classes, (n) => backbone.readF32(n), init.tensors);
      const trainer = await Trainer.create(model, data, { optimizer: 'adamw', lr: 0.01, weightDecay: 0.05, steps: 3, batchSize: 3, warmup: 0, labelSmoothing: 0, seed: 1, shuffle: true, logEvery: 1, augment: { flip: true, randomResizedCrop: true } });
      expect(await trainer.run()).toBe('done');
      results.push(await model.parts.trainable.readAll());
      trainer.dispose();
      ctx.destroy();
    }
    for (const [name, values] of results[0]!) expect(maxDiff(values, results[1]!.get(name)!), name).toBeLessThan(1e-5);
  });
});
