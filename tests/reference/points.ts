// CPU references (float64) of the point-cloud kernels (clora-spec §4): the grouping (farthest point sampling,
// k nearest neighbours, neighbourhoods) as plain functions, and the mini-PointNet's differentiable ops as
// RefOps for the oracle (tests/helpers/oracle.ts). Written from the contract's definitions, for clarity.
import { matmul, tensor, type RefOp, type RefTensor } from './ops';

function squared(points: ArrayLike<number>, i: number, c: readonly number[]): number {
  let s = 0;
  for (let a = 0; a < 3; a++) {
    const e = points[3 * i + a]! - c[a]!;
    s += e * e;
  }
  return s;
}

const pointOf = (points: ArrayLike<number>, i: number): number[] => [points[3 * i]!, points[3 * i + 1]!, points[3 * i + 2]!];

/**
 * Farthest point sampling of one cloud [P, 3]: centre 0 is point 0; each next one is the point whose squared
 * distance to the nearest chosen centre is largest, the lowest index on a tie.
 */
export function farthestPointSample(points: ArrayLike<number>, P: number, G: number): number[] {
  const nearest = new Float64Array(P).fill(Infinity);
  const chosen = [0];
  while (chosen.length < G) {
    const c = pointOf(points, chosen.at(-1)!);
    let best = -1;
    let which = 0;
    for (let i = 0; i < P; i++) {
      nearest[i] = Math.min(nearest[i]!, squared(points, i, c));
      if (nearest[i]! > best) [best, which] = [nearest[i]!, i];
    }
    chosen.push(which);
  }
  return chosen;
}

/** The K nearest points of centre c (squared distance), nearest first, the lower index first on a tie. */
export function nearestNeighbours(points: ArrayLike<number>, P: number, c: readonly number[], K: number): number[] {
  const order = Array.from({ length: P }, (_, i) => i);
  const d = order.map((i) => squared(points, i, c));
  order.sort((a, b) => d[a]! - d[b]! || a - b);
  return order.slice(0, K);
}

/** Grouping of a batch [B, P, 3]: centre indices [B][G], neighbour indices [B][G][K], neighbourhood [B, G, K, 3]. */
export function groupReference(points: ArrayLike<number>, B: number, P: number, G: number, K: number): { centres: number[][]; neighbours: number[][][]; neighbourhood: Float64Array } {
  const centres: number[][] = [];
  const neighbours: number[][][] = [];
  const neighbourhood = new Float64Array(B * G * K * 3);
  for (let b = 0; b < B; b++) {
    const cloud = Array.from({ length: P * 3 }, (_, i) => points[b * P * 3 + i]!);
    const cs = farthestPointSample(cloud, P, G);
    centres.push(cs);
    neighbours.push(
      cs.map((ci, g) => {
        const c = pointOf(cloud, ci);
        const ns = nearestNeighbours(cloud, P, c, K);
        ns.forEach((ni, k) => {
          for (let a = 0; a < 3; a++) neighbourhood[((b * G + g) * K + k) * 3 + a] = cloud[3 * ni + a]! - c[a]!;
        });
        return ns;
      }),
    );
  }
  return { centres, neighbours, neighbourhood };
}

export interface MaxAlongOpts {
  /** Entries offset … of the middle axis (0 for a group). */
  offset: number;
}

/** Max over the middle axis of [O, L, I] from `offset`, the gradient to the first (lowest) entry reaching it. */
export const maxAlong: RefOp<MaxAlongOpts> = {
  name: 'maxAlong',
  forward([x], { offset }) {
    const [O, L, I] = x!.shape as [number, number, number];
    const y = tensor([O, I]);
    for (let o = 0; o < O; o++)
      for (let i = 0; i < I; i++) {
        let best = -Infinity;
        for (let l = offset; l < L; l++) best = Math.max(best, x!.data[(o * L + l) * I + i]!);
        y.data[o * I + i] = best;
      }
    return [y];
  },
  backward([x], { offset }, [g]) {
    const [O, L, I] = x!.shape as [number, number, number];
    const dx = tensor(x!.shape);
    for (let o = 0; o < O; o++)
      for (let i = 0; i < I; i++) {
        let which = offset;
        for (let l = offset + 1; l < L; l++) if (x!.data[(o * L + l) * I + i]! > x!.data[(o * L + which) * I + i]!) which = l;
        dx.data[(o * L + which) * I + i] = g!.data[o * I + i]!;
      }
    return [dx];
  },
};

