// f64 CPU references for CLoRA's ops (src/clora/ops.ts), written straight from clora-spec.md §1 as explicit
// loops, with analytic backward passes (the RefOp interface of ./ops, so checkOp and finiteDifferenceGrads
// apply). Small shapes only.
import { numel, tensor, type RefOp, type RefTensor } from './ops';

function need(inputs: RefTensor[], i: number, op: string): RefTensor {
  const t = inputs[i];
  if (!t) throw new Error(`${op}: missing input ${i}`);
  return t;
}

export interface BranchRefOpts {
  module: number;
  colStart: number;
  scale: number;
  /** Per element of the [T, p·r] bottleneck: 0 (dropped) or the survivor factor 1/(1−p); absent: no dropout. */
  keep?: ArrayLike<number>;
}

interface BranchDims {
  T: number;
  a: number;
  b: number;
  p: number;
  r: number;
  B: number;
}

function branchDims(inputs: RefTensor[]): BranchDims {
  const x = need(inputs, 0, 'cloraBranch');
  const down = need(inputs, 1, 'cloraBranch');
  const up = need(inputs, 3, 'cloraBranch');
  const base = need(inputs, 4, 'cloraBranch');
  const [p, a, r] = down.shape as [number, number, number];
  const b = up.shape[2]!;
  const B = base.shape[base.shape.length - 1]!;
  return { T: numel(x.shape) / a, a, b, p, r, B };
}

/** z[t, h, c] = Σ_i x[t, i]·D[h, i, c];  y[t, h, c'] = Σ_c z·Q[j, h, c, c'];  w = keep·y. Flat [T, p·r]. */
function branchBottleneck(inputs: RefTensor[], o: BranchRefOpts): { z: Float64Array; y: Float64Array; w: Float64Array } {
  const { T, a, p, r } = branchDims(inputs);
  const x = inputs[0]!.data;
  const D = inputs[1]!.data;
  const C = inputs[2]!.data;
  const P = p * r;
  const z = new Float64Array(T * P);
  const y = new Float64Array(T * P);
  const w = new Float64Array(T * P);
  for (let t = 0; t < T; t++) {
    for (let h = 0; h < p; h++) {
      for (let c = 0; c < r; c++) {
        let s = 0;
        for (let i = 0; i < a; i++) s += x[t * a + i]! * D[(h * a + i) * r + c]!;
        z[t * P + h * r + c] = s;
      }
      for (let c2 = 0; c2 < r; c2++) {
        let s = 0;
        for (let c = 0; c < r; c++) s += z[t * P + h * r + c]! * C[((o.module * p + h) * r + c) * r + c2]!;
        const e = t * P + h * r + c2;
        y[e] = s;
        w[e] = s * (o.keep ? o.keep[e]! : 1);
      }
    }
  }
  return { z, y, w };
}

