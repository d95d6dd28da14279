// CPU reference implementations (float64) of every op the GPU engine implements.
// GPU kernel tests compare against these. Row-major layouts, PyTorch semantics.
// Written for clarity and exactness, not speed: keep test shapes small.

export interface RefTensor {
  shape: number[];
  data: Float64Array;
}

export interface RefOp<O = void> {
  name: string;
  /** May return several outputs. */
  forward(inputs: RefTensor[], opts: O): RefTensor[];
  /** One gradient per input (a zeros tensor for non-differentiable inputs such as labels). */
  backward(inputs: RefTensor[], opts: O, gradOutputs: RefTensor[]): RefTensor[];
}

// ---------------------------------------------------------------------------
// Tensor helpers
// ---------------------------------------------------------------------------

export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const s of shape) n *= s;
  return n;
}

function checkShape(shape: readonly number[]): void {
  for (const s of shape) {
    if (!Number.isInteger(s) || s < 0) throw new Error(`invalid shape [${shape.join(', ')}]`);
  }
}

export function tensor(shape: number[], data?: ArrayLike<number>): RefTensor {
  checkShape(shape);
  const n = numel(shape);
  const out = new Float64Array(n);
  if (data !== undefined) {
    if (data.length !== n) {
      throw new Error(`tensor: data length ${data.length} does not match shape [${shape.join(', ')}] (${n})`);
    }
    for (let i = 0; i < n; i++) out[i] = data[i]!;
  }
  return { shape: [...shape], data: out };
}

export function zeros(shape: number[]): RefTensor {
  return tensor(shape);
}

export function zerosLike(t: RefTensor): RefTensor {
  return tensor(t.shape);
}

export function cloneTensor(t: RefTensor): RefTensor {
  return { shape: [...t.shape], data: Float64Array.from(t.data) };
}

/** Seeded uniform generator on [0, 1) (mulberry32). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Standard normal samples (Box–Muller) times `scale`. */
export function randn(shape: number[], rng: () => number, scale = 1): RefTensor {
  const t = tensor(shape);
  const d = t.data;
  for (let i = 0; i < d.length; i += 2) {
    const u1 = 1 - rng(); // (0, 1]
    const u2 = rng();
    const r = Math.sqrt(-2 * Math.log(u1));
    d[i] = scale * r * Math.cos(2 * Math.PI * u2);
    if (i + 1 < d.length) d[i + 1] = scale * r * Math.sin(2 * Math.PI * u2);
  }
  return t;
}

/** max|a-b| / max(max|b|, 1e-12). */
export function maxRelError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`maxRelError: length mismatch ${a.length} vs ${b.length}`);
  let maxDiff = 0;
  let maxB = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    const diff = Math.abs(x - y);
    if (Number.isNaN(diff)) return Number.NaN;
    if (diff > maxDiff) maxDiff = diff;
    const ay = Math.abs(y);
    if (ay > maxB) maxB = ay;
  }
  return maxDiff / Math.max(maxB, 1e-12);
}

/**
 * Central finite differences (f64) of L = sum_o <gradOutputs[o], forward(inputs)[o]>
 * with respect to each input listed in `which`. The result is aligned with `which`:
 * result[j] is dL/d inputs[which[j]] (same shape as that input).
 * A missing gradOutputs[o] counts as zeros.
 */
export function finiteDifferenceGrads<O>(
  op: RefOp<O>,
  inputs: RefTensor[],
  opts: O,
  gradOutputs: RefTensor[],
  which: number[],
  eps = 1e-5,
): RefTensor[] {
  const work = inputs.map(cloneTensor);
  // <g, outs(x+e) - outs(x-e)> computed term by term avoids cancellation in a large L.
  const diff = (plus: RefTensor[], minus: RefTensor[]): number => {
    let s = 0;
    for (let o = 0; o < plus.length; o++) {
      const g = gradOutputs[o];
      if (g === undefined) continue;
      const p = plus[o]!.data;
      const m = minus[o]!.data;
      if (g.data.length !== p.length) {
        throw new Error(`finiteDifferenceGrads: gradOutputs[${o}] has ${g.data.length} elements, output has ${p.length}`);
      }
      for (let i = 0; i < p.length; i++) s += g.data[i]! * (p[i]! - m[i]!);
    }
    return s;
  };
  return which.map((idx) => {
    const t = work[idx];
    if (t === undefined) throw new Error(`finiteDifferenceGrads: no input ${idx}`);
    const g = new Float64Array(t.data.length);
    for (let i = 0; i < t.data.length; i++) {
      const x0 = t.data[i]!;
      t.data[i] = x0 + eps;
      const plus = op.forward(work, opts);
      t.data[i] = x0 - eps;
      const minus = op.forward(work, opts);
      t.data[i] = x0;
      g[i] = diff(plus, minus) / (2 * eps);
    }
    return { shape: [...t.shape], data: g };
  });
}

function input(inputs: RefTensor[], i: number, op: string): RefTensor {
  const t = inputs[i];
  if (t === undefined) throw new Error(`${op}: missing input ${i}`);
  if (t.data.length !== numel(t.shape)) {
    throw new Error(`${op}: input ${i} data length ${t.data.length} does not match shape [${t.shape.join(', ')}]`);
  }
  return t;
}

/** Gradient for output `i`, or zeros of `shape` when absent. */
function gradOut(gradOutputs: RefTensor[], i: number, shape: number[], op: string): Float64Array {
  const g = gradOutputs[i];
  if (g === undefined) return new Float64Array(numel(shape));
  if (g.data.length !== numel(shape)) {
    throw new Error(`${op}: gradOutputs[${i}] has ${g.data.length} elements, expected [${shape.join(', ')}]`);
  }
  return g.data;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((s, i) => s === b[i]);
}

