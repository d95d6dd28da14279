// Mixed precision (shader-f16): every f16 kernel variant on the ViT block path against the f64 reference,
// forward and gradients, on odd shapes; the f16 cast; the loss-scaled optimizer kernels.
//
// Tolerance: activations are stored in f16 (unit roundoff 2^-11 ≈ 4.9e-4) while the kernels compute in
// f32, so the reference gets the f16-rounded inputs and an output may be off by a few roundings of its
// own scale. Outputs: max |error| ≤ 2e-3 × max |reference| (maxRelError). Gradients cross more f16
// stores (the incoming gradient, saved activations, intermediates): ≤ 4e-3 of their scale; the attention
// products path also keeps scores and probabilities in f16: ≤ 6e-3.
import { describe, expect, it } from 'vitest';
import { attention } from '../../src/autodiff/ops/attention';
import { add, cast, gelu, mul } from '../../src/autodiff/ops/elementwise';
import { layerNorm } from '../../src/autodiff/ops/layernorm';
import { matmul } from '../../src/autodiff/ops/matmul';
import { mergeHeads, splitHeads } from '../../src/autodiff/ops/shape';
import { softmax } from '../../src/autodiff/ops/softmax';
import { Tape } from '../../src/autodiff/tape';
import { Tensor } from '../../src/autodiff/tensor';
import { fromHalfBits, roundToHalf, toHalfBits } from '../../src/io/f16';
import { ShapeError } from '../../src/gpu/errors';
import { profileFor } from '../../src/gpu/profile';
import { matmulInto, selectMatmulProgram, type MatmulGeometry, type MatmulProgram } from '../../src/kernels/matmul';
import { adamwUpdate, checkFiniteGradients, updateLossScale } from '../../src/kernels/optim';
import { LossScaler } from '../../src/train/optimizer';
import { maxRelError, refOps, type RefTensor } from '../reference/ops';
import { gpu } from '../helpers/gpu';
import { checkOp, rand } from '../helpers/oracle';

/** The choices measured fastest on emulators (what the tests' device picks unless a profile is forced). */
const EMULATED = profileFor('emulated', 16384);

const OUT_TOL = 2e-3;
const GRAD_TOL = 4e-3;
const PRODUCTS_GRAD_TOL = 6e-3;

/** The same tensor with every value rounded to f16 (what an f16 activation can hold). */
function half(t: RefTensor): RefTensor {
  return { shape: t.shape, data: Float64Array.from(t.data, roundToHalf) };
}

const f16 = (t: Tensor): Tensor => cast(t, 'f16');
const f32 = (t: Tensor): Tensor => cast(t, 'f32');

describe('f16 conversion', () => {
  it('CPU half encoding rounds to nearest even, keeps subnormals, overflows to inf', () => {
    for (const v of [0, 1, -2.5, 65504, 1e-7, 6.1e-5, 0.1, 1 / 3, -1234.567]) {
      const back = fromHalfBits(toHalfBits(v));
      expect(Math.abs(back - v)).toBeLessThanOrEqual(Math.max(Math.abs(v) * 2 ** -11, 2 ** -25));
    }
    expect(fromHalfBits(toHalfBits(65520))).toBe(Infinity); // past the largest half + half an ulp
    expect(fromHalfBits(toHalfBits(1 + 2 ** -11))).toBe(1); // a tie rounds to even
    expect(Number.isNaN(fromHalfBits(toHalfBits(NaN)))).toBe(true);
  });

  it('cast f32 → f16 → f32 on the GPU gives exactly the rounded values, and its gradient casts back', async () => {
    const ctx = await gpu();
    const values = Array.from({ length: 197 }, (_, i) => Math.sin(i * 1.7) * 10 ** ((i % 9) - 4));
    const tape = new Tape(ctx);
    try {
      const x = Tensor.fromData(ctx, [197], values);
      x.requiresGrad = true;
      const h = f16(x);
      expect(h.dtype).toBe('f16');
      expect(h.byteLength).toBe(Math.ceil(197 / 2) * 4);
      const back = f32(h);
      expect([...(await back.read())]).toEqual(values.map(roundToHalf).map((v) => Math.fround(v)));
      expect([...(await h.read())]).toEqual(values.map(roundToHalf));
      tape.backward(back, Tensor.fromData(ctx, [197], values));
      expect([...(await x.grad!.read())]).toEqual(values.map(roundToHalf).map((v) => Math.fround(v)));
      // An f16 tensor's data round-trips through fromData/read.
      const direct = Tensor.fromData(ctx, [7], [1, 2, 3, 4, 5, 6, 7.001], 'f16');
      expect([...(await direct.read())]).toEqual([1, 2, 3, 4, 5, 6, roundToHalf(7.001)]);
    } finally {
      tape.dispose();
    }
  });
});

