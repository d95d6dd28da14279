import { describe, expect, it } from 'vitest';
import * as ops from '../../src/autodiff/ops/elementwise';
import { mean, sum } from '../../src/autodiff/ops/reduce';
import { refOps } from '../reference/ops';
import { gpu } from '../helpers/gpu';
import { checkOp, rand } from '../helpers/oracle';

const SHAPES: number[][] = [[1], [7], [33, 5], [3, 65], [2, 197, 3]];

describe('elementwise ops against the f64 reference', () => {
  for (const shape of SHAPES) {
    it(`add, mul, scale, gelu on ${JSON.stringify(shape)}`, async () => {
      const ctx = await gpu();
      const a = rand(shape, 1);
      const b = rand(shape, 2);
      await checkOp(ctx, { ref: refOps.add, opts: undefined, inputs: [a, b], grad: [0, 1], engine: ([x, y]) => ops.add(x!, y!) });
      await checkOp(ctx, { ref: refOps.mul, opts: undefined, inputs: [a, b], grad: [0, 1], engine: ([x, y]) => ops.mul(x!, y!) });
      await checkOp(ctx, { ref: refOps.scale, opts: { s: -0.37 }, inputs: [a], grad: [0], engine: ([x]) => ops.scale(x!, -0.37) });
      await checkOp(ctx, { ref: refOps.gelu, opts: undefined, inputs: [rand(shape, 3, 3)], grad: [0], engine: ([x]) => ops.gelu(x!) });
    });
  }

  it('add broadcasts a bias over leading dimensions, and its gradient sums back', async () => {
    const ctx = await gpu();
    await checkOp(ctx, {
      ref: refOps.add,
      opts: undefined,
      inputs: [rand([5, 7, 33], 4), rand([33], 5)],
      grad: [0, 1],
      engine: ([x, y]) => ops.add(x!, y!),
    });
  });

  it('an input used twice accumulates both gradients', async () => {
    const ctx = await gpu();
    await checkOp(ctx, {
      ref: { name: 'square', forward: ([x]) => refOps.mul.forward([x!, x!]), backward: ([x], _o, g) => {
        const [ga, gb] = refOps.mul.backward([x!, x!], undefined, g);
        return [{ shape: ga!.shape, data: ga!.data.map((v, i) => v + gb!.data[i]!) }];
      } },
      opts: undefined,
      inputs: [rand([65], 6)],
      grad: [0],
      engine: ([x]) => ops.mul(x!, x!),
    });
  });

  it('rejects mismatched shapes when the op is built, naming both', async () => {
    const ctx = await gpu();
    const { Tensor } = await import('../../src/autodiff/tensor');
    const a = Tensor.zeros(ctx, [3, 4]);
    const b = Tensor.zeros(ctx, [5]);
    expect(() => ops.add(a, b)).toThrow(/\[5\].*\[3, 4\]/);
    expect(() => ops.mul(a, b)).toThrow(/\[3, 4\] and \[5\]/);
    a.dispose();
    b.dispose();
  });
});

describe('reductions against the f64 reference', () => {
  const cases: [number[], number][] = [[[7], 0], [[33, 5], 0], [[33, 5], 1], [[3, 65, 7], 1], [[2, 3, 197], 2], [[1, 1], 1]];
  for (const [shape, axis] of cases) {
    it(`sum and mean of ${JSON.stringify(shape)} over axis ${axis}`, async () => {
      const ctx = await gpu();
      const x = rand(shape, 7);
      await checkOp(ctx, { ref: refOps.sum, opts: { axis }, inputs: [x], grad: [0], engine: ([t]) => sum(t!, axis) });
      await checkOp(ctx, { ref: refOps.mean, opts: { axis }, inputs: [x], grad: [0], engine: ([t]) => mean(t!, axis) });
    });
  }
});
