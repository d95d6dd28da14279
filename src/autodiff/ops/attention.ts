// Fused scaled-dot-product attention: forward and backward side by side.
import { ShapeError } from '../../gpu/errors';
import {
  attentionBackwardKeys,
  attentionBackwardQueries,
  attentionForward,
  attentionRowDot,
  attentionTile,
  selectAttentionPath,
  type AttentionDims,
  type AttentionPath,
} from '../../kernels/attention';
import { matmulInto } from '../../kernels/matmul';
import { softmaxBackward, softmaxForward } from '../../kernels/softmax';
import { record } from '../tape';
import { shapeText, Tensor } from '../tensor';

export interface AttentionOptions {
  /** Multiplies q·kᵀ before the softmax (timm: head_dim^-0.5). */
  scale: number;
  /** Force a path instead of the choice by shape (tests and benchmarks compare them). */
  path?: AttentionPath;
}

function attentionDims(q: Tensor, k: Tensor, v: Tensor): AttentionDims & { b: number; h: number } {
  const shapes = `q ${shapeText(q.shape)}, k ${shapeText(k.shape)}, v ${shapeText(v.shape)}`;
  if (q.rank !== 4 || k.rank !== 4 || v.rank !== 4) throw new ShapeError(`attention: q, k and v must each be [B, H, N, Dh]; got ${shapes}.`);
  const [b, h, nq, dh] = q.shape as [number, number, number, number];
  const [kb, kh, nk, kdh] = k.shape as [number, number, number, number];
  if (kb !== b || kh !== h || kdh !== dh) throw new ShapeError(`attention: k must match q in batch, heads and head dim; got ${shapes}.`);
  if (v.shape.some((d, i) => d !== k.shape[i])) throw new ShapeError(`attention: v must have k's shape; got ${shapes}.`);
  if (q.size === 0 || k.size === 0) throw new ShapeError(`attention: every dimension must be at least 1; got ${shapes}.`);
  if (k.dtype !== q.dtype || v.dtype !== q.dtype) throw new ShapeError(`attention: q, k and v must share one element type; got ${q.dtype}, ${k.dtype}, ${v.dtype}.`);
  attentionTile('forward', dh, q.ctx.profile); // rejects head dims without a specialised kernel
  return { b, h, bh: b * h, nq, nk, dh };
}

/**
 * softmax(q·kᵀ·scale)·v for q [B, H, Nq, Dh] and k, v [B, H, Nk, Dh] (Nq = Nk for self-attention), without
 * an N×N buffer: the forward saves only the per-row logsumexp for the backward. Mixed precision: f16 q, k, v
 * give an f16 output (and f16 gradients); scores, softmax statistics and sums stay f32 inside the kernels.
 */
export function attention(q: Tensor, k: Tensor, v: Tensor, opts: AttentionOptions): Tensor {
  const dims = attentionDims(q, k, v);
  const { scale } = opts;
  if (!Number.isFinite(scale)) throw new Error(`attention: scale must be a finite number (got ${scale}).`);
  if ((opts.path ?? selectAttentionPath(dims.nk, dims.dh, q.ctx.profile)) === 'products') return attentionByProducts(q, k, v, dims, scale);
  const ctx = q.ctx;
  const out = Tensor.like(q);
  const lse = Tensor.empty(ctx, [dims.b, dims.h, dims.nq], 'attention logsumexp');
  attentionForward(ctx, q, k, v, out, lse, dims, scale);
  record('attention', [q, k, v], [out], ([g]) => {
    const dsum = Tensor.empty(ctx, [dims.b, dims.h, dims.nq], 'attention rowsum(dO∘O)');
    attentionRowDot(ctx, g!, out, dsum, dims.bh * dims.nq, dims.dh);
    const saved = { q, k, v, dOut: g!, lse, dsum };
    const dq = q.requiresGrad ? Tensor.like(q) : null;
    let dk: Tensor | null = null;
    let dv: Tensor | null = null;
    if (k.requiresGrad || v.requiresGrad) {
      // One kernel writes both; the one nobody needs goes straight back to the pool.
      dk = Tensor.like(k);
      dv = Tensor.like(v);
      attentionBackwardKeys(ctx, saved, dk, dv, dims, scale);
      if (!k.requiresGrad) {
        dk.dispose();
        dk = null;
      }
      if (!v.requiresGrad) {
        dv.dispose();
        dv = null;
      }
    }
    if (dq) attentionBackwardQueries(ctx, saved, dq, dims, scale);
    // Released now rather than at tape disposal (recorded work keeps its order, so reuse is safe).
    dsum.dispose();
    return [dq, dk, dv];
  });
  // Unrecorded (no tape or no gradient needed): nothing will ever read the logsumexp.
  if (!out.node) lse.dispose();
  return out;
}

/**
 * The products path: S = q·kᵀ, P = softmax(scale·S), out = P·v, keeping P. Backward: dV = Pᵀ·dO,
 * dP = dO·vᵀ, dS = scale·P∘(dP − rowsum(dP∘P)), dQ = dS·k, dK = dSᵀ·q.
 */
function attentionByProducts(q: Tensor, k: Tensor, v: Tensor, dims: AttentionDims & { b: number; h: number }, scale: number): Tensor {
  const ctx = q.ctx;
  const { bh, nq, nk, dh } = dims;
  const scores = Tensor.like(q, [bh, nq, nk]);
  matmulInto(ctx, q, k, scores, { batch: bh, m: nq, k: dh, n: nk, transB: true });
  const probs = Tensor.like(q, [dims.b, dims.h, nq, nk], 'attention probabilities');
  softmaxForward(ctx, scores, probs, bh * nq, nk, scale);
  scores.dispose(); // later users of its buffer are recorded after the softmax
  const out = Tensor.like(q);
  matmulInto(ctx, probs, v, out, { batch: bh, m: nq, k: nk, n: dh });
  record('attention', [q, k, v], [out], ([g]) => {
    const dOut = g!;
    let dv: Tensor | null = null;
    if (v.requiresGrad) {
      dv = Tensor.like(v);
      matmulInto(ctx, probs, dOut, dv, { batch: bh, m: nk, k: nq, n: dh, transA: true });
    }
    let dq: Tensor | null = null;
    let dk: Tensor | null = null;
    if (q.requiresGrad || k.requiresGrad) {
      const dp = Tensor.like(q, [bh, nq, nk]);
      matmulInto(ctx, dOut, v, dp, { batch: bh, m: nq, k: dh, n: nk, transB: true });
      const ds = Tensor.like(q, [bh, nq, nk]);
      softmaxBackward(ctx, probs, dp, ds, bh * nq, nk, scale);
      dp.dispose();
      if (q.requiresGrad) {
        dq = Tensor.like(q);
        matmulInto(ctx, ds, k, dq, { batch: bh, m: nq, k: nk, n: dh });
      }
      if (k.requiresGrad) {
        dk = Tensor.like(k);
        matmulInto(ctx, ds, q, dk, { batch: bh, m: nk, k: nq, n: dh, transA: true });
      }
      ds.dispose();
    }
    return [dq, dk, dv];
  });
  // Unrecorded: nothing will ever read the probabilities.
  if (!out.node) probs.dispose();
  return out;
}