describe('f16 elementwise, layer norm, softmax, head plumbing', () => {
  it('add (f16 + f16, and an f32 bias broadcast into f16) with gradients', async () => {
    const ctx = await gpu();
    const a = half(rand([7, 33], 1));
    const b = half(rand([7, 33], 2));
    await checkOp(ctx, { ref: refOps.add, opts: undefined, inputs: [a, b], grad: [0, 1], engine: ([x, y]) => f32(add(f16(x!), f16(y!))), tol: OUT_TOL, gradTol: GRAD_TOL });
    await checkOp(ctx, { ref: refOps.add, opts: undefined, inputs: [a, rand([33], 3)], grad: [0, 1], engine: ([x, y]) => f32(add(f16(x!), y!)), tol: OUT_TOL, gradTol: GRAD_TOL });
  });

  it('gelu and mul in f16 with gradients', async () => {
    const ctx = await gpu();
    const x = half(rand([5, 65], 4, 2));
    await checkOp(ctx, { ref: refOps.gelu, opts: undefined, inputs: [x], grad: [0], engine: ([t]) => f32(gelu(f16(t!))), tol: OUT_TOL, gradTol: GRAD_TOL });
    await checkOp(ctx, { ref: refOps.mul, opts: undefined, inputs: [x, half(rand([5, 65], 5))], grad: [0, 1], engine: ([s, t]) => f32(mul(f16(s!), f16(t!))), tol: OUT_TOL, gradTol: GRAD_TOL });
  });

  it('layer norm: f16 rows, f32 gain and bias, with gradients of all three', async () => {
    const ctx = await gpu();
    for (const [rows, D] of [[7, 33], [1, 65], [3, 197]] as const) {
      await checkOp(ctx, {
        ref: refOps.layerNorm,
        opts: { eps: 1e-6 },
        inputs: [half(rand([rows, D], 6 + D, 3)), rand([D], 7), rand([D], 8)],
        grad: [0, 1, 2],
        engine: ([x, w, b]) => f32(layerNorm(f16(x!), w!, b!, 1e-6)),
        tol: OUT_TOL,
        gradTol: GRAD_TOL,
      });
    }
  });

  it('softmax in f16 with gradients', async () => {
    const ctx = await gpu();
    await checkOp(ctx, { ref: refOps.softmax, opts: undefined, inputs: [half(rand([7, 65], 9, 3))], grad: [0], engine: ([x]) => f32(softmax(f16(x!))), tol: OUT_TOL, gradTol: GRAD_TOL });
  });

  it('splitHeads and mergeHeads move f16 data exactly', async () => {
    const ctx = await gpu();
    const qkv = half(rand([2, 5, 3 * 12], 10));
    await checkOp(ctx, { ref: refOps.splitHeads, opts: { heads: 3 }, inputs: [qkv], grad: [0], engine: ([x]) => splitHeads(f16(x!), 3).map(f32), tol: 0, gradTol: 1e-3 });
    await checkOp(ctx, { ref: refOps.mergeHeads, opts: undefined, inputs: [half(rand([2, 3, 5, 4], 11))], grad: [0], engine: ([x]) => f32(mergeHeads(f16(x!))), tol: 0, gradTol: 1e-3 });
  });
});