/** Inputs [x [..., a], down [p, a, r], cores [m, p, r, r], up [p, r, b], base [..., B]] → [base + branch]. */
export const cloraBranch: RefOp<BranchRefOpts> = {
  name: 'cloraBranch',
  forward(inputs, o) {
    const { T, b, p, r, B } = branchDims(inputs);
    const U = inputs[3]!.data;
    const base = inputs[4]!;
    const { w } = branchBottleneck(inputs, o);
    const out = tensor(base.shape, base.data);
    const P = p * r;
    for (let t = 0; t < T; t++) {
      for (let n = 0; n < b; n++) {
        let s = 0;
        for (let q = 0; q < P; q++) s += w[t * P + q]! * U[q * b + n]!;
        out.data[t * B + o.colStart + n]! += o.scale * s;
      }
    }
    return [out];
  },
  backward(inputs, o, [gOut]) {
    const { T, a, b, p, r, B } = branchDims(inputs);
    const [x, down, cores, up, base] = inputs as [RefTensor, RefTensor, RefTensor, RefTensor, RefTensor];
    const g = gOut!.data;
    const { z, w } = branchBottleneck(inputs, o);
    const P = p * r;
    const gx = tensor(x.shape);
    const gD = tensor(down.shape);
    const gC = tensor(cores.shape);
    const gU = tensor(up.shape);
    const gy = new Float64Array(T * P);
    const gz = new Float64Array(T * P);
    for (let t = 0; t < T; t++) {
      for (let q = 0; q < P; q++) {
        let s = 0;
        for (let n = 0; n < b; n++) s += g[t * B + o.colStart + n]! * up.data[q * b + n]!;
        gy[t * P + q] = o.scale * s * (o.keep ? o.keep[t * P + q]! : 1);
      }
    }
    for (let q = 0; q < P; q++) {
      for (let n = 0; n < b; n++) {
        let s = 0;
        for (let t = 0; t < T; t++) s += w[t * P + q]! * g[t * B + o.colStart + n]!;
        gU.data[q * b + n] = o.scale * s;
      }
    }
    for (let h = 0; h < p; h++) {
      const core = (o.module * p + h) * r * r;
      for (let c = 0; c < r; c++) {
        for (let c2 = 0; c2 < r; c2++) {
          let s = 0;
          for (let t = 0; t < T; t++) s += z[t * P + h * r + c]! * gy[t * P + h * r + c2]!;
          gC.data[core + c * r + c2] = s;
        }
      }
      for (let t = 0; t < T; t++) {
        for (let c = 0; c < r; c++) {
          let s = 0;
          for (let c2 = 0; c2 < r; c2++) s += gy[t * P + h * r + c2]! * cores.data[core + c * r + c2]!;
          gz[t * P + h * r + c] = s;
        }
      }
    }
    for (let h = 0; h < p; h++) {
      for (let i = 0; i < a; i++) {
        for (let c = 0; c < r; c++) {
          let s = 0;
          for (let t = 0; t < T; t++) s += x.data[t * a + i]! * gz[t * P + h * r + c]!;
          gD.data[(h * a + i) * r + c] = s;
        }
      }
    }
    for (let t = 0; t < T; t++) {
      for (let i = 0; i < a; i++) {
        let s = 0;
        for (let h = 0; h < p; h++) for (let c = 0; c < r; c++) s += gz[t * P + h * r + c]! * down.data[(h * a + i) * r + c]!;
        gx.data[t * a + i] = s;
      }
    }
    return [gx, gD, gC, gU, tensor(base.shape, g)];
  },
};

export interface BranchesRefOpts {
  modules: { module: number; colStart: number; keep?: ArrayLike<number> }[];
  scale: number;
}

/**
 * Several modules' branches on one input and one pair of banks: cloraBranch applied once per module, in order.
 * Each adds into base, so each sees the same output gradient and the input gradients add up.
 */
export const cloraBranches: RefOp<BranchesRefOpts> = {
  name: 'cloraBranches',
  forward(inputs, o) {
    let base = need(inputs, 4, 'cloraBranches');
    for (const m of o.modules) [base] = cloraBranch.forward([...inputs.slice(0, 4), base], { ...m, scale: o.scale }) as [RefTensor];
    return [base];
  },
  backward(inputs, o, gradOutputs) {
    const total = inputs.map((t) => tensor(t.shape));
    for (const m of o.modules) {
      const grads = cloraBranch.backward(inputs, { ...m, scale: o.scale }, gradOutputs);
      for (let i = 0; i < 4; i++) {
        const sum = total[i]!.data;
        grads[i]!.data.forEach((v, e) => (sum[e] = sum[e]! + v));
      }
    }
    total[4] = tensor(inputs[4]!.shape, gradOutputs[0]!.data);
    return total;
  },
};

export interface GramRefOpts {
  kind: 'down' | 'up';
}

/** Element i of vector (h, c) of a bank: D[h, i, c] (down [p, L, r]) or U[h, c, i] (up [p, r, L]). */
function bankGeometry(bank: RefTensor, kind: 'down' | 'up'): { p: number; r: number; L: number; at: (h: number, c: number, i: number) => number } {
  const [p, d1, d2] = bank.shape as [number, number, number];
  if (kind === 'down') return { p, r: d2, L: d1, at: (h, c, i) => (h * d1 + i) * d2 + c };
  return { p, r: d1, L: d2, at: (h, c, i) => (h * d1 + c) * d2 + i };
}

