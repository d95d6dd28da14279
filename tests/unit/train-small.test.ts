// A small attention + MLP network (a one-block ViT) trained end to end on the GPU: the loss falls, and a
// repeated step reaches a steady state where the buffer pool allocates nothing more.
import { describe, expect, it } from 'vitest';
import { ParameterStore } from '../../src/autodiff/params';
import { crossEntropy } from '../../src/autodiff/ops/loss';
import { Tape } from '../../src/autodiff/tape';
import { Tensor } from '../../src/autodiff/tensor';
import type { GpuContext } from '../../src/gpu/context';
import { decays, VisionTransformer, vitShapes, type VitConfig } from '../../src/nn/vit';
import { AdamW } from '../../src/train/optimizer';
import { mulberry32 } from '../reference/ops';
import { seededTensor } from '../helpers/seeded-weights';
import { freshGpu } from '../helpers/gpu';

const CFG: VitConfig = { depth: 1, dim: 16, heads: 2, patch: 4, imageSize: 8, channels: 3, mlpDim: 32, tokens: 5, classes: 3 };
const BATCH = 12;

/** Images whose class is the colour channel that carries a bright blob: learnable, but not by the bias alone. */
function makeData(seed: number): { pixels: Float32Array; labels: Float32Array } {
  const rng = mulberry32(seed);
  const size = CFG.imageSize;
  const pixels = new Float32Array(BATCH * 3 * size * size);
  const labels = new Float32Array(BATCH);
  for (let b = 0; b < BATCH; b++) {
    const label = b % 3;
    labels[b] = label;
    const cy = Math.floor(rng() * size);
    const cx = Math.floor(rng() * size);
    for (let c = 0; c < 3; c++)
      for (let y = 0; y < size; y++)
        for (let x = 0; x < size; x++) {
          const blob = c === label && Math.abs(y - cy) <= 2 && Math.abs(x - cx) <= 2 ? 2 : 0;
          pixels[((b * 3 + c) * size + y) * size + x] = blob + 0.5 * (rng() * 2 - 1);
        }
  }
  return { pixels, labels };
}

async function setup(ctx: GpuContext) {
  const shapes = vitShapes(CFG);
  const store = await ParameterStore.create(ctx, [...shapes].map(([name, shape]) => ({ name, shape, decay: decays(name, shape) })));
  for (const [name, shape] of shapes) store.upload(name, seededTensor(name, shape, 42));
  const optimizer = await AdamW.create(store, { lr: 3e-3, weightDecay: 1e-4 });
  const model = new VisionTransformer(CFG, (n) => store.get(n));
  const data = makeData(7);
  const pixels = Tensor.fromData(ctx, [BATCH, 3, CFG.imageSize, CFG.imageSize], data.pixels);
  const labels = Tensor.fromData(ctx, [BATCH], data.labels);
  /** One training step: forward, backward, update; returns the loss tensor (kept alive until the next step). */
  let previousLoss: Tensor | undefined;
  let previousTape: Tape | undefined;
  const step = (): Tensor => {
    previousTape?.dispose([]);
    previousLoss?.dispose();
    store.zeroGrad();
    const tape = new Tape(ctx);
    const loss = crossEntropy(model.forward(pixels), labels);
    tape.backward(loss);
    tape.end();
    optimizer.step();
    ctx.flush();
    previousTape = tape;
    return loss;
  };
  return { store, optimizer, step };
}

describe('a small attention + MLP network on the GPU', () => {
  it('trains for 50 steps and the loss falls', async () => {
    const ctx = await freshGpu();
    const { step } = await setup(ctx);
    const losses: number[] = [];
    for (let i = 0; i < 50; i++) {
      const loss = step();
      if (i === 0 || i === 49) losses.push((await loss.read())[0]!);
    }
    const [first, last] = losses as [number, number];
    expect(first).toBeGreaterThan(0.5);
    expect(last).toBeLessThan(first * 0.5);
    ctx.destroy();
  });

  it('allocates nothing more after warm-up: the pool holds the same bytes after step 20 and step 200', async () => {
    const ctx = await freshGpu();
    const { step } = await setup(ctx);
    let at20 = { bytes: 0, allocations: 0 };
    const submissionsBefore = ctx.stats.submissions;
    for (let i = 1; i <= 200; i++) {
      step();
      if (i % 20 === 0) await ctx.sync();
      if (i === 20) at20 = { bytes: ctx.pool.allocatedBytes, allocations: ctx.pool.allocations };
    }
    expect(ctx.pool.allocatedBytes).toBe(at20.bytes);
    expect(ctx.pool.allocations).toBe(at20.allocations);
    // One queue submission per step (sync adds none: the step already flushed).
    expect(ctx.stats.submissions - submissionsBefore).toBe(200);
    ctx.destroy();
  });
});
