import { describe, expect, it } from 'vitest';
import { softmax } from '../../src/autodiff/ops/softmax';
import { Tensor } from '../../src/autodiff/tensor';
import { refOps, type RefTensor } from '../reference/ops';
import { gpu } from '../helpers/gpu';
import { checkOp, rand } from '../helpers/oracle';

// Row lengths below, at and above each threads-per-row step (32, 64, 128, 256 lanes).
const SHAPES: number[][] = [[1], [7], [33, 5], [3, 65], [2, 197, 3], [4, 1], [5, 300], [2, 1100]];

function shifted(t: RefTensor, offset: number): RefTensor {
  return { shape: t.shape, data: t.data.map((v) => v + offset) };
}

describe('softmax against the f64 reference', () => {
  for (const shape of SHAPES) {
    it(`forward and gradient on ${JSON.stringify(shape)}`, async () => {
      const ctx = await gpu();
      await checkOp(ctx, { ref: refOps.softmax, opts: undefined, inputs: [rand(shape, 11, 2)], grad: [0], engine: ([x]) => softmax(x!) });
    });
  }

  it('subtracts the row max: logits of ±100 around 500 stay finite and exact', async () => {
    const ctx = await gpu();
    // exp(500) overflows f32 (and exp(-100 - 500) underflows): only a max-subtracted kernel gets this right.
    const x = shifted(rand([6, 45], 12, 40), 500);
    const result = await checkOp(ctx, { ref: refOps.softmax, opts: undefined, inputs: [x], grad: [0], engine: ([t]) => softmax(t!), fdTol: 1e-5 });
    expect(result.outputError[0]).toBeLessThanOrEqual(1e-4);
  });

  it('many short rows fold the grid past 65,535 workgroups', async () => {
    const ctx = await gpu();
    // 8 rows per workgroup at 3 columns: 600,000 rows need 75,000 workgroups.
    await checkOp(ctx, { ref: refOps.softmax, opts: undefined, inputs: [rand([600_000, 3], 13)], engine: ([x]) => softmax(x!) });
  });

  it('rejects a tensor without a last axis', async () => {
    const ctx = await gpu();
    const scalar = Tensor.zeros(ctx, []);
    expect(() => softmax(scalar)).toThrow(/softmax.*\[\]/);
    scalar.dispose();
  });
});
