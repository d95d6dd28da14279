// The one oracle helper (after tinygrad's test_ops): run the same op through the f64 CPU reference and
// the GPU engine, compare outputs, then gradients three ways: reference analytic vs f64 finite
// differences, and engine vs reference analytic.
import { expect } from 'vitest';
import type { GpuContext } from '../../src/gpu/context';
import { Tape } from '../../src/autodiff/tape';
import { Tensor } from '../../src/autodiff/tensor';
import { finiteDifferenceGrads, maxRelError, mulberry32, randn, type RefOp, type RefTensor } from '../reference/ops';

export interface OracleCase<O> {
  ref: RefOp<O>;
  opts: O;
  inputs: RefTensor[];
  /** Which inputs get gradients (default: none → forward only). */
  grad?: number[];
  engine: (inputs: Tensor[]) => Tensor | Tensor[];
  /** Relative error allowed for outputs (default 1e-4) and gradients (default 1e-4). */
  tol?: number;
  gradTol?: number;
  /** Tolerance of reference analytic vs finite differences (default 1e-6). */
  fdTol?: number;
  seed?: number;
}

export interface OracleResult {
  outputError: number[];
  gradError: number[];
  fdError: number[];
}

export async function checkOp<O>(ctx: GpuContext, c: OracleCase<O>): Promise<OracleResult> {
  const tol = c.tol ?? 1e-4;
  const gradTol = c.gradTol ?? 1e-4;
  const which = c.grad ?? [];
  const expected = c.ref.forward(c.inputs, c.opts);
  const tape = new Tape(ctx);
  try {
    const inputs = c.inputs.map((t, i) => {
      const x = Tensor.fromData(ctx, t.shape, Float32Array.from(t.data));
      x.requiresGrad = which.includes(i);
      return x;
    });
    const produced = c.engine(inputs);
    const outputs = Array.isArray(produced) ? produced : [produced];
    expect(outputs.length, `${c.ref.name}: output count`).toBe(expected.length);
    const result: OracleResult = { outputError: [], gradError: [], fdError: [] };
    const got = await ctx.readMany(outputs);
    outputs.forEach((o, i) => {
      expect([...o.shape], `${c.ref.name}: output ${i} shape`).toEqual(expected[i]!.shape);
      const err = maxRelError(got[i]!, expected[i]!.data);
      result.outputError.push(err);
      expect(err, `${c.ref.name}: output ${i} relative error`).toBeLessThanOrEqual(tol);
    });
    if (which.length === 0) return result;

    const rng = mulberry32(c.seed ?? 1234);
    const gradOutputs = expected.map((e) => randn(e.shape, rng));
    const analytic = c.ref.backward(c.inputs, c.opts, gradOutputs);
    const numeric = finiteDifferenceGrads(c.ref, c.inputs, c.opts, gradOutputs, which);
    which.forEach((inputIndex, k) => {
      const err = maxRelError(analytic[inputIndex]!.data, numeric[k]!.data);
      result.fdError.push(err);
      expect(err, `${c.ref.name}: reference gradient of input ${inputIndex} vs finite differences`).toBeLessThanOrEqual(c.fdTol ?? 1e-6);
    });
    const seeds = gradOutputs.map((g) => Tensor.fromData(ctx, g.shape, Float32Array.from(g.data)));
    const roots = outputs.filter((o) => o.requiresGrad);
    tape.backward(roots, seeds.filter((_, i) => outputs[i]!.requiresGrad));
    const grads = await ctx.readMany(which.map((i) => inputs[i]!.grad ?? fail(`${c.ref.name}: input ${i} got no gradient`)));
    which.forEach((inputIndex, k) => {
      const err = maxRelError(grads[k]!, analytic[inputIndex]!.data);
      result.gradError.push(err);
      expect(err, `${c.ref.name}: engine gradient of input ${inputIndex}`).toBeLessThanOrEqual(gradTol);
    });
    return result;
  } finally {
    tape.dispose();
  }
}

function fail(message: string): never {
  throw new Error(message);
}

/** Random f64 reference tensor, seeded. */
export function rand(shape: number[], seed: number, scale = 1): RefTensor {
  return randn(shape, mulberry32(seed), scale);
}
