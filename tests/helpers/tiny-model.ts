// A seeded tiny ViT (depth 3, width 32, 2 heads, 16² input, 17 tokens) with an adapter and a random data set:
// small enough for the emulated GPU, deep enough for the trainer's plans, recomputation and precision tests.
import { createFineTuneModel, initialTensors, type FineTuneModel } from '../../src/clora/model';
import { DEFAULT_ADAPTER_SETTINGS, type AdapterSettings } from '../../src/clora/settings';
import type { Dataset } from '../../src/data/dataset';
import type { GpuContext } from '../../src/gpu/context';
import { vitShapes, type VitConfig } from '../../src/nn/vit';
import { Rng } from '../../src/train/rng';
import { seededTensor } from './seeded-weights';

export const TINY_VIT: VitConfig = { depth: 3, dim: 32, heads: 2, patch: 4, imageSize: 16, channels: 3, mlpDim: 64, tokens: 17, classes: 0 };
export const TINY_CLASSES = ['a', 'b', 'c'];

/** `count` images of uniform noise in [−1, 1), labels cycling through the classes. */
export function tinyDataset(count: number, seed: number): Dataset {
  const rng = new Rng(seed);
  const per = 3 * TINY_VIT.imageSize * TINY_VIT.imageSize;
  const pixels = Float32Array.from({ length: count * per }, () => rng.uniform(-1, 1));
  const labels = Int32Array.from({ length: count }, (_, i) => i % TINY_CLASSES.length);
  return { classes: TINY_CLASSES, sampleShape: [3, TINY_VIT.imageSize, TINY_VIT.imageSize], count, inputs: pixels, labels, skipped: [] };
}

/** The tiny ViT with seeded weights and an adapter (CLoRA rank 4, 2 spaces, on q and v unless `settings` say otherwise). */
export async function tinyModel(ctx: GpuContext, settings: Partial<AdapterSettings> = {}): Promise<FineTuneModel> {
  const s: AdapterSettings = { ...DEFAULT_ADAPTER_SETTINGS, rank: 4, spaces: 2, targets: ['q', 'v'], ...settings };
  const start = initialTensors(TINY_VIT, s, TINY_CLASSES.length, new Rng(3));
  // A non-zero up bank, so the branch (and its dropout) changes the output and the gradients.
  for (const [name, data] of start) if (name.startsWith('clora.up.') || name.startsWith('lora.up.')) data.set(seededTensor(name, [1, data.length], 9));
  const shapes = vitShapes(TINY_VIT);
  return createFineTuneModel(ctx, TINY_VIT, s, TINY_CLASSES, async (name) => seededTensor(name, shapes.get(name)!, 5), start);
}