describe('f16 matmul', () => {
  // [M, K] f16 activations × f32 weight [N, K]ᵀ + f32 bias (a linear layer), gradients of all three: the
  // forward, dX = dZ·W (f16 out) and dW = dZᵀ·X (f16 operands, f32 out) each pick their own program.
  const linearCases: [m: number, k: number, n: number, gelu: boolean][] = [
    [7, 33, 65, false], // tiled 32×32
    [197, 8, 12, true], // thin (N ≤ 16), fused GELU
    [5, 520, 3, false], // thin with split K (long K, few rows)
    [33, 16, 1, false], // N = 1
  ];
  for (const [m, k, n, fused] of linearCases) {
    it(`linear ${m}×${k} · (${n}×${k})ᵀ + bias${fused ? ' → GELU' : ''}: f16 in and out, gradients`, async () => {
      const ctx = await gpu();
      await checkOp(ctx, {
        ref: refOps.matmul,
        opts: { transB: true, bias: true, gelu: fused },
        inputs: [half(rand([m, k], m + k, 1)), rand([n, k], 12, 1 / Math.sqrt(k)), rand([n], 13)],
        grad: [0, 1, 2],
        engine: ([x, w, b]) => f32(matmul(f16(x!), w!, { transB: true, bias: b!, gelu: fused })),
        tol: OUT_TOL,
        gradTol: GRAD_TOL,
      });
    });
  }

  // Every program forced, with f16 A, f16 or f32 B and an f16 output, against an f64 product of the
  // f16-rounded operands.
  const programs: [MatmulProgram, MatmulGeometry][] = [
    ['tiled_64x64', { batch: 2, m: 65, k: 33, n: 67, transA: true }],
    ['tiled_32x32', { batch: 1, m: 33, k: 7, n: 65, transB: true }],
    ['tiled_64x64_splitk', { batch: 1, m: 65, k: 523, n: 33 }],
    ['thin', { batch: 3, m: 197, k: 33, n: 7 }],
    ['thin_splitk', { batch: 1, m: 5, k: 777, n: 65, transA: true, transB: true }],
  ];
  for (const [program, g] of programs) {
    for (const bType of ['f16', 'f32'] as const) {
      it(`${program} (${g.m}×${g.k}×${g.n}${g.transA ? ', Aᵀ' : ''}${g.transB ? ', Bᵀ' : ''}) with f16 A, ${bType} B, f16 C`, async () => {
        const ctx = await gpu();
        const aRef = half(rand([g.batch * g.m * g.k], 20));
        const bRef = rand([g.batch * g.k * g.n], 21);
        const bData = bType === 'f16' ? half(bRef) : bRef;
        const a = Tensor.fromData(ctx, aRef.shape, Float32Array.from(aRef.data), 'f16');
        const b = Tensor.fromData(ctx, bData.shape, Float32Array.from(bData.data), bType);
        const c = Tensor.empty(ctx, [g.batch * g.m * g.n], undefined, 'f16');
        const plan = matmulInto(ctx, a, b, c, g, {}, program);
        expect(plan.program).toBe(program);
        const got = await c.read();
        const want = new Float64Array(g.batch * g.m * g.n);
        const bf = Float64Array.from(bData.data, (v) => Math.fround(v));
        for (let s = 0; s < g.batch; s++) {
          for (let i = 0; i < g.m; i++) {
            for (let j = 0; j < g.n; j++) {
              let sum = 0;
              for (let t = 0; t < g.k; t++) {
                const av = aRef.data[s * g.m * g.k + (g.transA ? t * g.m + i : i * g.k + t)]!;
                const bv = bf[s * g.k * g.n + (g.transB ? j * g.k + t : t * g.n + j)]!;
                sum += av * bv;
              }
              want[s * g.m * g.n + i * g.n + j] = sum;
            }
          }
        }
        expect(maxRelError(got, want)).toBeLessThanOrEqual(OUT_TOL);
        a.dispose();
        b.dispose();
        c.dispose();
      });
    }
  }

  it('refuses an f16 bias and a pre-activation of another type (ShapeError naming the shapes)', async () => {
    const ctx = await gpu();
    const g = { batch: 1, m: 7, k: 5, n: 3 };
    const a = Tensor.empty(ctx, [7, 5], undefined, 'f16');
    const b = Tensor.empty(ctx, [5, 3]);
    const c = Tensor.empty(ctx, [7, 3], undefined, 'f16');
    const bias16 = Tensor.empty(ctx, [3], undefined, 'f16');
    expect(() => matmulInto(ctx, a, b, c, g, { bias: bias16 })).toThrow(ShapeError);
    expect(() => matmulInto(ctx, a, b, c, g, { preActivation: Tensor.empty(ctx, [7, 3]) })).toThrow(/M 7, K 5, N 3/);
    expect(selectMatmulProgram(g, EMULATED).program).toBe('thin');
    for (const t of [a, b, c, bias16]) t.dispose();
  });
});