function fmt(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

// ---------------------------------------------------------------------------
// Scalar special functions
// ---------------------------------------------------------------------------

const TWO_OVER_SQRT_PI = 1.1283791670955126; // 2/sqrt(pi)
const ONE_OVER_SQRT_PI = 0.5641895835477563; // 1/sqrt(pi)
const INV_SQRT2 = 0.7071067811865476;
const INV_SQRT_2PI = 0.3989422804014327;
const ERF_SPLIT = 2.5;

/** erf for |x| < ERF_SPLIT: erf(x) = 2/sqrt(pi) e^{-x^2} sum_n 2^n x^{2n+1} / (1*3*...*(2n+1)); all terms positive. */
function erfSeries(x: number): number {
  const x2 = x * x;
  let term = x;
  let sum = x;
  for (let n = 1; n < 200; n++) {
    term *= (2 * x2) / (2 * n + 1);
    sum += term;
    if (Math.abs(term) <= 1e-17 * Math.abs(sum)) break;
  }
  return TWO_OVER_SQRT_PI * Math.exp(-x2) * sum;
}

/** erfc for x >= 1 via the continued fraction
 *  erfc(x) = e^{-x^2}/sqrt(pi) * 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + 2/(x + ...))))), evaluated bottom-up. */
function erfcContinuedFraction(x: number): number {
  // Converges slowly near x = 1 (300 terms reach full precision there), fast for x >= 2.
  let f = x;
  for (let n = x >= 2 ? 80 : 300; n >= 1; n--) f = x + n / 2 / f;
  return (ONE_OVER_SQRT_PI * Math.exp(-x * x)) / f;
}

/** Error function, relative accuracy ~1e-15. */
export function erf(x: number): number {
  if (Number.isNaN(x)) return Number.NaN;
  const ax = Math.abs(x);
  if (ax < ERF_SPLIT) return erfSeries(x);
  const r = 1 - erfcContinuedFraction(ax);
  return x < 0 ? -r : r;
}

/** Complementary error function, accurate in relative terms for large positive x too. */
export function erfc(x: number): number {
  if (Number.isNaN(x)) return Number.NaN;
  if (x < 0) return 2 - erfc(-x);
  if (x < 1) return 1 - erfSeries(x);
  return erfcContinuedFraction(x);
}

/** Exact GELU: 0.5 x (1 + erf(x/sqrt2)) = 0.5 x erfc(-x/sqrt2). */
export function geluScalar(x: number): number {
  return 0.5 * x * erfc(-x * INV_SQRT2);
}

/** d/dx GELU(x) = Phi(x) + x phi(x). */
export function geluGradScalar(x: number): number {
  return 0.5 * erfc(-x * INV_SQRT2) + x * INV_SQRT_2PI * Math.exp(-0.5 * x * x);
}

// ---------------------------------------------------------------------------
// matmul
// ---------------------------------------------------------------------------

export interface MatmulOpts {
  transA?: boolean;
  transB?: boolean;
  bias?: boolean;
  gelu?: boolean;
  relu?: boolean;
}

interface MatmulDims {
  A: RefTensor;
  B: RefTensor;
  C: RefTensor | undefined;
  batchShape: number[];
  batch: number;
  M: number;
  K: number;
  N: number;
  bBroadcast: boolean;
  aIdx: (b: number, m: number, k: number) => number;
  bIdx: (b: number, k: number, n: number) => number;
}

function matmulDims(inputs: RefTensor[], opts: MatmulOpts | undefined): MatmulDims {
  const A = input(inputs, 0, 'matmul');
  const B = input(inputs, 1, 'matmul');
  const transA = opts?.transA ?? false;
  const transB = opts?.transB ?? false;
  const useBias = opts?.bias ?? inputs.length > 2;
  if (A.shape.length < 2 || B.shape.length < 2) throw new Error('matmul: inputs must have rank >= 2');
  const batchShape = A.shape.slice(0, -2);
  const batch = numel(batchShape);
  const ar = A.shape[A.shape.length - 2]!;
  const ac = A.shape[A.shape.length - 1]!;
  const M = transA ? ac : ar;
  const K = transA ? ar : ac;
  const bBroadcast = B.shape.length === 2;
  if (!bBroadcast && !sameShape(B.shape.slice(0, -2), batchShape)) {
    throw new Error(`matmul: batch dims of A ${fmt(A.shape)} and B ${fmt(B.shape)} differ`);
  }
  const br = B.shape[B.shape.length - 2]!;
  const bc = B.shape[B.shape.length - 1]!;
  const KB = transB ? bc : br;
  const N = transB ? br : bc;
  if (KB !== K) throw new Error(`matmul: inner dims differ (A ${fmt(A.shape)}, B ${fmt(B.shape)}, transA=${transA}, transB=${transB})`);
  let C: RefTensor | undefined;
  if (useBias) {
    C = input(inputs, 2, 'matmul');
    if (C.data.length !== N) throw new Error(`matmul: bias ${fmt(C.shape)} must have ${N} elements`);
  }
  const aIdx = transA
    ? (b: number, m: number, k: number) => b * M * K + k * M + m
    : (b: number, m: number, k: number) => b * M * K + m * K + k;
  const bIdx = transB
    ? (b: number, k: number, n: number) => (bBroadcast ? 0 : b * K * N) + n * K + k
    : (b: number, k: number, n: number) => (bBroadcast ? 0 : b * K * N) + k * N + n;
  return { A, B, C, batchShape, batch, M, K, N, bBroadcast, aIdx, bIdx };
}

/** Pre-activation z = A·B (+ bias), shape [batch, M, N] flattened. */
function matmulPre(d: MatmulDims): Float64Array {
  const { A, B, C, batch, M, K, N, aIdx, bIdx } = d;
  const z = new Float64Array(batch * M * N);
  for (let b = 0; b < batch; b++) {
    for (let m = 0; m < M; m++) {
      for (let n = 0; n < N; n++) {
        let s = C ? C.data[n]! : 0;
        for (let k = 0; k < K; k++) s += A.data[aIdx(b, m, k)]! * B.data[bIdx(b, k, n)]!;
        z[(b * M + m) * N + n] = s;
      }
    }
  }
  return z;
}

export const matmul: RefOp<MatmulOpts> = {
  name: 'matmul',
  forward(inputs, opts) {
    const d = matmulDims(inputs, opts);
    const z = matmulPre(d);
    if (opts?.gelu) for (let i = 0; i < z.length; i++) z[i] = geluScalar(z[i]!);
    if (opts?.relu) for (let i = 0; i < z.length; i++) z[i] = Math.max(z[i]!, 0);
    return [{ shape: [...d.batchShape, d.M, d.N], data: z }];
  },
  backward(inputs, opts, gradOutputs) {
    const d = matmulDims(inputs, opts);
    const { A, B, C, batch, M, K, N, aIdx, bIdx } = d;
    const g = gradOut(gradOutputs, 0, [...d.batchShape, M, N], 'matmul');
    const dz = Float64Array.from(g);
    if (opts?.gelu) {
      const z = matmulPre(d);
      for (let i = 0; i < dz.length; i++) dz[i] = dz[i]! * geluGradScalar(z[i]!);
    }
    if (opts?.relu) {
      const z = matmulPre(d);
      for (let i = 0; i < dz.length; i++) if (!(z[i]! > 0)) dz[i] = 0;
    }
    const dA = zerosLike(A);
    const dB = zerosLike(B);
    for (let b = 0; b < batch; b++) {
      for (let m = 0; m < M; m++) {
        for (let k = 0; k < K; k++) {
          let s = 0;
          for (let n = 0; n < N; n++) s += dz[(b * M + m) * N + n]! * B.data[bIdx(b, k, n)]!;
          dA.data[aIdx(b, m, k)] = s;
        }
      }
      for (let k = 0; k < K; k++) {
        for (let n = 0; n < N; n++) {
          let s = 0;
          for (let m = 0; m < M; m++) s += A.data[aIdx(b, m, k)]! * dz[(b * M + m) * N + n]!;
          const j = bIdx(b, k, n);
          dB.data[j] = dB.data[j]! + s;
        }
      }
    }
    const grads = [dA, dB];
    if (C) {
      const dC = zerosLike(C);
      for (let r = 0; r < batch * M; r++) {
        for (let n = 0; n < N; n++) dC.data[n] = dC.data[n]! + dz[r * N + n]!;
      }
      grads.push(dC);
    }
    return grads;
  },
};

// ---------------------------------------------------------------------------
// Elementwise
// ---------------------------------------------------------------------------

function addCheck(inputs: RefTensor[]): { a: RefTensor; b: RefTensor } {
  const a = input(inputs, 0, 'add');
  const b = input(inputs, 1, 'add');
  const off = a.shape.length - b.shape.length;
  if (off < 0 || !sameShape(a.shape.slice(off), b.shape)) {
    throw new Error(`add: shape ${fmt(b.shape)} is not a suffix of ${fmt(a.shape)}`);
  }
  return { a, b };
}

/** a + b, where b's shape equals a's shape or is a suffix of it (broadcast over leading dims). */
export const add: RefOp = {
  name: 'add',
  forward(inputs) {
    const { a, b } = addCheck(inputs);
    const out = zerosLike(a);
    const nb = b.data.length;
    for (let i = 0; i < a.data.length; i++) out.data[i] = a.data[i]! + b.data[i % nb]!;
    return [out];
  },
  backward(inputs, _opts, gradOutputs) {
    const { a, b } = addCheck(inputs);
    const g = gradOut(gradOutputs, 0, a.shape, 'add');
    const da = tensor(a.shape, g);
    const db = zerosLike(b);
    const nb = b.data.length;
    for (let i = 0; i < g.length; i++) db.data[i % nb] = db.data[i % nb]! + g[i]!;
    return [da, db];
  },
};

function mulCheck(inputs: RefTensor[]): { a: RefTensor; b: RefTensor } {
  const a = input(inputs, 0, 'mul');
  const b = input(inputs, 1, 'mul');
  if (!sameShape(a.shape, b.shape)) throw new Error(`mul: shapes ${fmt(a.shape)} and ${fmt(b.shape)} differ`);
  return { a, b };
}

export const mul: RefOp = {
  name: 'mul',
  forward(inputs) {
    const { a, b } = mulCheck(inputs);
    const out = zerosLike(a);
    for (let i = 0; i < a.data.length; i++) out.data[i] = a.data[i]! * b.data[i]!;
    return [out];
  },
  backward(inputs, _opts, gradOutputs) {
    const { a, b } = mulCheck(inputs);
    const g = gradOut(gradOutputs, 0, a.shape, 'mul');
    const da = zerosLike(a);
    const db = zerosLike(b);
    for (let i = 0; i < g.length; i++) {
      da.data[i] = g[i]! * b.data[i]!;
      db.data[i] = g[i]! * a.data[i]!;
    }
    return [da, db];
  },
};

export interface ScaleOpts {
  s: number;
}

export const scale: RefOp<ScaleOpts> = {
  name: 'scale',
  forward(inputs, opts) {
    const x = input(inputs, 0, 'scale');
    const out = zerosLike(x);
    for (let i = 0; i < x.data.length; i++) out.data[i] = x.data[i]! * opts.s;
    return [out];
  },
  backward(inputs, opts, gradOutputs) {
    const x = input(inputs, 0, 'scale');
    const g = gradOut(gradOutputs, 0, x.shape, 'scale');
    const dx = zerosLike(x);
    for (let i = 0; i < g.length; i++) dx.data[i] = g[i]! * opts.s;
    return [dx];
  },
};

export const gelu: RefOp = {
  name: 'gelu',
  forward(inputs) {
    const x = input(inputs, 0, 'gelu');
    const out = zerosLike(x);
    for (let i = 0; i < x.data.length; i++) out.data[i] = geluScalar(x.data[i]!);
    return [out];
  },
  backward(inputs, _opts, gradOutputs) {
    const x = input(inputs, 0, 'gelu');
    const g = gradOut(gradOutputs, 0, x.shape, 'gelu');
    const dx = zerosLike(x);
    for (let i = 0; i < g.length; i++) dx.data[i] = g[i]! * geluGradScalar(x.data[i]!);
    return [dx];
  },
};

// ---------------------------------------------------------------------------
// Reductions
// ---------------------------------------------------------------------------

export interface AxisOpts {
  /** Negative values count from the end, as in PyTorch. */
  axis: number;
}

function axisSplit(shape: readonly number[], axis: number, op: string): { outer: number; len: number; inner: number; outShape: number[] } {
  const r = shape.length;
  const ax = axis < 0 ? axis + r : axis;
  if (!Number.isInteger(ax) || ax < 0 || ax >= r) throw new Error(`${op}: axis ${axis} out of range for ${fmt(shape)}`);
  return {
    outer: numel(shape.slice(0, ax)),
    len: shape[ax]!,
    inner: numel(shape.slice(ax + 1)),
    outShape: [...shape.slice(0, ax), ...shape.slice(ax + 1)],
  };
}

function makeReduce(name: 'sum' | 'mean'): RefOp<AxisOpts> {
  return {
    name,
    forward(inputs, opts) {
      const x = input(inputs, 0, name);
      const { outer, len, inner, outShape } = axisSplit(x.shape, opts.axis, name);
      const out = tensor(outShape);
      for (let o = 0; o < outer; o++) {
        for (let i = 0; i < inner; i++) {
          let s = 0;
          for (let l = 0; l < len; l++) s += x.data[(o * len + l) * inner + i]!;
          out.data[o * inner + i] = name === 'mean' ? s / len : s;
        }
      }
      return [out];
    },
    backward(inputs, opts, gradOutputs) {
      const x = input(inputs, 0, name);
      const { outer, len, inner, outShape } = axisSplit(x.shape, opts.axis, name);
      const g = gradOut(gradOutputs, 0, outShape, name);
      const dx = zerosLike(x);
      for (let o = 0; o < outer; o++) {
        for (let i = 0; i < inner; i++) {
          const v = name === 'mean' ? g[o * inner + i]! / len : g[o * inner + i]!;
          for (let l = 0; l < len; l++) dx.data[(o * len + l) * inner + i] = v;
        }
      }
      return [dx];
    },
  };
}

export const sum: RefOp<AxisOpts> = makeReduce('sum');
export const mean: RefOp<AxisOpts> = makeReduce('mean');

// ---------------------------------------------------------------------------
// layerNorm / softmax
// ---------------------------------------------------------------------------

export interface LayerNormOpts {
  /** Default 1e-6 (timm ViT). */
  eps?: number;
}

function layerNormCheck(inputs: RefTensor[]): { x: RefTensor; w: RefTensor; b: RefTensor; D: number; rows: number } {
  const x = input(inputs, 0, 'layerNorm');
  const w = input(inputs, 1, 'layerNorm');
  const b = input(inputs, 2, 'layerNorm');
  if (x.shape.length < 1) throw new Error('layerNorm: x must have rank >= 1');
  const D = x.shape[x.shape.length - 1]!;
  if (w.data.length !== D || b.data.length !== D) {
    throw new Error(`layerNorm: weight ${fmt(w.shape)} / bias ${fmt(b.shape)} must have ${D} elements`);
  }
  return { x, w, b, D, rows: D === 0 ? 0 : x.data.length / D };
}

/** Per-row mean and reciprocal std (biased variance). */
function layerNormStats(x: Float64Array, rows: number, D: number, eps: number): { mu: Float64Array; rstd: Float64Array } {
  const mu = new Float64Array(rows);
  const rstd = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let j = 0; j < D; j++) s += x[r * D + j]!;
    const m = s / D;
    let v = 0;
    for (let j = 0; j < D; j++) {
      const c = x[r * D + j]! - m;
      v += c * c;
    }
    mu[r] = m;
    rstd[r] = 1 / Math.sqrt(v / D + eps);
  }
  return { mu, rstd };
}

