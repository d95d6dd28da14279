import { describe, it, expect } from 'vitest';
import {
  type RefOp,
  type RefTensor,
  tensor,
  randn,
  mulberry32,
  finiteDifferenceGrads,
  maxRelError,
  erf,
  erfc,
  geluScalar,
  refOps,
  matmul,
  add,
  mul,
  scale,
  gelu,
  sum,
  mean,
  layerNorm,
  softmax,
  attention,
  crossEntropy,
  patchEmbed,
  clsPos,
  splitHeads,
  mergeHeads,
  selectToken,
  sliceLast,
  concatLast,
  adamwStep,
  sgdStep,
} from './ops';

const TOL = 1e-6;

/** Compare analytic backward to central differences for inputs `which` (default: all). */
function checkGrads<O>(op: RefOp<O>, inputs: RefTensor[], opts: O, seed: number, which?: number[]): void {
  const rng = mulberry32(seed);
  const outs = op.forward(inputs, opts);
  const gradOutputs = outs.map((o) => randn(o.shape, rng));
  const idx = which ?? inputs.map((_, i) => i);
  const analytic = op.backward(inputs, opts, gradOutputs);
  expect(analytic.length).toBe(inputs.length);
  analytic.forEach((g, i) => expect(g.shape).toEqual(inputs[i]!.shape));
  const numeric = finiteDifferenceGrads(op, inputs, opts, gradOutputs, idx);
  idx.forEach((inputIdx, j) => {
    const err = maxRelError(analytic[inputIdx]!.data, numeric[j]!.data);
    expect(err, `${op.name} input ${inputIdx}`).toBeLessThanOrEqual(TOL);
  });
}

function close(a: ArrayLike<number>, b: ArrayLike<number>, tol = 1e-12): void {
  expect(maxRelError(a, b)).toBeLessThanOrEqual(tol);
}

describe('special functions', () => {
  it('erf / erfc / gelu match known values', () => {
    const cases: [number, number][] = [
      [0.5, 0.5204998778130465],
      [-0.3, -0.3286267594591274],
      [1, 0.8427007929497149],
      [2, 0.9953222650189527],
      [3, 0.9999779095030014],
      [-2.7, -0.9998656672600594],
      [0, 0],
    ];
    for (const [x, y] of cases) expect(Math.abs(erf(x) - y)).toBeLessThanOrEqual(1.5e-15 * Math.max(1e-300, Math.abs(y)));
    const erfcCases: [number, number][] = [
      [0.1, 0.8875370839817152],
      [1, 0.15729920705028513],
      [2.6, 0.00023603441652934908],
      [3, 2.2090496998585438e-5],
      [5, 1.5374597944280351e-12],
      [10, 2.088487583762545e-45],
      [-1.3, 1.9340079449406524],
    ];
    for (const [x, y] of erfcCases) expect(Math.abs(erfc(x) - y) / Math.abs(y)).toBeLessThanOrEqual(2e-15);
    expect(Math.abs(erf(0.5) - 0.5204998778130465)).toBeLessThanOrEqual(2.3e-16);
    expect(Math.abs(geluScalar(1) - 0.8413447460685429)).toBeLessThanOrEqual(1e-16);
    expect(geluScalar(0)).toBe(0);
    // GELU(-x) = GELU(x) - x
    for (const x of [0.3, 1.7, 4.2]) expect(Math.abs(geluScalar(-x) - (geluScalar(x) - x))).toBeLessThan(1e-15);
  });
});

describe('helpers', () => {
  it('mulberry32 is deterministic and in [0,1)', () => {
    const a = mulberry32(42);
    const b = mulberry32(42);
    for (let i = 0; i < 100; i++) {
      const x = a();
      expect(x).toBe(b());
      expect(x >= 0 && x < 1).toBe(true);
    }
  });
  it('tensor validates data length; maxRelError', () => {
    expect(() => tensor([2, 3], [1, 2])).toThrow();
    expect(tensor([], [5]).data.length).toBe(1);
    expect(maxRelError([1, 2], [1, 4])).toBe(0.5);
    const r = randn([1001], mulberry32(1));
    let m = 0;
    for (const x of r.data) m += x;
    expect(Math.abs(m / 1001)).toBeLessThan(0.15);
  });
});