/** [bank] → [G [p, p, r, r]]: down G[h, k] = D_hᵀ·D_k, up G[k, h] = U_k·U_hᵀ. */
export const gram: RefOp<GramRefOpts> = {
  name: 'gram',
  forward([bank], o) {
    const { p, r, L, at } = bankGeometry(bank!, o.kind);
    const G = tensor([p, p, r, r]);
    for (let h = 0; h < p; h++)
      for (let k = 0; k < p; k++)
        for (let c = 0; c < r; c++)
          for (let c2 = 0; c2 < r; c2++) {
            let s = 0;
            for (let i = 0; i < L; i++) s += bank!.data[at(h, c, i)]! * bank!.data[at(k, c2, i)]!;
            G.data[((h * p + k) * r + c) * r + c2] = s;
          }
    return [G];
  },
  backward([bank], o, [gG]) {
    const { p, r, L, at } = bankGeometry(bank!, o.kind);
    const d = tensor(bank!.shape);
    const dG = gG!.data;
    // ∂G[h,k,c,c2]/∂A(h,c,i) = A(k,c2,i) and ∂/∂A(k,c2,i) = A(h,c,i).
    for (let h = 0; h < p; h++)
      for (let k = 0; k < p; k++)
        for (let c = 0; c < r; c++)
          for (let c2 = 0; c2 < r; c2++) {
            const gv = dG[((h * p + k) * r + c) * r + c2]!;
            for (let i = 0; i < L; i++) {
              d.data[at(h, c, i)]! += gv * bank!.data[at(k, c2, i)]!;
              d.data[at(k, c2, i)]! += gv * bank!.data[at(h, c, i)]!;
            }
          }
    return [d];
  },
};

export interface SadeRefOpts {
  first: number;
  count: number;
  eps: number;
}

type Mat = Float64Array; // r×r row-major

function matmulR(A: Mat, B: Mat, r: number, tA = false, tB = false): Mat {
  const out = new Float64Array(r * r);
  for (let i = 0; i < r; i++)
    for (let j = 0; j < r; j++) {
      let s = 0;
      for (let c = 0; c < r; c++) s += (tA ? A[c * r + i]! : A[i * r + c]!) * (tB ? B[j * r + c]! : B[c * r + j]!);
      out[i * r + j] = s;
    }
  return out;
}

const block = (t: RefTensor, index: number, r: number): Mat => t.data.slice(index * r * r, (index + 1) * r * r);
const frob = (A: Mat, B: Mat): number => A.reduce((s, v, i) => s + v * B[i]!, 0);

/** I[h][k] = tr(Q_hᵀ·GD[h,k]·Q_k·GU[k,h]) for module j. */
function inners(cores: RefTensor, gd: RefTensor, gu: RefTensor, j: number): number[][] {
  const [, p, r] = cores.shape as [number, number, number];
  const I: number[][] = [];
  for (let h = 0; h < p; h++) {
    I.push([]);
    for (let k = 0; k < p; k++) {
      const inner = matmulR(matmulR(block(gd, h * p + k, r), block(cores, j * p + k, r), r), block(gu, k * p + h, r), r);
      I[h]!.push(frob(block(cores, j * p + h, r), inner));
    }
  }
  return I;
}

