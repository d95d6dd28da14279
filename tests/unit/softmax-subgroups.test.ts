// Softmax's two paths on one device: the subgroup kernels (one row per one-subgroup workgroup, subgroupMax /
// subgroupAdd) where the adapter offers `subgroups` of one fixed size — Mesa's lavapipe does, 8 — and the
// portable workgroup-memory kernels, each against the f64 reference with gradients, with the attention scale
// folded in. Where the adapter lacks the feature the engine must fall back, which is checked instead.
import { describe, expect, it } from 'vitest';
import { softmax } from '../../src/autodiff/ops/softmax';
import { softmaxBackward, softmaxForward } from '../../src/kernels/softmax';
import { fixedSubgroupSize } from '../../src/kernels/subgroups';
import { Tensor } from '../../src/autodiff/tensor';
import { refOps, type RefTensor } from '../reference/ops';
import { gpu, gpuWithSubgroups } from '../helpers/gpu';
import { checkOp, rand } from '../helpers/oracle';

const SHAPES: number[][] = [[1], [7], [33, 5], [3, 65], [2, 197, 3], [5, 300], [1200, 50]];
const shifted = (t: RefTensor, by: number): RefTensor => ({ shape: t.shape, data: t.data.map((v) => v + by) });

describe('softmax with subgroup reductions, where the adapter has them', () => {
  it('uses them exactly when the adapter offers subgroups of one fixed size', async () => {
    const ctx = await gpuWithSubgroups(true);
    const { subgroupMinSize: min, subgroupMaxSize: max } = ctx.adapter;
    expect(fixedSubgroupSize(ctx) > 0).toBe(ctx.features.has('subgroups') && min > 0 && min === max);
    ctx.useSubgroups = false;
    expect(fixedSubgroupSize(ctx)).toBe(0);
  });

  for (const on of [true, false]) {
    const path = on ? 'subgroup path (or its fallback)' : 'portable path';
    it(`${path}: forward and gradient on odd shapes, and logits around 500`, async () => {
      const ctx = await gpuWithSubgroups(on);
      for (const [i, shape] of SHAPES.entries()) {
        await checkOp(ctx, { ref: refOps.softmax, opts: undefined, inputs: [rand(shape, 11 + i, 2)], grad: shape.length > 1 && shape[0]! > 100 ? [] : [0], engine: ([x]) => softmax(x!) });
      }
      await checkOp(ctx, { ref: refOps.softmax, opts: undefined, inputs: [shifted(rand([6, 45], 12, 40), 500)], grad: [0], engine: ([t]) => softmax(t!), fdTol: 1e-5 });
    });
  }

  it('both paths agree with the scale folded in (attention probabilities 24·50 rows of 50), forward and backward', async () => {
    const ctx = await gpu();
    const rows = 1200;
    const cols = 50;
    const x = Tensor.fromData(ctx, [rows, cols], rand([rows, cols], 81, 3).data);
    const dy = Tensor.fromData(ctx, [rows, cols], rand([rows, cols], 82).data);
    const saved = ctx.useSubgroups;
    const results: Float32Array[][] = [];
    try {
      for (const on of [true, false]) {
        ctx.useSubgroups = on;
        const y = Tensor.empty(ctx, [rows, cols]);
        const dx = Tensor.empty(ctx, [rows, cols]);
        softmaxForward(ctx, x, y, rows, cols, 0.125);
        softmaxBackward(ctx, y, dy, dx, rows, cols, 0.125);
        results.push(await ctx.readMany([y, dx]));
        y.dispose();
        dx.dispose();
      }
    } finally {
      ctx.useSubgroups = saved;
    }
    const diff = (a: Float32Array, b: Float32Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);
    expect(diff(results[0]![0]!, results[1]![0]!)).toBeLessThan(1e-6);
    expect(diff(results[0]![1]!, results[1]![1]!)).toBeLessThan(1e-6);
    // Rows sum to 1.
    const y = results[0]![0]!;
    for (let r = 0; r < rows; r += 97) expect(y.slice(r * cols, (r + 1) * cols).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
    x.dispose();
    dy.dispose();
  });
});