describe('f16 attention', () => {
  const cases: [string, [number, number, number, number], number, number][] = [
    ['fused kernels', [1, 2, 17, 8], 17, GRAD_TOL],
    ['fused kernels, Nq ≠ Nk', [1, 1, 5, 16], 37, GRAD_TOL],
    ['products path (scores and probabilities in f16)', [2, 3, 7, 8], 7, PRODUCTS_GRAD_TOL],
  ];
  for (const [name, qShape, nk, gradTol] of cases) {
    it(`${name}: q ${qShape.join('×')}, ${nk} keys, gradients of q, k, v`, async () => {
      const ctx = await gpu();
      const [b, h, , dh] = qShape;
      const scale = dh ** -0.5;
      await checkOp(ctx, {
        ref: refOps.attention,
        opts: { scale },
        inputs: [half(rand(qShape, 30)), half(rand([b, h, nk, dh], 31)), half(rand([b, h, nk, dh], 32))],
        grad: [0, 1, 2],
        engine: ([q, k, v]) => f32(attention(f16(q!), f16(k!), f16(v!), { scale })),
        tol: OUT_TOL,
        gradTol,
      });
    });
  }

  it('refuses q, k, v of mixed element types', async () => {
    const ctx = await gpu();
    const q = Tensor.empty(ctx, [1, 1, 5, 8], undefined, 'f16');
    const k = Tensor.empty(ctx, [1, 1, 5, 8]);
    expect(() => attention(q, k, k, { scale: 1 })).toThrow(ShapeError);
    q.dispose();
    k.dispose();
  });
});

describe('loss-scaled optimizer kernels', () => {
  const hyper = { lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.1 };

  async function run(grads: number[], scale: number) {
    const ctx = await gpu();
    const n = grads.length;
    const p0 = Array.from({ length: n }, (_, i) => Math.cos(i));
    const scaler = await LossScaler.create(ctx, { initialScale: scale, growthInterval: 2 });
    const p = Tensor.fromData(ctx, [n], p0);
    const g = Tensor.fromData(ctx, [n], grads);
    const m = Tensor.zeros(ctx, [n]);
    const v = Tensor.zeros(ctx, [n]);
    checkFiniteGradients(ctx, g, scaler.ranges);
    adamwUpdate(ctx, p, g, m, v, 8, 1, hyper, scaler.ranges);
    updateLossScale(ctx, scaler.ranges, scaler.growthInterval, scaler.maxScale);
    const [after, state] = [await p.read(), await scaler.state()];
    // The f32 update on the unscaled gradients, for comparison.
    const p2 = Tensor.fromData(ctx, [n], p0);
    const g2 = Tensor.fromData(ctx, [n], grads.map((x) => x / scale));
    adamwUpdate(ctx, p2, g2, Tensor.zeros(ctx, [n]), Tensor.zeros(ctx, [n]), 8, 1, hyper);
    const plain = await p2.read();
    scaler.dispose();
    return { p0, after, state, plain };
  }

  it('finite scaled gradients: unscaled and applied like the f32 update; the step counts as applied', async () => {
    const grads = Array.from({ length: 12 }, (_, i) => (i - 5) * 1024 * 0.37);
    const { after, state, plain } = await run(grads, 1024);
    expect(maxRelError(after, plain)).toBeLessThanOrEqual(1e-6);
    expect(state).toEqual({ scale: 1024, goodSteps: 1, skippedSteps: 0, appliedSteps: 1, lastOverflow: false });
  });

  it('an inf or NaN anywhere: no parameter moves, the scale halves, the step counts as skipped', async () => {
    for (const bad of [Infinity, -Infinity, NaN]) {
      const grads = Array.from({ length: 12 }, (_, i) => (i === 10 ? bad : i));
      const { p0, after, state } = await run(grads, 4096);
      expect([...after]).toEqual(p0.map((x) => Math.fround(x)));
      expect(state).toEqual({ scale: 2048, goodSteps: 0, skippedSteps: 1, appliedSteps: 0, lastOverflow: true });
    }
  });
});
