// Matrix products: forward and backward side by side.
import { ShapeError } from '../../gpu/errors';
import { castInto, geluBackward, reluBackward } from '../../kernels/elementwise';
import { matmulInto, type MatmulGeometry } from '../../kernels/matmul';
import { sumAxis, sumRows } from '../../kernels/reduce';
import { record } from '../tape';
import { activeTape, shapeText, Tensor } from '../tensor';
import { reshape } from './elementwise';

export interface MatmulOptions {
  /** a is stored [..., K, M] and used transposed. */
  transA?: boolean;
  /** b is stored [N, K] (or [..., N, K]) and used transposed. */
  transB?: boolean;
  /** [N], added to every output row. */
  bias?: Tensor;
  /** Exact (erf) GELU after the bias, fused into the product's epilogue. */
  gelu?: boolean;
  /** ReLU after the bias, fused into the product's epilogue (not with GELU). */
  relu?: boolean;
}

const product = (s: readonly number[]): number => s.reduce((p, d) => p * d, 1);
const sameDims = (x: readonly number[], y: readonly number[]): boolean => x.length === y.length && x.every((d, i) => d === y[i]);

interface Dims {
  batchShape: number[];
  batch: number;
  m: number;
  k: number;
  n: number;
  sharedB: boolean;
}

function dims(a: Tensor, b: Tensor, transA: boolean, transB: boolean): Dims {
  const both = `A ${shapeText(a.shape)}${transA ? 'ᵀ' : ''} and B ${shapeText(b.shape)}${transB ? 'ᵀ' : ''}`;
  if (a.rank < 2 || b.rank < 2) throw new ShapeError(`matmul: ${both}: both operands need at least 2 dimensions.`);
  const batchShape = a.shape.slice(0, -2);
  const sharedB = b.rank === 2;
  if (!sharedB && !sameDims(b.shape.slice(0, -2), batchShape)) {
    throw new ShapeError(`matmul: ${both}: B must be 2-D (shared) or have A's batch dimensions ${shapeText(batchShape)}.`);
  }
  const [ar, ac] = a.shape.slice(-2) as [number, number];
  const [br, bc] = b.shape.slice(-2) as [number, number];
  const m = transA ? ac : ar;
  const k = transA ? ar : ac;
  const kb = transB ? bc : br;
  const n = transB ? br : bc;
  if (k !== kb) throw new ShapeError(`matmul: ${both}: inner dimensions differ (${k} vs ${kb}).`);
  if (k === 0) throw new ShapeError(`matmul: ${both}: the inner dimension is 0.`);
  return { batchShape, batch: product(batchShape), m, k, n, sharedB };
}

/**
 * C = gelu?(op(a)·op(b) + bias?) over a's leading (batch) dimensions; b is either batched like a or 2-D and
 * shared by every batch entry (a weight).
 *
 * With ReLU fused, backward masks the gradient with C > 0 (the same mask as z > 0), so nothing extra is kept.
 * With GELU fused, backward needs the pre-activation z. It is written by the same kernel into a tape-owned
 * tensor (released with the tape) rather than recomputed in backward: recomputing costs a whole second
 * product, storing costs one extra write of C's size, and only happens when a gradient will be taken.
 *
 * Mixed precision: C (and z) take a's element type, so f16 activations times an f32 weight stay f16; each
 * gradient takes its operand's type (a weight's gradient is f32 even from f16 activations).
 */