export const layerNorm: RefOp<LayerNormOpts> = {
  name: 'layerNorm',
  forward(inputs, opts) {
    const { x, w, b, D, rows } = layerNormCheck(inputs);
    const { mu, rstd } = layerNormStats(x.data, rows, D, opts?.eps ?? 1e-6);
    const out = zerosLike(x);
    for (let r = 0; r < rows; r++) {
      for (let j = 0; j < D; j++) {
        const i = r * D + j;
        out.data[i] = (x.data[i]! - mu[r]!) * rstd[r]! * w.data[j]! + b.data[j]!;
      }
    }
    return [out];
  },
  backward(inputs, opts, gradOutputs) {
    const { x, w, b, D, rows } = layerNormCheck(inputs);
    const g = gradOut(gradOutputs, 0, x.shape, 'layerNorm');
    const { mu, rstd } = layerNormStats(x.data, rows, D, opts?.eps ?? 1e-6);
    const dx = zerosLike(x);
    const dw = zerosLike(w);
    const db = zerosLike(b);
    const xhat = new Float64Array(D);
    const dxhat = new Float64Array(D);
    for (let r = 0; r < rows; r++) {
      let meanDxhat = 0;
      let meanDxhatXhat = 0;
      for (let j = 0; j < D; j++) {
        const i = r * D + j;
        const xh = (x.data[i]! - mu[r]!) * rstd[r]!;
        const dxh = g[i]! * w.data[j]!;
        xhat[j] = xh;
        dxhat[j] = dxh;
        meanDxhat += dxh;
        meanDxhatXhat += dxh * xh;
        dw.data[j] = dw.data[j]! + g[i]! * xh;
        db.data[j] = db.data[j]! + g[i]!;
      }
      meanDxhat /= D;
      meanDxhatXhat /= D;
      for (let j = 0; j < D; j++) {
        dx.data[r * D + j] = rstd[r]! * (dxhat[j]! - meanDxhat - xhat[j]! * meanDxhatXhat);
      }
    }
    return [dx, dw, db];
  },
};

