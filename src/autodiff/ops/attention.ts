// Fused scaled-dot-product attention: forward and backward side by side.
import { ShapeError } from '../../gpu/errors';
import { attentionBackwardKeys, attentionBackwardQueries, attentionForward, attentionRowDot, attentionTile, type AttentionDims } from '../../kernels/attention';
import { record } from '../tape';
import { shapeText, Tensor } from '../tensor';

export interface AttentionOptions {
  /** Multiplies q·kᵀ before the softmax (timm: head_dim^-0.5). */
  scale: number;
}

function attentionDims(q: Tensor, k: Tensor, v: Tensor): AttentionDims & { b: number; h: number } {
  const shapes = `q ${shapeText(q.shape)}, k ${shapeText(k.shape)}, v ${shapeText(v.shape)}`;
  if (q.rank !== 4 || k.rank !== 4 || v.rank !== 4) throw new ShapeError(`attention: q, k and v must each be [B, H, N, Dh]; got ${shapes}.`);
  const [b, h, nq, dh] = q.shape as [number, number, number, number];
  const [kb, kh, nk, kdh] = k.shape as [number, number, number, number];
  if (kb !== b || kh !== h || kdh !== dh) throw new ShapeError(`attention: k must match q in batch, heads and head dim; got ${shapes}.`);
  if (v.shape.some((d, i) => d !== k.shape[i])) throw new ShapeError(`attention: v must have k's shape; got ${shapes}.`);
  if (q.size === 0 || k.size === 0) throw new ShapeError(`attention: every dimension must be at least 1; got ${shapes}.`);
  attentionTile('forward', dh); // rejects head dims without a specialised kernel
  return { b, h, bh: b * h, nq, nk, dh };
}

/**
 * softmax(q·kᵀ·scale)·v for q [B, H, Nq, Dh] and k, v [B, H, Nk, Dh] (Nq = Nk for self-attention), without
 * an N×N buffer: the forward saves only the per-row logsumexp for the backward.
 */
export function attention(q: Tensor, k: Tensor, v: Tensor, opts: AttentionOptions): Tensor {
  const dims = attentionDims(q, k, v);
  const { scale } = opts;
  if (!Number.isFinite(scale)) throw new Error(`attention: scale must be a finite number (got ${scale}).`);
  const ctx = q.ctx;
  const out = Tensor.empty(ctx, q.shape);
  const lse = Tensor.empty(ctx, [dims.b, dims.h, dims.nq], 'attention logsumexp');
  attentionForward(ctx, q, k, v, out, lse, dims, scale);
  record('attention', [q, k, v], [out], ([g]) => {
    const dsum = Tensor.empty(ctx, [dims.b, dims.h, dims.nq], 'attention rowsum(dO∘O)');
    attentionRowDot(ctx, g!, out, dsum, dims.bh * dims.nq, dims.dh);
    const dq = q.requiresGrad ? Tensor.empty(ctx, q.shape) : null;
    let dk: Tensor | null = null;
    let dv: Tensor | null = null;
    if (k.requiresGrad || v.requiresGrad) {
      // One kernel writes both; the one nobody needs goes straight back to the pool.
      dk = Tensor.empty(ctx, k.shape);
      dv = Tensor.empty(ctx, v.shape);
      attentionBackwardKeys(ctx, q, k, v, g!, lse, dsum, dk, dv, dims, scale);
      if (!k.requiresGrad) {
        dk.dispose();
        dk = null;
      }
      if (!v.requiresGrad) {
        dv.dispose();
        dv = null;
      }
    }
    if (dq) attentionBackwardQueries(ctx, q, k, v, g!, lse, dsum, dq, dims, scale);
    // Released now rather than at tape disposal (recorded work keeps its order, so reuse is safe).
    dsum.dispose();
    return [dq, dk, dv];
  });
  // Unrecorded (no tape or no gradient needed): nothing will ever read the logsumexp.
  if (!out.node) lse.dispose();
  return out;
}