describe('forward values', () => {
  it('matmul', () => {
    const A = tensor([2, 3], [1, 2, 3, 4, 5, 6]);
    const B = tensor([3, 2], [7, 8, 9, 10, 11, 12]);
    close(matmul.forward([A, B], {})[0]!.data, [58, 64, 139, 154]);
    const bias = tensor([2], [1, -1]);
    close(matmul.forward([A, B, bias], { bias: true })[0]!.data, [59, 63, 140, 153]);
    // transA / transB of the transposed operands give the same product
    const At = tensor([3, 2], [1, 4, 2, 5, 3, 6]);
    const Bt = tensor([2, 3], [7, 9, 11, 8, 10, 12]);
    close(matmul.forward([At, Bt], { transA: true, transB: true })[0]!.data, [58, 64, 139, 154]);
    const y = matmul.forward([A, B, bias], { bias: true, gelu: true })[0]!;
    close(y.data, [59, 63, 140, 153]); // gelu(x) ≈ x for large x
    const small = matmul.forward([tensor([1, 1], [1]), tensor([1, 1], [1])], { gelu: true })[0]!;
    close(small.data, [0.8413447460685429], 1e-15);
  });
  it('add broadcast, mul, scale, sum, mean', () => {
    const a = tensor([2, 3], [1, 2, 3, 4, 5, 6]);
    close(add.forward([a, tensor([3], [10, 20, 30])], undefined)[0]!.data, [11, 22, 33, 14, 25, 36]);
    close(mul.forward([a, a], undefined)[0]!.data, [1, 4, 9, 16, 25, 36]);
    close(scale.forward([a], { s: -2 })[0]!.data, [-2, -4, -6, -8, -10, -12]);
    const s0 = sum.forward([a], { axis: 0 })[0]!;
    expect(s0.shape).toEqual([3]);
    close(s0.data, [5, 7, 9]);
    const m1 = mean.forward([a], { axis: -1 })[0]!;
    expect(m1.shape).toEqual([2]);
    close(m1.data, [2, 5]);
  });
  it('softmax rows sum to 1', () => {
    const y = softmax.forward([tensor([1, 3], [1, 2, 3])], undefined)[0]!;
    close(y.data, [0.09003057317038046, 0.24472847105479764, 0.6652409557748219], 1e-15);
    const big = softmax.forward([randn([5, 7], mulberry32(3), 30)], undefined)[0]!;
    for (let r = 0; r < 5; r++) {
      let s = 0;
      for (let j = 0; j < 7; j++) s += big.data[r * 7 + j]!;
      expect(Math.abs(s - 1)).toBeLessThan(1e-14);
    }
  });
  it('layerNorm of a known vector', () => {
    const x = tensor([1, 4], [1, 2, 3, 4]);
    const w = tensor([4], [1, 1, 2, 1]);
    const b = tensor([4], [0, 0, 0, 0.5]);
    const r = 1 / Math.sqrt(1.25 + 1e-6);
    close(layerNorm.forward([x, w, b], {})[0]!.data, [-1.5 * r, -0.5 * r, 2 * 0.5 * r, 1.5 * r + 0.5], 1e-15);
    const r0 = 1 / Math.sqrt(1.25);
    close(layerNorm.forward([x, tensor([4], [1, 1, 1, 1]), tensor([4])], { eps: 0 })[0]!.data, [-1.5 * r0, -0.5 * r0, 0.5 * r0, 1.5 * r0], 1e-15);
  });
  it('crossEntropy with label smoothing', () => {
    const logits = tensor([3, 3], [1, 2, 3, 0.5, -1, 2, -2, 0, 0.25]);
    const labels = tensor([3], [2, 0, 1]);
    const out = crossEntropy.forward([logits, labels], { labelSmoothing: 0.1 })[0]!;
    expect(out.shape).toEqual([]);
    expect(Math.abs(out.data[0]! - 1.0635846420395) / 1.06).toBeLessThan(1e-12);
    // single row by hand: lse = 3 + log(1 + e^-1 + e^-2)
    const lse = 3 + Math.log(1 + Math.exp(-1) + Math.exp(-2));
    const lp = [1 - lse, 2 - lse, 3 - lse];
    const hand = -(0.9 * lp[2]! + (0.1 / 3) * (lp[0]! + lp[1]! + lp[2]!));
    const one = crossEntropy.forward([tensor([1, 3], [1, 2, 3]), tensor([1], [2])], { labelSmoothing: 0.1 })[0]!;
    expect(Math.abs(one.data[0]! - hand)).toBeLessThan(1e-15);
    expect(Math.abs(one.data[0]! - 0.5076059644443801)).toBeLessThan(1e-14);
    expect(() => crossEntropy.forward([logits, tensor([3], [0, 3, 1])], { labelSmoothing: 0 })).toThrow();
  });
  it('attention equals softmax(q kᵀ s) v composed from matmul/softmax', () => {
    const rng = mulberry32(7);
    const [q, k, v] = [randn([2, 3, 5, 4], rng), randn([2, 3, 5, 4], rng), randn([2, 3, 5, 4], rng)];
    const s = 0.5;
    const scores = scale.forward(matmul.forward([q, k], { transB: true }), { s })[0]!;
    const p = softmax.forward([scores], undefined)[0]!;
    const ref = matmul.forward([p, v], {})[0]!;
    const out = attention.forward([q, k, v], { scale: s })[0]!;
    expect(out.shape).toEqual([2, 3, 5, 4]);
    close(out.data, ref.data, 1e-14);
  });
  it('patchEmbed equals matmul over flattened patches', () => {
    const rng = mulberry32(11);
    const [B, C, H, W, P, D] = [2, 3, 6, 4, 2, 5];
    const img = randn([B, C, H, W], rng);
    const w = randn([D, C, P, P], rng);
    const bias = randn([D], rng);
    const out = patchEmbed.forward([img, w, bias], { patch: P })[0]!;
    expect(out.shape).toEqual([B, 6, D]);
    const gw = W / P;
    const n = (H / P) * gw;
    const patches = tensor([B, n, C * P * P]);
    for (let b = 0; b < B; b++)
      for (let t = 0; t < n; t++)
        for (let c = 0; c < C; c++)
          for (let i = 0; i < P; i++)
            for (let j = 0; j < P; j++)
              patches.data[(b * n + t) * C * P * P + (c * P + i) * P + j] =
                img.data[((b * C + c) * H + Math.floor(t / gw) * P + i) * W + (t % gw) * P + j]!;
    const ref = matmul.forward([patches, tensor([D, C * P * P], w.data), bias], { transB: true, bias: true })[0]!;
    close(out.data, ref.data, 1e-14);
  });
  it('clsPos, selectToken, sliceLast, concatLast', () => {
    const x = tensor([2, 2, 2], [1, 2, 3, 4, 5, 6, 7, 8]);
    const cls = tensor([1, 1, 2], [-1, -2]);
    const pos = tensor([1, 3, 2], [0.5, 0.5, 1, 1, 2, 2]);
    const y = clsPos.forward([x, cls, pos], undefined)[0]!;
    expect(y.shape).toEqual([2, 3, 2]);
    close(y.data, [-0.5, -1.5, 2, 3, 5, 6, -0.5, -1.5, 6, 7, 9, 10]);
    close(selectToken.forward([y], { index: 0 })[0]!.data, [-0.5, -1.5, -0.5, -1.5]);
    close(selectToken.forward([y], { index: -1 })[0]!.data, [5, 6, 9, 10]);
    const a = tensor([2, 3], [1, 2, 3, 4, 5, 6]);
    const sl = sliceLast.forward([a], { start: 1, end: 3 })[0]!;
    expect(sl.shape).toEqual([2, 2]);
    close(sl.data, [2, 3, 5, 6]);
    const c = concatLast.forward([a, tensor([2, 1], [7, 8])], undefined)[0]!;
    expect(c.shape).toEqual([2, 4]);
    close(c.data, [1, 2, 3, 7, 4, 5, 6, 8]);
  });
  it('splitHeads follows timm layout; mergeHeads inverts it', () => {
    const [B, N, H, Dh] = [2, 3, 2, 2];
    const D = H * Dh;
    const qkv = tensor([B, N, 3 * D], Array.from({ length: B * N * 3 * D }, (_, i) => i));
    const [q, k, v] = splitHeads.forward([qkv], { heads: H }) as [RefTensor, RefTensor, RefTensor];
    expect(q.shape).toEqual([B, H, N, Dh]);
    // k[b=1, h=1, n=2, e=0] = qkv[1, 2, D + 1*Dh + 0]
    expect(k.data[((1 * H + 1) * N + 2) * Dh + 0]).toBe((1 * N + 2) * 3 * D + D + Dh);
    const merged = [q, k, v].map((t) => mergeHeads.forward([t], undefined)[0]!);
    expect(merged[0]!.shape).toEqual([B, N, D]);
    close(concatLast.forward(merged, undefined)[0]!.data, qkv.data, 0);
  });
});

