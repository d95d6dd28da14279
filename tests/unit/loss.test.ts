import { describe, expect, it } from 'vitest';
import { crossEntropy } from '../../src/autodiff/ops/loss';
import { Tape } from '../../src/autodiff/tape';
import { Tensor } from '../../src/autodiff/tensor';
import { mulberry32, refOps, tensor, type RefTensor } from '../reference/ops';
import { gpu } from '../helpers/gpu';
import { checkOp, rand } from '../helpers/oracle';

function labelsFor(N: number, C: number, seed: number): RefTensor {
  const rng = mulberry32(seed);
  return tensor([N], Array.from({ length: N }, () => Math.floor(rng() * C)));
}

describe('crossEntropy against the f64 reference', () => {
  // Class counts cover every threads-per-row choice; row counts one row, several rows per workgroup, many.
  const shapes: [number, number][] = [[1, 1], [1, 7], [7, 33], [65, 10], [7, 197], [197, 5], [3, 1000]];
  for (const [N, C] of shapes) {
    for (const labelSmoothing of [0, 0.1]) {
      it(`[${N}, ${C}] logits, label smoothing ${labelSmoothing}: scalar loss and logit gradient`, async () => {
        const ctx = await gpu();
        await checkOp(ctx, {
          ref: refOps.crossEntropy,
          opts: { labelSmoothing },
          inputs: [rand([N, C], N * 31 + C, 2), labelsFor(N, C, C)],
          grad: [0],
          engine: ([logits, labels]) => crossEntropy(logits!, labels!, { labelSmoothing }),
        });
      });
    }
  }

  it('stays finite and exact for large logits (max-shifted exponentials)', async () => {
    const ctx = await gpu();
    await checkOp(ctx, {
      ref: refOps.crossEntropy,
      opts: { labelSmoothing: 0.1 },
      inputs: [rand([9, 65], 5, 60), labelsFor(9, 65, 6)],
      grad: [0],
      engine: ([logits, labels]) => crossEntropy(logits!, labels!, { labelSmoothing: 0.1 }),
    });
  });

  it('scales the kept gradient by the incoming scalar gradient on the GPU', async () => {
    const ctx = await gpu();
    const logits = rand([5, 7], 7);
    const labels = labelsFor(5, 7, 8);
    const tape = new Tape(ctx);
    try {
      const x = Tensor.fromData(ctx, logits.shape, Float32Array.from(logits.data));
      x.requiresGrad = true;
      const loss = crossEntropy(x, Tensor.fromData(ctx, [5], Float32Array.from(labels.data)));
      expect(loss.shape).toEqual([]);
      expect(loss.requiresGrad).toBe(true);
      const reads = ctx.stats.reads;
      tape.backward(loss, Tensor.fromData(ctx, [], [-2.5]));
      expect(ctx.stats.reads).toBe(reads);
      const want = refOps.crossEntropy.backward([logits, labels], { labelSmoothing: 0 }, [tensor([], [-2.5])])[0]!.data;
      const got = await x.grad!.read();
      got.forEach((v, i) => expect(v).toBeCloseTo(want[i]!, 5));
    } finally {
      tape.dispose();
    }
  });

  it('computes only the loss without a tape', async () => {
    const ctx = await gpu();
    const logits = rand([33, 10], 9);
    const labels = labelsFor(33, 10, 10);
    const x = Tensor.fromData(ctx, logits.shape, Float32Array.from(logits.data));
    const y = Tensor.fromData(ctx, labels.shape, Float32Array.from(labels.data));
    x.requiresGrad = true;
    const before = ctx.pool.inUseBytes;
    const loss = crossEntropy(x, y, { labelSmoothing: 0.1 });
    expect(ctx.pool.inUseBytes - before).toBe(loss.buffer.size); // no gradient buffer kept
    const [got] = await loss.read();
    expect(got).toBeCloseTo(refOps.crossEntropy.forward([logits, labels], { labelSmoothing: 0.1 })[0]!.data[0]!, 5);
    for (const t of [x, y, loss]) t.dispose();
  });

  it('never reads out of bounds for bad labels: their rows add zero loss and zero gradient', async () => {
    const ctx = await gpu();
    const N = 6;
    const C = 5;
    const logits = rand([N, C], 11);
    const bad = [-1, 5, Number.NaN, 1e9];
    const labelData = [2, bad[0]!, 4, bad[1]!, bad[2]!, bad[3]!];
    const tape = new Tape(ctx);
    try {
      const x = Tensor.fromData(ctx, [N, C], Float32Array.from(logits.data));
      x.requiresGrad = true;
      const loss = crossEntropy(x, Tensor.fromData(ctx, [N], labelData), { labelSmoothing: 0.1 });
      tape.backward(loss);
      const [lossValue, grad] = await ctx.readMany([loss, x.grad!]);
      // The two good rows, each as a one-row reference, weighted by 1/N.
      let want = 0;
      for (const r of [0, 2]) {
        const row = tensor([1, C], logits.data.slice(r * C, (r + 1) * C));
        want += refOps.crossEntropy.forward([row, tensor([1], [labelData[r]!])], { labelSmoothing: 0.1 })[0]!.data[0]! / N;
      }
      expect(lossValue![0]).toBeCloseTo(want, 5);
      for (const r of [1, 3, 4, 5]) for (let c = 0; c < C; c++) expect(Math.abs(grad![r * C + c]!)).toBe(0);
      expect(grad!.slice(0, C).some((v) => v !== 0)).toBe(true);
    } finally {
      tape.dispose();
    }
  });

  it('rejects mismatched logits and labels, naming the shapes', async () => {
    const ctx = await gpu();
    const logits = Tensor.zeros(ctx, [4, 3]);
    const labels = Tensor.zeros(ctx, [5]);
    const flat = Tensor.zeros(ctx, [12]);
    expect(() => crossEntropy(logits, labels)).toThrow(/labels \[5\] must be \[4\] for logits \[4, 3\]/);
    expect(() => crossEntropy(flat, labels)).toThrow(/logits \[12\] must be \[N, C\]/);
    expect(() => crossEntropy(logits, Tensor.zeros(ctx, [4]), { labelSmoothing: 1.5 })).toThrow(/label smoothing/);
    for (const t of [logits, labels, flat]) t.dispose();
  });
});