function softmaxRows(x: Float64Array, rows: number, C: number, out: Float64Array): void {
  for (let r = 0; r < rows; r++) {
    let mx = -Infinity;
    for (let j = 0; j < C; j++) mx = Math.max(mx, x[r * C + j]!);
    let s = 0;
    for (let j = 0; j < C; j++) {
      const e = Math.exp(x[r * C + j]! - mx);
      out[r * C + j] = e;
      s += e;
    }
    for (let j = 0; j < C; j++) out[r * C + j] = out[r * C + j]! / s;
  }
}

/** Softmax over the last axis. */
export const softmax: RefOp = {
  name: 'softmax',
  forward(inputs) {
    const x = input(inputs, 0, 'softmax');
    const C = x.shape[x.shape.length - 1] ?? 1;
    const out = zerosLike(x);
    softmaxRows(x.data, C === 0 ? 0 : x.data.length / C, C, out.data);
    return [out];
  },
  backward(inputs, _opts, gradOutputs) {
    const x = input(inputs, 0, 'softmax');
    const C = x.shape[x.shape.length - 1] ?? 1;
    const rows = C === 0 ? 0 : x.data.length / C;
    const g = gradOut(gradOutputs, 0, x.shape, 'softmax');
    const y = new Float64Array(x.data.length);
    softmaxRows(x.data, rows, C, y);
    const dx = zerosLike(x);
    for (let r = 0; r < rows; r++) {
      let dot = 0;
      for (let j = 0; j < C; j++) dot += g[r * C + j]! * y[r * C + j]!;
      for (let j = 0; j < C; j++) dx.data[r * C + j] = y[r * C + j]! * (g[r * C + j]! - dot);
    }
    return [dx];
  },
};

