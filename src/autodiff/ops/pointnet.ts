// The mini-PointNet tokenizer's own ops (clora-spec §4), forward and backward side by side: the max over a
// group (and over tokens), the [global feature repeated, per-point feature] concatenation, and BatchNorm in
// evaluation mode folded into the linear map before it. The linear maps themselves are matmul's (a
// Conv1d with kernel 1 is a linear map per point), with ReLU fused into the epilogue.
import { ShapeError } from '../../gpu/errors';
import { copyCols } from '../../kernels/shape';
import {
  concatGlobalBackward,
  concatGlobalInto,
  foldBatchNormBackwardChannel,
  foldBatchNormBackwardWeight,
  foldBatchNormInto,
  maxAlongBackward,
  maxAlongInto,
} from '../../kernels/pointnet';
import { record } from '../tape';
import { activeTape, shapeText, Tensor } from '../tensor';

function f32Only(op: string, ...xs: Tensor[]): void {
  for (const x of xs) if (x.dtype !== 'f32') throw new ShapeError(`${op}: ${shapeText(x.shape)} must be f32 (the tokenizer and the features run in f32).`);
}

// y [outer, inner] = max over entries offset … offset + len − 1 of x viewed as [outer, stride, inner].
function maxAlong(op: string, x: Tensor, outShape: number[], outer: number, stride: number, offset: number, len: number, inner: number): Tensor {
  f32Only(op, x);
  const ctx = x.ctx;
  const y = Tensor.empty(ctx, outShape);
  // Which entry won, for the backward; only kept while a gradient will be taken.
  const arg = Tensor.empty(ctx, outShape, `${op} arg-max`);
  maxAlongInto(ctx, x, y, arg, outer, stride, offset, len, inner);
  if (!(x.requiresGrad && activeTape(ctx))) arg.dispose();
  record(op, [x], [y], ([g]) => {
    const dx = Tensor.empty(ctx, x.shape);
    maxAlongBackward(ctx, g!, arg, dx, outer, stride, offset, len, inner);
    return [dx];
  });
  return y;
}

/**
 * x [R, K, C] → [R, C], the max over each group's K points. The gradient goes to the point that holds the
 * maximum, the lowest k on a tie (the first one reaching it).
 */
export function maxOverGroup(x: Tensor): Tensor {
  if (x.rank !== 3) throw new ShapeError(`maxOverGroup: input ${shapeText(x.shape)} must be [R, K, C].`);
  const [R, K, C] = x.shape as [number, number, number];
  if (K === 0) throw new ShapeError(`maxOverGroup: input ${shapeText(x.shape)} has empty groups.`);
  return maxAlong('maxOverGroup', x, [R, C], R, K, 0, K, C);
}

/** x [B, N, D] → [B, D], the max over tokens from … N − 1 (Point-MAE's features skip the class token: from = 1). */
export function maxOverTokens(x: Tensor, from: number): Tensor {
  if (x.rank !== 3) throw new ShapeError(`maxOverTokens: input ${shapeText(x.shape)} must be [B, N, D].`);
  const [B, N, D] = x.shape as [number, number, number];
  if (!Number.isInteger(from) || from < 0 || from >= N) throw new ShapeError(`maxOverTokens: tokens ${from} … ${N - 1} of ${shapeText(x.shape)} are empty.`);
  return maxAlong('maxOverTokens', x, [B, D], B, N, from, N - from, D);
}

/** g [R, C1], f [R, K, C2] → [R, K, C1 + C2]: every point's features after its group's global feature. */
export function concatGlobal(g: Tensor, f: Tensor): Tensor {
  if (g.rank !== 2 || f.rank !== 3 || g.shape[0] !== f.shape[0]) {
    throw new ShapeError(`concatGlobal: global ${shapeText(g.shape)} must be [R, C1] and per-point ${shapeText(f.shape)} [R, K, C2] with the same R.`);
  }
  f32Only('concatGlobal', g, f);
  const [R, C1] = g.shape as [number, number];
  const [, K, C2] = f.shape as [number, number, number];
  const ctx = g.ctx;
  const out = Tensor.empty(ctx, [R, K, C1 + C2]);
  concatGlobalInto(ctx, g, f, out, R, K, C1, C2);
  record('concatGlobal', [g, f], [out], ([d]) => {
    let dg: Tensor | null = null;
    let df: Tensor | null = null;
    if (g.requiresGrad) {
      dg = Tensor.empty(ctx, g.shape);
      concatGlobalBackward(ctx, d!, dg, R, K, C1, C2);
    }
    if (f.requiresGrad) {
      df = Tensor.empty(ctx, f.shape);
      copyCols(ctx, d!, df, R * K, C2, C1 + C2, C1, C2, 0);
    }
    return [dg, df];
  });
  return out;
}

