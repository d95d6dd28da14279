import { describe, expect, it } from 'vitest';
import { layerNorm } from '../../src/autodiff/ops/layernorm';
import { Tensor } from '../../src/autodiff/tensor';
import { rowsPerChunk, rowThreads } from '../../src/kernels/layernorm';
import { maxRelError, refOps, type RefTensor } from '../reference/ops';
import { gpu } from '../helpers/gpu';
import { checkOp, rand } from '../helpers/oracle';

const shifted = (t: RefTensor, by: number): RefTensor => ({ shape: t.shape, data: t.data.map((v) => v + by) });

describe('layerNorm against the f64 reference', () => {
  // Row widths cover every threads-per-row choice (32 … 256) and odd widths; row counts cover one row,
  // several rows per workgroup, and several dweight/dbias chunks (rows > 16).
  const shapes: number[][] = [[1, 1], [7], [7, 33], [2, 3, 65], [3, 197], [40, 7], [2, 197, 5], [2, 768]];
  for (const shape of shapes) {
    it(`forward and gradients for x, weight and bias on ${JSON.stringify(shape)}`, async () => {
      const ctx = await gpu();
      const D = shape[shape.length - 1]!;
      await checkOp(ctx, {
        ref: refOps.layerNorm,
        opts: { eps: 1e-6 },
        inputs: [rand(shape, 11, 2), rand([D], 12), rand([D], 13)],
        grad: [0, 1, 2],
        engine: ([x, w, b]) => layerNorm(x!, w!, b!),
      });
    });
  }

  it('covers the kernel variants the shapes above are meant to reach', () => {
    expect([1, 65, 197, 768].map(rowThreads)).toEqual([32, 32, 64, 256]);
    expect(Math.ceil(394 / rowsPerChunk(394))).toBeGreaterThan(1);
  });

  it('keeps precision when the mean is far from zero (two-pass variance) and honours eps', async () => {
    const ctx = await gpu();
    await checkOp(ctx, {
      ref: refOps.layerNorm,
      opts: { eps: 1e-5 },
      inputs: [shifted(rand([5, 65], 21), 300), rand([65], 22), rand([65], 23)],
      grad: [0, 1, 2],
      engine: ([x, w, b]) => layerNorm(x!, w!, b!, 1e-5),
    });
  });

  it('gives gradients only to the inputs that need them (frozen affine, frozen input)', async () => {
    const ctx = await gpu();
    const inputs = [rand([33, 7], 31), rand([7], 32), rand([7], 33)];
    await checkOp(ctx, { ref: refOps.layerNorm, opts: {}, inputs, grad: [0], engine: ([x, w, b]) => layerNorm(x!, w!, b!) });
    await checkOp(ctx, { ref: refOps.layerNorm, opts: {}, inputs, grad: [1, 2], engine: ([x, w, b]) => layerNorm(x!, w!, b!) });
    await checkOp(ctx, { ref: refOps.layerNorm, opts: {}, inputs, grad: [2], engine: ([x, w, b]) => layerNorm(x!, w!, b!) });
  });

  it('runs without a tape (inference) and releases its statistics', async () => {
    const ctx = await gpu();
    const [x, w, b] = [rand([9, 197], 41), rand([197], 42), rand([197], 43)];
    const tx = Tensor.fromData(ctx, x.shape, Float32Array.from(x.data));
    const tw = Tensor.fromData(ctx, w.shape, Float32Array.from(w.data));
    const tb = Tensor.fromData(ctx, b.shape, Float32Array.from(b.data));
    const before = ctx.pool.inUseBytes;
    const y = layerNorm(tx, tw, tb);
    expect(ctx.pool.inUseBytes - before).toBe(y.buffer.size);
    const got = await y.read();
    expect(maxRelError(got, refOps.layerNorm.forward([x, w, b], {})[0]!.data)).toBeLessThanOrEqual(1e-4);
    for (const t of [tx, tw, tb, y]) t.dispose();
  });

  it('rejects a weight or bias that does not match the last axis, naming the shapes', async () => {
    const ctx = await gpu();
    const x = Tensor.zeros(ctx, [3, 4]);
    const w = Tensor.zeros(ctx, [5]);
    const b = Tensor.zeros(ctx, [4]);
    expect(() => layerNorm(x, w, b)).toThrow(/weight \[5\] and bias \[4\] must both be \[4\] for input \[3, 4\]/);
    expect(() => layerNorm(x, b, w)).toThrow(/ShapeError|\[5\]/);
    for (const t of [x, w, b]) t.dispose();
  });
});