// ---------------------------------------------------------------------------
// attention
// ---------------------------------------------------------------------------

export interface AttentionOpts {
  scale: number;
}

interface AttnDims {
  q: RefTensor;
  k: RefTensor;
  v: RefTensor;
  BH: number;
  Nq: number;
  Nk: number;
  Dh: number;
  Dv: number;
}

function attnDims(inputs: RefTensor[]): AttnDims {
  const q = input(inputs, 0, 'attention');
  const k = input(inputs, 1, 'attention');
  const v = input(inputs, 2, 'attention');
  if (q.shape.length !== 4 || k.shape.length !== 4 || v.shape.length !== 4) {
    throw new Error('attention: q, k, v must be [B, H, N, Dh]');
  }
  const [B, H, Nq, Dh] = q.shape as [number, number, number, number];
  const [kB, kH, Nk, kD] = k.shape as [number, number, number, number];
  const [vB, vH, vN, Dv] = v.shape as [number, number, number, number];
  if (kB !== B || vB !== B || kH !== H || vH !== H || kD !== Dh || vN !== Nk) {
    throw new Error(`attention: incompatible shapes q ${fmt(q.shape)}, k ${fmt(k.shape)}, v ${fmt(v.shape)}`);
  }
  return { q, k, v, BH: B * H, Nq, Nk, Dh, Dv };
}

/** Attention probabilities P = softmax(q kᵀ scale) for every (b, h): [BH, Nq, Nk]. */
function attnProbs(d: AttnDims, s: number): Float64Array {
  const { q, k, BH, Nq, Nk, Dh } = d;
  const S = new Float64Array(BH * Nq * Nk);
  for (let bh = 0; bh < BH; bh++) {
    for (let i = 0; i < Nq; i++) {
      for (let j = 0; j < Nk; j++) {
        let acc = 0;
        for (let e = 0; e < Dh; e++) acc += q.data[(bh * Nq + i) * Dh + e]! * k.data[(bh * Nk + j) * Dh + e]!;
        S[(bh * Nq + i) * Nk + j] = acc * s;
      }
    }
  }
  const P = new Float64Array(S.length);
  softmaxRows(S, BH * Nq, Nk, P);
  return P;
}

/** softmax(q·kᵀ·scale)·v over [B, H, N, Dh] inputs. */
export const attention: RefOp<AttentionOpts> = {
  name: 'attention',
  forward(inputs, opts) {
    const d = attnDims(inputs);
    const { v, BH, Nq, Nk, Dv } = d;
    const P = attnProbs(d, opts.scale);
    const out = tensor([...d.q.shape.slice(0, 3), Dv]);
    for (let bh = 0; bh < BH; bh++) {
      for (let i = 0; i < Nq; i++) {
        for (let e = 0; e < Dv; e++) {
          let acc = 0;
          for (let j = 0; j < Nk; j++) acc += P[(bh * Nq + i) * Nk + j]! * v.data[(bh * Nk + j) * Dv + e]!;
          out.data[(bh * Nq + i) * Dv + e] = acc;
        }
      }
    }
    return [out];
  },
  backward(inputs, opts, gradOutputs) {
    const d = attnDims(inputs);
    const { q, k, v, BH, Nq, Nk, Dh, Dv } = d;
    const s = opts.scale;
    const gO = gradOut(gradOutputs, 0, [...q.shape.slice(0, 3), Dv], 'attention');
    const P = attnProbs(d, s);
    const dq = zerosLike(q);
    const dk = zerosLike(k);
    const dv = zerosLike(v);
    const dP = new Float64Array(Nk);
    for (let bh = 0; bh < BH; bh++) {
      for (let i = 0; i < Nq; i++) {
        const row = (bh * Nq + i) * Nk;
        // dP[j] = <dO[i], v[j]>;  dV[j] += P[i,j] dO[i]
        let dot = 0;
        for (let j = 0; j < Nk; j++) {
          let acc = 0;
          const pij = P[row + j]!;
          for (let e = 0; e < Dv; e++) {
            const go = gO[(bh * Nq + i) * Dv + e]!;
            const vi = (bh * Nk + j) * Dv + e;
            acc += go * v.data[vi]!;
            dv.data[vi] = dv.data[vi]! + pij * go;
          }
          dP[j] = acc;
          dot += acc * pij;
        }
        // dS = P * (dP - <dP, P>);  dq[i] += s dS[j] k[j];  dk[j] += s dS[j] q[i]
        for (let j = 0; j < Nk; j++) {
          const dS = P[row + j]! * (dP[j]! - dot) * s;
          for (let e = 0; e < Dh; e++) {
            const qi = (bh * Nq + i) * Dh + e;
            const ki = (bh * Nk + j) * Dh + e;
            dq.data[qi] = dq.data[qi]! + dS * k.data[ki]!;
            dk.data[ki] = dk.data[ki]! + dS * q.data[qi]!;
          }
        }
      }
    }
    return [dq, dk, dv];
  },
};

// ---------------------------------------------------------------------------
// crossEntropy
// ---------------------------------------------------------------------------

export interface CrossEntropyOpts {
  labelSmoothing: number;
}

function ceSetup(inputs: RefTensor[], opts: CrossEntropyOpts | undefined): {
  logits: RefTensor;
  labels: RefTensor;
  N: number;
  C: number;
  eps: number;
  logp: Float64Array;
} {
  const logits = input(inputs, 0, 'crossEntropy');
  const labels = input(inputs, 1, 'crossEntropy');
  if (logits.shape.length !== 2) throw new Error(`crossEntropy: logits must be [N, C], got ${fmt(logits.shape)}`);
  const [N, C] = logits.shape as [number, number];
  if (labels.data.length !== N) throw new Error(`crossEntropy: labels ${fmt(labels.shape)} must have ${N} elements`);
  for (let i = 0; i < N; i++) {
    const y = labels.data[i]!;
    if (!Number.isInteger(y) || y < 0 || y >= C) throw new Error(`crossEntropy: label ${y} at ${i} not an integer in [0, ${C})`);
  }
  const logp = new Float64Array(N * C);
  for (let r = 0; r < N; r++) {
    let mx = -Infinity;
    for (let c = 0; c < C; c++) mx = Math.max(mx, logits.data[r * C + c]!);
    let s = 0;
    for (let c = 0; c < C; c++) s += Math.exp(logits.data[r * C + c]! - mx);
    const lse = mx + Math.log(s);
    for (let c = 0; c < C; c++) logp[r * C + c] = logits.data[r * C + c]! - lse;
  }
  return { logits, labels, N, C, eps: opts?.labelSmoothing ?? 0, logp };
}