/** [cores [m, p, r, r], G^D [p, p, r, r], G^U [p, p, r, r]] → [Σ_j Σ_{h<k} c_hk² as a scalar []]. */
export const sadeSum: RefOp<SadeRefOpts> = {
  name: 'sadeSum',
  forward([cores, gd, gu], o) {
    const p = cores!.shape[1]!;
    let total = 0;
    for (let j = o.first; j < o.first + o.count; j++) {
      const I = inners(cores!, gd!, gu!, j);
      for (let h = 0; h < p; h++)
        for (let k = h + 1; k < p; k++) {
          const c = I[h]![k]! / Math.sqrt((I[h]![h]! + o.eps) * (I[k]![k]! + o.eps));
          total += c * c;
        }
    }
    return [tensor([], [total])];
  },
  backward([cores, gd, gu], o, [gOut]) {
    const [, p, r] = cores!.shape as [number, number, number];
    const g = gOut!.data[0]!;
    const dC = tensor(cores!.shape);
    const dGd = tensor(gd!.shape);
    const dGu = tensor(gu!.shape);
    const addBlock = (t: RefTensor, index: number, M: Mat, w: number): void => {
      for (let e = 0; e < r * r; e++) t.data[index * r * r + e]! += w * M[e]!;
    };
    for (let j = o.first; j < o.first + o.count; j++) {
      const I = inners(cores!, gd!, gu!, j);
      const n = (h: number): number => I[h]![h]! + o.eps;
      // ω[h][k] = dS/dI_hk for h ≤ k (the diagonal through the norms).
      for (let h = 0; h < p; h++) {
        for (let k = h; k < p; k++) {
          let w: number;
          if (k > h) {
            const c = I[h]![k]! / Math.sqrt(n(h) * n(k));
            w = (2 * c) / Math.sqrt(n(h) * n(k));
          } else {
            w = 0;
            for (let l = 0; l < p; l++) {
              if (l === h) continue;
              const [lo, hi] = l < h ? [l, h] : [h, l];
              const c = I[lo]![hi]! / Math.sqrt(n(lo) * n(hi));
              w -= (c * c) / n(h);
            }
          }
          w *= g;
          const A = block(gd!, h * p + k, r);
          const B = block(gu!, k * p + h, r);
          const Qh = block(cores!, j * p + h, r);
          const Qk = block(cores!, j * p + k, r);
          // I = tr(Qhᵀ A Qk B): dQh = A Qk B, dQk = Aᵀ Qh Bᵀ, dA = Qh Bᵀ Qkᵀ, dB = Qkᵀ Aᵀ Qh.
          addBlock(dC, j * p + h, matmulR(matmulR(A, Qk, r), B, r), w);
          addBlock(dC, j * p + k, matmulR(matmulR(A, Qh, r, true), B, r, false, true), w);
          addBlock(dGd, h * p + k, matmulR(matmulR(Qh, B, r, false, true), Qk, r, false, true), w);
          addBlock(dGu, k * p + h, matmulR(matmulR(Qk, A, r, true, true), Qh, r), w);
        }
      }
    }
    return [dC, dGd, dGu];
  },
};

/**
 * The same SADE sum the long way: forms every a×b component M_h = D_h·Q_h·U_h and takes Frobenius inner
 * products, so a test can confirm the trace identity the kernels rely on.
 */
export function sadeExplicit(down: RefTensor, up: RefTensor, cores: RefTensor, o: SadeRefOpts): number {
  const [p, a, r] = down.shape as [number, number, number];
  const b = up.shape[2]!;
  let total = 0;
  for (let j = o.first; j < o.first + o.count; j++) {
    const M: Float64Array[] = [];
    for (let h = 0; h < p; h++) {
      const m = new Float64Array(a * b);
      for (let i = 0; i < a; i++)
        for (let n = 0; n < b; n++) {
          let s = 0;
          for (let c = 0; c < r; c++)
            for (let c2 = 0; c2 < r; c2++) s += down.data[(h * a + i) * r + c]! * cores.data[((j * p + h) * r + c) * r + c2]! * up.data[(h * r + c2) * b + n]!;
          m[i * b + n] = s;
        }
      M.push(m);
    }
    for (let h = 0; h < p; h++)
      for (let k = h + 1; k < p; k++) {
        const c = frob(M[h]!, M[k]!) / Math.sqrt((frob(M[h]!, M[h]!) + o.eps) * (frob(M[k]!, M[k]!) + o.eps));
        total += c * c;
      }
  }
  return total;
}