describe('backward vs finite differences', () => {
  const rng = mulberry32(1234);
  const r = (shape: number[], s = 1) => randn(shape, rng, s);

  it('matmul (all variants)', () => {
    let seed = 1;
    for (const transA of [false, true])
      for (const transB of [false, true])
        for (const bcast of [false, true])
          for (const [bias, g] of [[false, false], [true, true], [true, false]] as const) {
            const [M, K, N] = [3, 5, 7];
            const A = r(transA ? [2, K, M] : [2, M, K]);
            const Bshape = transB ? [N, K] : [K, N];
            const B = r(bcast ? Bshape : [2, ...Bshape]);
            const inputs = bias ? [A, B, r([N])] : [A, B];
            checkGrads(matmul, inputs, { transA, transB, bias, gelu: g }, seed++);
          }
    // 2-D and higher-rank batch
    checkGrads(matmul, [r([1, 3]), r([3, 5]), r([5])], { bias: true, gelu: true }, 99);
    checkGrads(matmul, [r([2, 1, 3, 5]), r([5, 1])], {}, 98);
  });
  it('add / mul / scale / gelu', () => {
    checkGrads(add, [r([3, 5]), r([3, 5])], undefined, 2);
    checkGrads(add, [r([3, 1, 5]), r([1, 5])], undefined, 3);
    checkGrads(add, [r([3, 5, 7]), r([7])], undefined, 4);
    checkGrads(mul, [r([5, 3]), r([5, 3])], undefined, 5);
    checkGrads(scale, [r([7])], { s: -1.7 }, 6);
    checkGrads(gelu, [r([5, 7], 2.5)], undefined, 7);
  });
  it('sum / mean', () => {
    for (const axis of [0, 1, 2, -1]) {
      checkGrads(sum, [r([3, 5, 7])], { axis }, 10 + axis);
      checkGrads(mean, [r([3, 5, 7])], { axis }, 20 + axis);
    }
  });
  it('layerNorm / softmax', () => {
    checkGrads(layerNorm, [r([3, 5, 7]), r([7]), r([7])], { eps: 1e-6 }, 30);
    checkGrads(layerNorm, [r([1, 5], 0.3), r([5]), r([5])], { eps: 1e-5 }, 31);
    checkGrads(softmax, [r([3, 5, 7], 2)], undefined, 32);
    checkGrads(softmax, [r([1])], undefined, 33);
  });
  it('attention', () => {
    checkGrads(attention, [r([1, 3, 5, 7]), r([1, 3, 5, 7]), r([1, 3, 5, 7])], { scale: 1 / Math.sqrt(7) }, 40);
    checkGrads(attention, [r([3, 1, 1, 3]), r([3, 1, 5, 3]), r([3, 1, 5, 7])], { scale: 0.8 }, 41);
  });
  it('crossEntropy', () => {
    const labels = tensor([5], [0, 6, 3, 3, 1]);
    for (const labelSmoothing of [0, 0.1, 0.3]) {
      checkGrads(crossEntropy, [r([5, 7], 2), labels], { labelSmoothing }, 50, [0]);
    }
    const grads = crossEntropy.backward([r([5, 7]), labels], { labelSmoothing: 0.1 }, [tensor([], [1])]);
    expect(grads[1]!.shape).toEqual([5]);
    expect(Array.from(grads[1]!.data)).toEqual([0, 0, 0, 0, 0]);
  });
  it('patchEmbed / clsPos', () => {
    checkGrads(patchEmbed, [r([1, 3, 6, 9]), r([5, 3, 3, 3]), r([5])], { patch: 3 }, 60);
    checkGrads(patchEmbed, [r([3, 1, 2, 2]), r([7, 1, 1, 1]), r([7])], { patch: 1 }, 61);
    checkGrads(clsPos, [r([3, 5, 7]), r([1, 1, 7]), r([1, 6, 7])], undefined, 62);
  });
  it('splitHeads / mergeHeads / selectToken / sliceLast / concatLast', () => {
    checkGrads(splitHeads, [r([3, 5, 3 * 3 * 1])], { heads: 3 }, 70);
    checkGrads(splitHeads, [r([1, 3, 3 * 6])], { heads: 2 }, 71);
    checkGrads(mergeHeads, [r([3, 5, 7, 1])], undefined, 72);
    checkGrads(selectToken, [r([3, 5, 7])], { index: 0 }, 73);
    checkGrads(selectToken, [r([3, 5, 7])], { index: 4 }, 74);
    checkGrads(sliceLast, [r([3, 5, 7])], { start: 2, end: 5 }, 75);
    checkGrads(concatLast, [r([3, 5]), r([3, 1]), r([3, 7])], undefined, 76);
  });
  it('every refOp is covered and named by its key', () => {
    for (const [key, op] of Object.entries(refOps)) expect(op.name).toBe(key);
    expect(Object.keys(refOps).sort()).toEqual(
      [
        'matmul', 'add', 'mul', 'scale', 'gelu', 'sum', 'mean', 'layerNorm', 'softmax', 'attention',
        'crossEntropy', 'patchEmbed', 'clsPos', 'splitHeads', 'mergeHeads', 'selectToken', 'sliceLast', 'concatLast',
      ].sort(),
    );
  });
});