/** Mean over N of PyTorch cross_entropy(logits, labels, label_smoothing=ε);
 *  target distribution (1-ε)·onehot + ε/C. Output is a scalar (shape []). */
export const crossEntropy: RefOp<CrossEntropyOpts> = {
  name: 'crossEntropy',
  forward(inputs, opts) {
    const { labels, N, C, eps, logp } = ceSetup(inputs, opts);
    let total = 0;
    for (let r = 0; r < N; r++) {
      const y = labels.data[r]!;
      let smooth = 0;
      for (let c = 0; c < C; c++) smooth -= logp[r * C + c]!;
      const nll = -logp[r * C + y]!;
      total += (1 - eps) * nll + (eps / C) * smooth;
    }
    return [tensor([], [total / N])];
  },
  backward(inputs, opts, gradOutputs) {
    const { logits, labels, N, C, eps, logp } = ceSetup(inputs, opts);
    const g = gradOut(gradOutputs, 0, [], 'crossEntropy')[0]!;
    const dl = zerosLike(logits);
    for (let r = 0; r < N; r++) {
      const y = labels.data[r]!;
      for (let c = 0; c < C; c++) {
        const target = (c === y ? 1 - eps : 0) + eps / C;
        dl.data[r * C + c] = (g * (Math.exp(logp[r * C + c]!) - target)) / N;
      }
    }
    return [dl, zerosLike(labels)];
  },
};

// ---------------------------------------------------------------------------
// ViT plumbing
// ---------------------------------------------------------------------------

export interface PatchEmbedOpts {
  patch: number;
}

function patchDims(inputs: RefTensor[], P: number) {
  const img = input(inputs, 0, 'patchEmbed');
  const w = input(inputs, 1, 'patchEmbed');
  const bias = input(inputs, 2, 'patchEmbed');
  if (img.shape.length !== 4 || w.shape.length !== 4) throw new Error('patchEmbed: image [B,Cin,H,W] and weight [D,Cin,P,P] expected');
  const [B, Cin, H, W] = img.shape as [number, number, number, number];
  const [D, wC, wP, wQ] = w.shape as [number, number, number, number];
  if (wC !== Cin || wP !== P || wQ !== P) throw new Error(`patchEmbed: weight ${fmt(w.shape)} does not match Cin=${Cin}, patch=${P}`);
  if (bias.data.length !== D) throw new Error(`patchEmbed: bias must have ${D} elements`);
  // Conv2d with stride = kernel = P: a trailing remainder (if any) is dropped, like PyTorch.
  const gh = Math.floor(H / P);
  const gw = Math.floor(W / P);
  return { img, w, bias, B, Cin, H, W, D, gh, gw, n: gh * gw };
}

/** Conv2d(kernel=stride=P) then flatten(2).transpose(1,2): [B, n, D], patches row-major. */
export const patchEmbed: RefOp<PatchEmbedOpts> = {
  name: 'patchEmbed',
  forward(inputs, opts) {
    const P = opts.patch;
    const { img, w, bias, B, Cin, H, W, D, gw, n } = patchDims(inputs, P);
    const out = tensor([B, n, D]);
    for (let b = 0; b < B; b++) {
      for (let t = 0; t < n; t++) {
        const py = Math.floor(t / gw);
        const px = t % gw;
        for (let d = 0; d < D; d++) {
          let s = bias.data[d]!;
          for (let c = 0; c < Cin; c++) {
            for (let i = 0; i < P; i++) {
              for (let j = 0; j < P; j++) {
                s += w.data[((d * Cin + c) * P + i) * P + j]! * img.data[((b * Cin + c) * H + py * P + i) * W + px * P + j]!;
              }
            }
          }
          out.data[(b * n + t) * D + d] = s;
        }
      }
    }
    return [out];
  },
  backward(inputs, opts, gradOutputs) {
    const P = opts.patch;
    const { img, w, bias, B, Cin, H, W, D, gw, n } = patchDims(inputs, P);
    const g = gradOut(gradOutputs, 0, [B, n, D], 'patchEmbed');
    const dimg = zerosLike(img);
    const dw = zerosLike(w);
    const db = zerosLike(bias);
    for (let b = 0; b < B; b++) {
      for (let t = 0; t < n; t++) {
        const py = Math.floor(t / gw);
        const px = t % gw;
        for (let d = 0; d < D; d++) {
          const go = g[(b * n + t) * D + d]!;
          db.data[d] = db.data[d]! + go;
          for (let c = 0; c < Cin; c++) {
            for (let i = 0; i < P; i++) {
              for (let j = 0; j < P; j++) {
                const wi = ((d * Cin + c) * P + i) * P + j;
                const ii = ((b * Cin + c) * H + py * P + i) * W + px * P + j;
                dw.data[wi] = dw.data[wi]! + go * img.data[ii]!;
                dimg.data[ii] = dimg.data[ii]! + go * w.data[wi]!;
              }
            }
          }
        }
      }
    }
    return [dimg, dw, db];
  },
};

function clsPosDims(inputs: RefTensor[]) {
  const x = input(inputs, 0, 'clsPos');
  const cls = input(inputs, 1, 'clsPos');
  const pos = input(inputs, 2, 'clsPos');
  if (x.shape.length !== 3) throw new Error(`clsPos: x must be [B, n, D], got ${fmt(x.shape)}`);
  const [B, n, D] = x.shape as [number, number, number];
  if (cls.data.length !== D) throw new Error(`clsPos: cls ${fmt(cls.shape)} must have ${D} elements`);
  if (pos.data.length !== (n + 1) * D) throw new Error(`clsPos: pos ${fmt(pos.shape)} must be [1, ${n + 1}, ${D}]`);
  return { x, cls, pos, B, n, D };
}

