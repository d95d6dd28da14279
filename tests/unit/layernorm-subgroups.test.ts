// LayerNorm's two paths on one device: the subgroup kernels (one row per one-subgroup workgroup, subgroupAdd)
// where the adapter offers `subgroups` of one fixed size — Mesa's lavapipe does, 8 — and the portable workgroup-memory
// kernels, each against the f64 reference with gradients. Where the adapter lacks the feature the engine must
// fall back to the portable kernels, which is checked instead.
import { describe, expect, it } from 'vitest';
import { layerNorm } from '../../src/autodiff/ops/layernorm';
import { Tape } from '../../src/autodiff/tape';
import { Tensor } from '../../src/autodiff/tensor';
import type { GpuContext } from '../../src/gpu/context';
import { layerNormUsesSubgroups } from '../../src/kernels/layernorm';
import { refOps } from '../reference/ops';
import { gpu, gpuWithSubgroups } from '../helpers/gpu';
import { checkOp, rand } from '../helpers/oracle';

const SHAPES: number[][] = [[1, 1], [7], [7, 33], [3, 197], [40, 7], [2, 768], [2, 197, 5], [70, 24]];

async function checkShape(ctx: GpuContext, shape: number[], seed: number): Promise<void> {
  const D = shape[shape.length - 1]!;
  await checkOp(ctx, {
    ref: refOps.layerNorm,
    opts: { eps: 1e-6 },
    inputs: [rand(shape, seed, 2), rand([D], seed + 1), rand([D], seed + 2)],
    grad: [0, 1, 2],
    engine: ([x, w, b]) => layerNorm(x!, w!, b!),
  });
}

describe('LayerNorm with subgroup reductions, where the adapter has them', () => {
  it('runs the subgroup kernels exactly when the adapter offers subgroups of one fixed size', async () => {
    const ctx = await gpuWithSubgroups(true);
    const { subgroupMinSize: min, subgroupMaxSize: max } = ctx.adapter;
    expect(layerNormUsesSubgroups(ctx)).toBe(ctx.features.has('subgroups') && min > 0 && min === max);
    ctx.useSubgroups = false;
    expect(layerNormUsesSubgroups(ctx)).toBe(false);
  });

  for (const [i, shape] of SHAPES.entries()) {
    it(`subgroup path (or its fallback): forward and gradients on ${JSON.stringify(shape)}`, async () => {
      const ctx = await gpuWithSubgroups(true);
      await checkShape(ctx, shape, 50 + 3 * i);
    });
  }

  it('portable path on the same device and shapes', async () => {
    const ctx = await gpuWithSubgroups(false);
    for (const [i, shape] of SHAPES.entries()) await checkShape(ctx, shape, 50 + 3 * i);
  });

  it('both paths agree to f32 rounding on a ViT-sized input (8·197 rows of 192)', async () => {
    const ctx = await gpu();
    const [x, w, b] = [rand([8 * 197, 192], 71, 3), rand([192], 72), rand([192], 73)];
    const run = async (on: boolean) => {
      ctx.useSubgroups = on;
      const tape = new Tape(ctx);
      const tx = Tensor.fromData(ctx, x.shape, Float32Array.from(x.data));
      tx.requiresGrad = true;
      const y = layerNorm(tx, Tensor.fromData(ctx, w.shape, Float32Array.from(w.data)), Tensor.fromData(ctx, b.shape, Float32Array.from(b.data)));
      tape.backward(y);
      const [out, grad] = await ctx.readMany([y, tx.grad!]);
      tape.dispose();
      tx.dispose();
      return { out: out!, grad: grad! };
    };
    const saved = ctx.useSubgroups;
    try {
      const sub = await run(true);
      const portable = await run(false);
      const diff = (a: Float32Array, c: Float32Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - c[i]!)), 0);
      expect(diff(sub.out, portable.out)).toBeLessThan(1e-5);
      expect(diff(sub.grad, portable.grad)).toBeLessThan(1e-5);
    } finally {
      ctx.useSubgroups = saved;
    }
  });
});
