// Cross-entropy on both paths of one device: shaders/softmax_xent_subgroup.wgsl (one row per one-subgroup
// workgroup, subgroupMax / subgroupAdd) where the adapter offers `subgroups` of one fixed size — Mesa's
// lavapipe does, 8 — and the portable shaders/softmax_xent.wgsl, each against the f64 reference with the
// logit gradient, plus ignored rows (labels outside [0, C)) and the two paths against each other.
import { describe, expect, it } from 'vitest';
import { crossEntropy } from '../../src/autodiff/ops/loss';
import { Tensor } from '../../src/autodiff/tensor';
import { crossEntropyForward } from '../../src/kernels/loss';
import { fixedSubgroupSize } from '../../src/kernels/subgroups';
import { mulberry32, refOps, tensor, type RefTensor } from '../reference/ops';
import { gpu, gpuWithSubgroups } from '../helpers/gpu';
import { checkOp, rand } from '../helpers/oracle';

function labelsFor(N: number, C: number, seed: number): RefTensor {
  const rng = mulberry32(seed);
  return tensor([N], Array.from({ length: N }, () => Math.floor(rng() * C)));
}

const SHAPES: [number, number][] = [[1, 1], [1, 7], [7, 33], [65, 10], [7, 197], [33, 5], [3, 1000]];

describe('cross-entropy with subgroup reductions, where the adapter has them', () => {
  it('uses them exactly when the adapter offers subgroups of one fixed size', async () => {
    const ctx = await gpuWithSubgroups(true);
    const logits = Tensor.zeros(ctx, [8, 10]);
    const labels = Tensor.zeros(ctx, [8]);
    const kernels = (): string[] => ctx.dryRun(() => crossEntropy(logits, labels).dispose()).specs.map((s) => `${s.shader}:${s.entry}`);
    if (fixedSubgroupSize(ctx) > 0) expect(kernels()).toEqual(['softmax_xent_subgroup:loss_only', 'reduce_subgroup:sum_last_vec4']);
    ctx.useSubgroups = false;
    expect(kernels()).toEqual(['softmax_xent:loss_only', 'reduce:sum_last']);
    logits.dispose();
    labels.dispose();
  });

  for (const on of [true, false]) {
    const path = on ? 'subgroup path (or its fallback)' : 'portable path';
    it(`${path}: loss and logit gradient on odd shapes, with and without label smoothing, and large logits`, async () => {
      const ctx = await gpuWithSubgroups(on);
      for (const [N, C] of SHAPES) {
        for (const labelSmoothing of [0, 0.1]) {
          await checkOp(ctx, {
            ref: refOps.crossEntropy,
            opts: { labelSmoothing },
            inputs: [rand([N, C], N * 31 + C, 2), labelsFor(N, C, C)],
            grad: N * C > 2000 ? [] : [0],
            engine: ([logits, labels]) => crossEntropy(logits!, labels!, { labelSmoothing }),
          });
        }
      }
      await checkOp(ctx, {
        ref: refOps.crossEntropy,
        opts: { labelSmoothing: 0.1 },
        inputs: [rand([9, 65], 5, 60), labelsFor(9, 65, 6)],
        grad: [0],
        engine: ([logits, labels]) => crossEntropy(logits!, labels!, { labelSmoothing: 0.1 }),
      });
    });
  }

  it('both paths agree, ignored rows (labels −1, C, NaN) included, loss only and with the gradient', async () => {
    const ctx = await gpu();
    const N = 197;
    const C = 33;
    const labelData = Float32Array.from(labelsFor(N, C, 3).data);
    labelData[4] = -1;
    labelData[50] = C;
    labelData[196] = Number.NaN;
    const logits = Tensor.fromData(ctx, [N, C], Float32Array.from(rand([N, C], 9, 3).data));
    const labels = Tensor.fromData(ctx, [N], labelData);
    const saved = ctx.useSubgroups;
    const results: Float32Array[][] = [];
    try {
      for (const on of [true, false]) {
        ctx.useSubgroups = on;
        const rowLoss = Tensor.empty(ctx, [N]);
        const loss = Tensor.empty(ctx, [1]);
        const grad = Tensor.empty(ctx, [N, C]);
        const rowLossOnly = Tensor.empty(ctx, [N]);
        const lossOnly = Tensor.empty(ctx, [1]);
        crossEntropyForward(ctx, logits, labels, rowLoss, loss, grad, N, C, 0.1);
        crossEntropyForward(ctx, logits, labels, rowLossOnly, lossOnly, null, N, C, 0.1);
        results.push(await ctx.readMany([rowLoss, loss, grad, rowLossOnly, lossOnly]));
        for (const t of [rowLoss, loss, grad, rowLossOnly, lossOnly]) t.dispose();
      }
    } finally {
      ctx.useSubgroups = saved;
    }
    const [sub, portable] = results as [Float32Array[], Float32Array[]];
    for (let k = 0; k < 5; k++) {
      sub[k]!.forEach((v, i) => expect(Math.abs(v - portable[k]![i]!), `output ${k} at ${i}`).toBeLessThan(1e-5 * Math.max(1, Math.abs(portable[k]![i]!))));
    }
    for (const r of [4, 50, 196]) {
      expect(sub[0]![r]).toBe(0);
      expect(sub[2]!.slice(r * C, (r + 1) * C).every((v) => v === 0)).toBe(true);
    }
    expect(sub[1]![0]).toBeCloseTo(sub[4]![0]!, 6);
    logits.dispose();
    labels.dispose();
  });
});