/** concat(cls broadcast over B, x) along tokens, plus pos: [B, 1+n, D]. */
export const clsPos: RefOp = {
  name: 'clsPos',
  forward(inputs) {
    const { x, cls, pos, B, n, D } = clsPosDims(inputs);
    const out = tensor([B, n + 1, D]);
    for (let b = 0; b < B; b++) {
      for (let t = 0; t <= n; t++) {
        for (let d = 0; d < D; d++) {
          const v = t === 0 ? cls.data[d]! : x.data[(b * n + t - 1) * D + d]!;
          out.data[(b * (n + 1) + t) * D + d] = v + pos.data[t * D + d]!;
        }
      }
    }
    return [out];
  },
  backward(inputs, _opts, gradOutputs) {
    const { x, cls, pos, B, n, D } = clsPosDims(inputs);
    const g = gradOut(gradOutputs, 0, [B, n + 1, D], 'clsPos');
    const dx = zerosLike(x);
    const dcls = zerosLike(cls);
    const dpos = zerosLike(pos);
    for (let b = 0; b < B; b++) {
      for (let t = 0; t <= n; t++) {
        for (let d = 0; d < D; d++) {
          const go = g[(b * (n + 1) + t) * D + d]!;
          dpos.data[t * D + d] = dpos.data[t * D + d]! + go;
          if (t === 0) dcls.data[d] = dcls.data[d]! + go;
          else dx.data[(b * n + t - 1) * D + d] = go;
        }
      }
    }
    return [dx, dcls, dpos];
  },
};

export interface SplitHeadsOpts {
  heads: number;
}

function splitDims(inputs: RefTensor[], H: number) {
  const x = input(inputs, 0, 'splitHeads');
  if (x.shape.length !== 3) throw new Error(`splitHeads: input must be [B, N, 3D], got ${fmt(x.shape)}`);
  const [B, N, C3] = x.shape as [number, number, number];
  if (C3 % 3 !== 0 || (C3 / 3) % H !== 0) throw new Error(`splitHeads: last dim ${C3} not divisible by 3*${H}`);
  const D = C3 / 3;
  return { x, B, N, C3, D, Dh: D / H };
}

/** qkv [B, N, 3D] → q, k, v each [B, H, N, D/H] (timm reshape(B,N,3,H,Dh).permute(2,0,3,1,4)). */
export const splitHeads: RefOp<SplitHeadsOpts> = {
  name: 'splitHeads',
  forward(inputs, opts) {
    const H = opts.heads;
    const { x, B, N, C3, D, Dh } = splitDims(inputs, H);
    const outs = [0, 1, 2].map(() => tensor([B, H, N, Dh]));
    for (let s = 0; s < 3; s++) {
      const o = outs[s]!.data;
      for (let b = 0; b < B; b++)
        for (let h = 0; h < H; h++)
          for (let t = 0; t < N; t++)
            for (let e = 0; e < Dh; e++) o[((b * H + h) * N + t) * Dh + e] = x.data[(b * N + t) * C3 + s * D + h * Dh + e]!;
    }
    return outs;
  },
  backward(inputs, opts, gradOutputs) {
    const H = opts.heads;
    const { x, B, N, C3, D, Dh } = splitDims(inputs, H);
    const dx = zerosLike(x);
    for (let s = 0; s < 3; s++) {
      const g = gradOut(gradOutputs, s, [B, H, N, Dh], 'splitHeads');
      for (let b = 0; b < B; b++)
        for (let h = 0; h < H; h++)
          for (let t = 0; t < N; t++)
            for (let e = 0; e < Dh; e++) dx.data[(b * N + t) * C3 + s * D + h * Dh + e] = g[((b * H + h) * N + t) * Dh + e]!;
    }
    return [dx];
  },
};

function mergeDims(inputs: RefTensor[]) {
  const x = input(inputs, 0, 'mergeHeads');
  if (x.shape.length !== 4) throw new Error(`mergeHeads: input must be [B, H, N, Dh], got ${fmt(x.shape)}`);
  const [B, H, N, Dh] = x.shape as [number, number, number, number];
  return { x, B, H, N, Dh };
}

/** [B, H, N, Dh] → [B, N, H·Dh] (transpose(1,2).reshape). */
export const mergeHeads: RefOp = {
  name: 'mergeHeads',
  forward(inputs) {
    const { x, B, H, N, Dh } = mergeDims(inputs);
    const out = tensor([B, N, H * Dh]);
    for (let b = 0; b < B; b++)
      for (let h = 0; h < H; h++)
        for (let t = 0; t < N; t++)
          for (let e = 0; e < Dh; e++) out.data[(b * N + t) * H * Dh + h * Dh + e] = x.data[((b * H + h) * N + t) * Dh + e]!;
    return [out];
  },
  backward(inputs, _opts, gradOutputs) {
    const { x, B, H, N, Dh } = mergeDims(inputs);
    const g = gradOut(gradOutputs, 0, [B, N, H * Dh], 'mergeHeads');
    const dx = zerosLike(x);
    for (let b = 0; b < B; b++)
      for (let h = 0; h < H; h++)
        for (let t = 0; t < N; t++)
          for (let e = 0; e < Dh; e++) dx.data[((b * H + h) * N + t) * Dh + e] = g[(b * N + t) * H * Dh + h * Dh + e]!;
    return [dx];
  },
};

export interface SelectTokenOpts {
  /** Negative values count from the end. */
  index: number;
}

function selectDims(inputs: RefTensor[], index: number) {
  const x = input(inputs, 0, 'selectToken');
  if (x.shape.length !== 3) throw new Error(`selectToken: input must be [B, N, D], got ${fmt(x.shape)}`);
  const [B, N, D] = x.shape as [number, number, number];
  const t = index < 0 ? index + N : index;
  if (!Number.isInteger(t) || t < 0 || t >= N) throw new Error(`selectToken: index ${index} out of range for N=${N}`);
  return { x, B, N, D, t };
}

/** x[:, index]: [B, N, D] → [B, D]. */
export const selectToken: RefOp<SelectTokenOpts> = {
  name: 'selectToken',
  forward(inputs, opts) {
    const { x, B, N, D, t } = selectDims(inputs, opts.index);
    const out = tensor([B, D]);
    for (let b = 0; b < B; b++) for (let d = 0; d < D; d++) out.data[b * D + d] = x.data[(b * N + t) * D + d]!;
    return [out];
  },
  backward(inputs, opts, gradOutputs) {
    const { x, B, N, D, t } = selectDims(inputs, opts.index);
    const g = gradOut(gradOutputs, 0, [B, D], 'selectToken');
    const dx = zerosLike(x);
    for (let b = 0; b < B; b++) for (let d = 0; d < D; d++) dx.data[(b * N + t) * D + d] = g[b * D + d]!;
    return [dx];
  },
};

export interface SliceLastOpts {
  start: number;
  end: number;
}

