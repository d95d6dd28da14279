// The mini-PointNet's own ops against the f64 reference, values and gradients three ways (engine, reference
// analytic, finite differences): the max over a group or over tokens, the [global, per-point] concatenation,
// and BatchNorm (evaluation mode) folded into the linear map before it.
import { describe, expect, it } from 'vitest';
import { linear } from '../../src/autodiff/ops/matmul';
import { concatGlobal, foldBatchNorm, maxOverGroup, maxOverTokens } from '../../src/autodiff/ops/pointnet';
import { Tape } from '../../src/autodiff/tape';
import { Tensor } from '../../src/autodiff/tensor';
import { tensor } from '../reference/ops';
import { concatGlobal as concatGlobalRef, linearBatchNorm, maxAlong } from '../reference/points';
import { gpu } from '../helpers/gpu';
import { checkOp, rand } from '../helpers/oracle';

describe('max over a group and over tokens', () => {
  const shapes: [number, number, number][] = [[1, 1, 1], [3, 7, 5], [10, 32, 33], [2, 33, 65]];
  for (const [R, K, C] of shapes) {
    it(`maxOverGroup [${R}, ${K}, ${C}]`, async () => {
      const ctx = await gpu();
      await checkOp(ctx, { ref: maxAlong, opts: { offset: 0 }, inputs: [rand([R, K, C], R + K + C)], grad: [0], engine: ([x]) => maxOverGroup(x!) });
    });
  }

  it('maxOverTokens skips the class token, and its gradient reaches only the tokens it read', async () => {
    const ctx = await gpu();
    await checkOp(ctx, { ref: maxAlong, opts: { offset: 1 }, inputs: [rand([3, 18, 24], 3)], grad: [0], engine: ([x]) => maxOverTokens(x!, 1) });
    await checkOp(ctx, { ref: maxAlong, opts: { offset: 4 }, inputs: [rand([1, 5, 7], 4)], grad: [0], engine: ([x]) => maxOverTokens(x!, 4) });
  });

  it('a tie sends the whole gradient to the lowest index', async () => {
    const ctx = await gpu();
    const tape = new Tape(ctx);
    try {
      // Group 0: entries 1 and 3 tie at 2; group 1: all equal.
      const x = Tensor.fromData(ctx, [2, 4, 1], [0, 2, 1, 2, 5, 5, 5, 5]);
      x.requiresGrad = true;
      const y = maxOverGroup(x);
      expect([...(await y.read())]).toEqual([2, 5]);
      tape.backward(y, Tensor.fromData(ctx, [2, 1], [10, 20]));
      expect([...(await x.grad!.read())]).toEqual([0, 10, 0, 0, 20, 0, 0, 0]);
    } finally {
      tape.dispose();
    }
  });
});

describe('[global feature repeated, per-point feature] concatenation', () => {
  const shapes: [number, number, number, number][] = [[1, 1, 1, 1], [3, 7, 5, 9], [6, 32, 17, 33]];
  for (const [R, K, C1, C2] of shapes) {
    it(`g [${R}, ${C1}], f [${R}, ${K}, ${C2}]`, async () => {
      const ctx = await gpu();
      await checkOp(ctx, { ref: concatGlobalRef, opts: undefined, inputs: [rand([R, C1], 1), rand([R, K, C2], 2)], grad: [0, 1], engine: ([g, f]) => concatGlobal(g!, f!) });
    });
  }
});

describe('BatchNorm (evaluation mode) folded into the linear map before it', () => {
  // Running variances away from 0 and BatchNorm weights away from 1, so the fold changes every value.
  const variance = (o: number, seed: number) => tensor([o], rand([o], seed).data.map((v) => 0.3 + v * v));
  const shapes: [number, number, number][] = [[1, 1, 1], [37, 3, 13], [29, 17, 5]];
  for (const [N, I, O] of shapes) {
    it(`x [${N}, ${I}] · W [${O}, ${I}]: values and gradients of x, W, b, γ, β (not of the running statistics)`, async () => {
      const ctx = await gpu();
      const inputs = [rand([N, I], 1), rand([O, I], 2), rand([O], 3), rand([O], 4, 0.5), rand([O], 5), rand([O], 6), variance(O, 7)];
      inputs[3] = tensor([O], inputs[3]!.data.map((v) => 1 + v));
      await checkOp(ctx, {
        ref: linearBatchNorm,
        opts: { eps: 1e-5 },
        inputs,
        grad: [0, 1, 2, 3, 4],
        engine: ([x, w, b, gamma, beta, mean, runningVar]) => {
          const folded = foldBatchNorm(w!, b!, { weight: gamma!, bias: beta!, runningMean: mean!, runningVar: runningVar! }, 1e-5);
          return linear(x!, folded.weight, folded.bias);
        },
      });
    });
  }

  it('refuses mismatched shapes, naming them, and running statistics that ask for a gradient', async () => {
    const ctx = await gpu();
    const tape = new Tape(ctx);
    try {
      const w = Tensor.zeros(ctx, [4, 3]);
      const v = (n: number) => Tensor.zeros(ctx, [n]);
      expect(() => foldBatchNorm(w, v(4), { weight: v(4), bias: v(4), runningMean: v(5), runningVar: v(4) }, 1e-5)).toThrow(/running mean \[5\] must be \[4\]/);
      const mean = v(4);
      mean.requiresGrad = true;
      expect(() => foldBatchNorm(w, v(4), { weight: v(4), bias: v(4), runningMean: mean, runningVar: v(4) }, 1e-5)).toThrow(/running statistics never train/);
    } finally {
      tape.dispose();
    }
  });
});