/** A BatchNorm layer's tensors (PyTorch's BatchNorm1d: weight γ, bias β, running_mean μ, running_var σ²), each [O]. */
export interface BatchNorm {
  weight: Tensor;
  bias: Tensor;
  runningMean: Tensor;
  runningVar: Tensor;
}

/**
 * The linear map W [O, I], b [O] followed by BatchNorm in evaluation mode, as one linear map:
 * W' = a·W, b' = a·(b − μ) + β with a = γ/√(σ² + eps) per output channel. Gradients reach W, b, γ and β
 * (in `full` fine-tuning); the running statistics never get one.
 */
export function foldBatchNorm(weight: Tensor, bias: Tensor, bn: BatchNorm, eps: number): { weight: Tensor; bias: Tensor } {
  if (weight.rank !== 2) throw new ShapeError(`foldBatchNorm: weight ${shapeText(weight.shape)} must be [O, I].`);
  const [O, I] = weight.shape as [number, number];
  for (const [what, t] of [['bias', bias], ['BatchNorm weight', bn.weight], ['BatchNorm bias', bn.bias], ['running mean', bn.runningMean], ['running variance', bn.runningVar]] as const) {
    if (t.rank !== 1 || t.shape[0] !== O) throw new ShapeError(`foldBatchNorm: the ${what} ${shapeText(t.shape)} must be [${O}] for weight ${shapeText(weight.shape)}.`);
  }
  f32Only('foldBatchNorm', weight, bias, bn.weight, bn.bias, bn.runningMean, bn.runningVar);
  if (bn.runningMean.requiresGrad || bn.runningVar.requiresGrad) throw new Error('foldBatchNorm: running statistics never train.');
  const ctx = weight.ctx;
  const ranges = { weight: bn.weight, bias: bn.bias, mean: bn.runningMean, variance: bn.runningVar };
  const folded = Tensor.empty(ctx, [O, I]);
  const foldedBias = Tensor.empty(ctx, [O]);
  foldBatchNormInto(ctx, weight, bias, ranges, folded, foldedBias, O, I, eps);
  record('foldBatchNorm', [weight, bias, bn.weight, bn.bias], [folded, foldedBias], ([dw, db]) => {
    // A missing output gradient counts as zeros.
    const dwFolded = dw ?? Tensor.zeros(ctx, [O, I]);
    const dbFolded = db ?? Tensor.zeros(ctx, [O]);
    let gw: Tensor | null = null;
    if (weight.requiresGrad) {
      gw = Tensor.empty(ctx, [O, I]);
      foldBatchNormBackwardWeight(ctx, ranges, dwFolded, gw, O, I, eps);
    }
    let channel: [Tensor | null, Tensor | null, Tensor | null] = [null, null, null];
    if (bias.requiresGrad || bn.weight.requiresGrad || bn.bias.requiresGrad) {
      const all = Tensor.empty(ctx, [3, O]);
      foldBatchNormBackwardChannel(ctx, weight, bias, ranges, dwFolded, dbFolded, all, O, I, eps);
      // [db | dγ | dβ]: split into tensors of their own (views would have to start on 256-byte boundaries).
      channel = [bias, bn.weight, bn.bias].map((t, k) => {
        if (!t.requiresGrad) return null;
        const part = Tensor.empty(ctx, [O]);
        copyCols(ctx, all, part, 1, O, 3 * O, k * O, O, 0);
        return part;
      }) as [Tensor | null, Tensor | null, Tensor | null];
      all.dispose();
    }
    if (dwFolded !== dw) dwFolded.dispose();
    if (dbFolded !== db) dbFolded.dispose();
    return [gw, ...channel];
  });
  return { weight: folded, bias: foldedBias };
}