function sliceDims(inputs: RefTensor[], opts: SliceLastOpts) {
  const x = input(inputs, 0, 'sliceLast');
  if (x.shape.length < 1) throw new Error('sliceLast: input must have rank >= 1');
  const D = x.shape[x.shape.length - 1]!;
  const { start, end } = opts;
  if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end < start || end > D) {
    throw new Error(`sliceLast: invalid range [${start}, ${end}) for last dim ${D}`);
  }
  const W = end - start;
  return { x, D, W, start, rows: D === 0 ? 0 : x.data.length / D, outShape: [...x.shape.slice(0, -1), W] };
}

/** x[..., start:end]. */
export const sliceLast: RefOp<SliceLastOpts> = {
  name: 'sliceLast',
  forward(inputs, opts) {
    const { x, D, W, start, rows, outShape } = sliceDims(inputs, opts);
    const out = tensor(outShape);
    for (let r = 0; r < rows; r++) for (let j = 0; j < W; j++) out.data[r * W + j] = x.data[r * D + start + j]!;
    return [out];
  },
  backward(inputs, opts, gradOutputs) {
    const { x, D, W, start, rows, outShape } = sliceDims(inputs, opts);
    const g = gradOut(gradOutputs, 0, outShape, 'sliceLast');
    const dx = zerosLike(x);
    for (let r = 0; r < rows; r++) for (let j = 0; j < W; j++) dx.data[r * D + start + j] = g[r * W + j]!;
    return [dx];
  },
};

function concatDims(inputs: RefTensor[]) {
  if (inputs.length === 0) throw new Error('concatLast: no inputs');
  const first = input(inputs, 0, 'concatLast');
  if (first.shape.length < 1) throw new Error('concatLast: inputs must have rank >= 1');
  const lead = first.shape.slice(0, -1);
  const widths: number[] = [];
  for (let i = 0; i < inputs.length; i++) {
    const t = input(inputs, i, 'concatLast');
    if (t.shape.length !== first.shape.length || !sameShape(t.shape.slice(0, -1), lead)) {
      throw new Error(`concatLast: input ${i} ${fmt(t.shape)} incompatible with ${fmt(first.shape)}`);
    }
    widths.push(t.shape[t.shape.length - 1]!);
  }
  const total = widths.reduce((a, b) => a + b, 0);
  return { widths, total, rows: numel(lead), outShape: [...lead, total] };
}

/** Concatenate all inputs along the last axis. */
export const concatLast: RefOp = {
  name: 'concatLast',
  forward(inputs) {
    const { widths, total, rows, outShape } = concatDims(inputs);
    const out = tensor(outShape);
    let off = 0;
    inputs.forEach((t, i) => {
      const w = widths[i]!;
      for (let r = 0; r < rows; r++) for (let j = 0; j < w; j++) out.data[r * total + off + j] = t.data[r * w + j]!;
      off += w;
    });
    return [out];
  },
  backward(inputs, _opts, gradOutputs) {
    const { widths, total, rows, outShape } = concatDims(inputs);
    const g = gradOut(gradOutputs, 0, outShape, 'concatLast');
    let off = 0;
    return inputs.map((t, i) => {
      const w = widths[i]!;
      const d = zerosLike(t);
      for (let r = 0; r < rows; r++) for (let j = 0; j < w; j++) d.data[r * w + j] = g[r * total + off + j]!;
      off += w;
      return d;
    });
  },
};

// ---------------------------------------------------------------------------
// Optimizers (in place)
// ---------------------------------------------------------------------------

/** Which parameters get weight decay: per-index flags or a predicate. Omitted: all of them. */
export type DecayMask = boolean[] | ((i: number) => boolean);

function decays(mask: DecayMask | undefined, i: number): boolean {
  if (mask === undefined) return true;
  if (typeof mask === 'function') return mask(i);
  return mask[i] ?? false;
}

export interface AdamWOptions {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  decay?: DecayMask;
}

/**
 * One torch.optim.AdamW step (amsgrad=False, maximize=False), in place.
 * `step` is 1-based (the value of PyTorch's state['step'] after incrementing).
 * Same operation order as PyTorch's single-tensor implementation:
 *   p *= 1 - lr*wd;  m = lerp(m, g, 1-β1);  v = β2 v + (1-β2) g²;
 *   p -= (lr / (1-β1^t)) * m / (sqrt(v)/sqrt(1-β2^t) + eps)
 */
export function adamwStep(
  params: Float64Array,
  grads: Float64Array,
  m: Float64Array,
  v: Float64Array,
  step: number,
  o: AdamWOptions,
): void {
  const n = params.length;
  if (grads.length !== n || m.length !== n || v.length !== n) throw new Error('adamwStep: length mismatch');
  if (!(step >= 1)) throw new Error(`adamwStep: step must be >= 1 (1-based), got ${step}`);
  const bc1 = 1 - o.beta1 ** step;
  const bc2 = 1 - o.beta2 ** step;
  const stepSize = o.lr / bc1;
  const bc2Sqrt = Math.sqrt(bc2);
  for (let i = 0; i < n; i++) {
    let p = params[i]!;
    const g = grads[i]!;
    if (o.weightDecay !== 0 && decays(o.decay, i)) p *= 1 - o.lr * o.weightDecay;
    const mi = m[i]! + (1 - o.beta1) * (g - m[i]!);
    const vi = v[i]! * o.beta2 + (1 - o.beta2) * g * g;
    m[i] = mi;
    v[i] = vi;
    const denom = Math.sqrt(vi) / bc2Sqrt + o.eps;
    params[i] = p - stepSize * (mi / denom);
  }
}

export interface SgdOptions {
  lr: number;
  weightDecay: number;
  decay?: DecayMask;
}

/** Plain SGD (no momentum), in place: p -= lr (g + wd p) where decayed, p -= lr g elsewhere. */
export function sgdStep(params: Float64Array, grads: Float64Array, o: SgdOptions): void {
  const n = params.length;
  if (grads.length !== n) throw new Error('sgdStep: length mismatch');
  for (let i = 0; i < n; i++) {
    const p = params[i]!;
    const d = o.weightDecay !== 0 && decays(o.decay, i) ? grads[i]! + o.weightDecay * p : grads[i]!;
    params[i] = p - o.lr * d;
  }
}

// ---------------------------------------------------------------------------

export const refOps = {
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
};

export type RefOpName = keyof typeof refOps;