describe('optimizers', () => {
  it('adamwStep matches a hand-computed PyTorch AdamW trajectory', () => {
    const p = new Float64Array([1, 1]);
    const m = new Float64Array(2);
    const v = new Float64Array(2);
    const o = { lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, decay: [true, false] };
    adamwStep(p, new Float64Array([0.5, 0.5]), m, v, 1, o);
    // step 1: mhat = g, vhat = g^2 → update lr * g/(|g| + eps)
    const upd1 = (0.1 * 0.5) / (0.5 + 1e-8);
    expect(Math.abs(p[0]! - (1 * (1 - 0.001) - upd1))).toBeLessThan(1e-15);
    expect(Math.abs(p[1]! - (1 - upd1))).toBeLessThan(1e-15);
    close(m, [0.05, 0.05], 1e-15);
    close(v, [0.00025, 0.00025], 1e-15);
    // step 2 with g = -1 on the decayed parameter
    const p0 = p[0]!;
    adamwStep(p, new Float64Array([-1, 0]), m, v, 2, o);
    const m2 = 0.9 * 0.05 + 0.1 * -1;
    const v2 = 0.999 * 0.00025 + 0.001 * 1;
    const expected = p0 * (1 - 0.001) - (0.1 / (1 - 0.81)) * (m2 / (Math.sqrt(v2) / Math.sqrt(1 - 0.998001) + 1e-8));
    expect(Math.abs(p[0]! - expected)).toBeLessThan(1e-14);
    // predicate form of the decay mask
    const q = new Float64Array([2]);
    adamwStep(q, new Float64Array([0]), new Float64Array(1), new Float64Array(1), 1, { ...o, decay: () => true });
    expect(q[0]).toBeCloseTo(2 * (1 - 0.001), 15);
  });
  it('sgdStep', () => {
    const p = new Float64Array([1, 2]);
    sgdStep(p, new Float64Array([0.5, 0.5]), { lr: 0.1, weightDecay: 0.1, decay: (i) => i === 0 });
    close(p, [1 - 0.1 * (0.5 + 0.1), 2 - 0.05], 1e-15);
  });
});