/** [g repeated over K, f]: g [R, C1], f [R, K, C2] → [R, K, C1 + C2]. */
export const concatGlobal: RefOp = {
  name: 'concatGlobal',
  forward([g, f]) {
    const [R, C1] = g!.shape as [number, number];
    const [, K, C2] = f!.shape as [number, number, number];
    const out = tensor([R, K, C1 + C2]);
    for (let r = 0; r < R; r++)
      for (let k = 0; k < K; k++) {
        for (let j = 0; j < C1; j++) out.data[(r * K + k) * (C1 + C2) + j] = g!.data[r * C1 + j]!;
        for (let j = 0; j < C2; j++) out.data[(r * K + k) * (C1 + C2) + C1 + j] = f!.data[(r * K + k) * C2 + j]!;
      }
    return [out];
  },
  backward([g, f], _o, [d]) {
    const [R, C1] = g!.shape as [number, number];
    const [, K, C2] = f!.shape as [number, number, number];
    const dg = tensor(g!.shape);
    const df = tensor(f!.shape);
    for (let r = 0; r < R; r++)
      for (let k = 0; k < K; k++) {
        for (let j = 0; j < C1; j++) dg.data[r * C1 + j] = dg.data[r * C1 + j]! + d!.data[(r * K + k) * (C1 + C2) + j]!;
        for (let j = 0; j < C2; j++) df.data[(r * K + k) * C2 + j] = d!.data[(r * K + k) * (C1 + C2) + C1 + j]!;
      }
    return [dg, df];
  },
};

export interface BatchNormOpts {
  eps: number;
}

/**
 * x [N, I] → BN_eval(x·Wᵀ + b) with inputs [x, W, b, γ, β, μ, σ²], written as the two steps PyTorch takes
 * (Conv1d, then BatchNorm1d in eval mode), not as the fold the engine uses. μ and σ² get zero gradients.
 */
export const linearBatchNorm: RefOp<BatchNormOpts> = {
  name: 'linearBatchNorm',
  forward([x, w, b, gamma, beta, mean, variance], { eps }) {
    const [z] = matmul.forward([x!, w!, b!], { transB: true });
    const [N, O] = z!.shape as [number, number];
    const y = tensor([N, O]);
    for (let n = 0; n < N; n++)
      for (let o = 0; o < O; o++) y.data[n * O + o] = ((z!.data[n * O + o]! - mean!.data[o]!) / Math.sqrt(variance!.data[o]! + eps)) * gamma!.data[o]! + beta!.data[o]!;
    return [y];
  },
  backward([x, w, b, gamma, beta, mean, variance], { eps }, [g]) {
    const [z] = matmul.forward([x!, w!, b!], { transB: true });
    const [N, O] = z!.shape as [number, number];
    const dz = tensor([N, O]);
    const dgamma = tensor(gamma!.shape);
    const dbeta = tensor(beta!.shape);
    for (let n = 0; n < N; n++)
      for (let o = 0; o < O; o++) {
        const r = 1 / Math.sqrt(variance!.data[o]! + eps);
        const gv = g!.data[n * O + o]!;
        dz.data[n * O + o] = gv * gamma!.data[o]! * r;
        dgamma.data[o] = dgamma.data[o]! + gv * (z!.data[n * O + o]! - mean!.data[o]!) * r;
        dbeta.data[o] = dbeta.data[o]! + gv;
      }
    const [dx, dw, db] = matmul.backward([x!, w!, b!], { transB: true }, [dz]);
    return [dx!, dw!, db!, dgamma, dbeta, tensor(mean!.shape), tensor(variance!.shape)];
  },
};

/** max(x, 0) elementwise, gradient 0 at and below 0. */
export const relu: RefOp = {
  name: 'relu',
  forward([x]) {
    return [tensor(x!.shape, x!.data.map((v) => Math.max(v, 0)))];
  },
  backward([x], _o, [g]) {
    return [tensor(x!.shape, x!.data.map((v, i) => (v > 0 ? g!.data[i]! : 0)))];
  },
};

/** relu(x·Wᵀ + b): inputs [x, W, b]. */
export const linearRelu: RefOp = {
  name: 'linearRelu',
  forward([x, w, b]) {
    return relu.forward(matmul.forward([x!, w!, b!], { transB: true }), undefined);
  },
  backward([x, w, b], _o, [g]) {
    const z = matmul.forward([x!, w!, b!], { transB: true });
    const [dz] = relu.backward(z, undefined, [g!]);
    return matmul.backward([x!, w!, b!], { transB: true }, [dz!]);
  },
};

export type { RefTensor };