export function matmul(a: Tensor, b: Tensor, opts: MatmulOptions = {}): Tensor {
  const transA = opts.transA ?? false;
  const transB = opts.transB ?? false;
  const d = dims(a, b, transA, transB);
  const { bias } = opts;
  if (opts.gelu && opts.relu) throw new ShapeError(`matmul: the epilogue applies GELU or ReLU, not both.`);
  if (bias && bias.size !== d.n) throw new ShapeError(`matmul: bias ${shapeText(bias.shape)} must have ${d.n} elements for output ${shapeText([...d.batchShape, d.m, d.n])}.`);
  const ctx = a.ctx;
  const inputs = bias ? [a, b, bias] : [a, b];
  const needsGrad = inputs.some((t) => t.requiresGrad) && activeTape(ctx) !== undefined;
  const out = Tensor.empty(ctx, [...d.batchShape, d.m, d.n], undefined, a.dtype);
  const pre = opts.gelu && needsGrad ? Tensor.like(out) : undefined;
  const geometry: MatmulGeometry = { batch: d.batch, m: d.m, k: d.k, n: d.n, transA, transB, batchedB: !d.sharedB };
  matmulInto(ctx, a, b, out, geometry, { bias, gelu: opts.gelu, relu: opts.relu, preActivation: pre });

  record('matmul', inputs, [out], ([g]) => {
    let dz = g!;
    if (pre) {
      dz = Tensor.like(out);
      geluBackward(ctx, pre, g!, dz);
    } else if (opts.relu) {
      dz = Tensor.like(out);
      reluBackward(ctx, out, g!, dz);
    }
    const ga = a.requiresGrad ? gradA(a, b, dz, d, transA, transB) : null;
    const gb = b.requiresGrad ? gradB(a, b, dz, d, transA, transB) : null;
    let gbias: Tensor | null = null;
    if (bias?.requiresGrad) {
      gbias = Tensor.empty(ctx, bias.shape);
      // The row sums run in f32: an f16 gradient is widened first.
      const rows = dz.dtype === 'f32' ? dz : Tensor.empty(ctx, dz.shape);
      if (rows !== dz) castInto(ctx, dz, rows);
      sumRows(ctx, rows, gbias, d.batch * d.m, d.n);
      if (rows !== dz) rows.dispose();
    }
    if (dz !== g) dz.dispose();
    return bias ? [ga, gb, gbias] : [ga, gb];
  });
  return out;
}

// op(A) = dZ · op(B)ᵀ. Stored Aᵀ: dA = op(B) · dZᵀ, with B (possibly shared) as the left operand.
function gradA(a: Tensor, b: Tensor, dz: Tensor, d: Dims, transA: boolean, transB: boolean): Tensor {
  const ga = Tensor.like(a);
  if (!transA) {
    matmulInto(a.ctx, dz, b, ga, { batch: d.batch, m: d.m, k: d.n, n: d.k, transB: !transB, batchedB: !d.sharedB });
  } else {
    matmulInto(a.ctx, b, dz, ga, { batch: d.batch, m: d.k, k: d.n, n: d.m, transA: transB, transB: true, batchedA: !d.sharedB });
  }
  return ga;
}

// op(B) = op(A)ᵀ · dZ per batch entry; a shared B sums over the batch.
function gradB(a: Tensor, b: Tensor, dz: Tensor, d: Dims, transA: boolean, transB: boolean): Tensor {
  const ctx = b.ctx;
  const gb = Tensor.like(b);
  // A shared B with plain A: stacking the batch into the rows turns the sum over the batch into the
  // product's own reduction (one long-K product, Xᵀ·G).
  const flat = d.sharedB && !transA;
  const batch = flat ? 1 : d.batch;
  const rows = flat ? d.batch * d.m : d.m;
  // A shared B with stored Aᵀ cannot be stacked that way: per-batch products, then a sum over the batch.
  const perBatch = d.sharedB && transA && d.batch > 1 ? Tensor.empty(ctx, [d.batch, ...b.shape]) : undefined;
  const target = perBatch ?? gb;
  if (!transB) {
    matmulInto(ctx, a, dz, target, { batch, m: d.k, k: rows, n: d.n, transA: !transA });
  } else {
    matmulInto(ctx, dz, a, target, { batch, m: d.n, k: rows, n: d.k, transA: true, transB: transA });
  }
  if (perBatch) {
    sumAxis(ctx, perBatch, gb, 1, d.batch, b.size);
    perBatch.dispose();
  }
  return gb;
}

/**
 * PyTorch's linear layer: x [..., in] · weightᵀ (+ bias) with weight [out, in] → [..., out]; the leading
 * dimensions of x are flattened into the rows of one product against the shared weight.
 */
export function linear(x: Tensor, weight: Tensor, bias?: Tensor, opts: { gelu?: boolean; relu?: boolean } = {}): Tensor {
  if (weight.rank !== 2) throw new ShapeError(`linear: weight ${shapeText(weight.shape)} must be 2-D [out, in] (input ${shapeText(x.shape)}).`);
  const [outFeatures, inFeatures] = weight.shape as [number, number];
  const last = x.shape[x.rank - 1];
  if (x.rank < 1 || last !== inFeatures) {
    throw new ShapeError(`linear: input ${shapeText(x.shape)} does not end in weight ${shapeText(weight.shape)}'s input width ${inFeatures}.`);
  }
  const lead = x.shape.slice(0, -1);
  const rows = x.rank === 2 ? x : reshape(x, [product(lead), inFeatures]);
  const y = matmul(rows, weight, { transB: true, bias, gelu: opts.gelu, relu: opts.relu });
  return x.rank === 2 ? y : reshape(y, [...lead, outFeatures]);
}
