// The ViT's token plumbing (patches, class token and positions, heads, slices): forward and backward side
// by side. All of it is data movement; the backwards are the adjoint permutations or sums.
import { ShapeError } from '../../gpu/errors';
import { sumAxis } from '../../kernels/reduce';
import * as k from '../../kernels/shape';
import { record } from '../tape';
import { shapeText, Tensor } from '../tensor';

/**
 * image [B, C, H, W] → patches [B, n, C·P·P]: the im2col of timm's stride-P, kernel-P patch convolution,
 * columns ordered (c, ky, kx), patches in row-major order, n = (H/P)·(W/P). Patch embedding is
 * linear(patchify(x, P), weight.reshape([D, C·P·P]), bias).
 */
export function patchify(image: Tensor, patch: number): Tensor {
  if (image.rank !== 4) throw new ShapeError(`patchify: image ${shapeText(image.shape)} must be [B, C, H, W].`);
  const [B, C, H, W] = image.shape as [number, number, number, number];
  if (!Number.isInteger(patch) || patch < 1) throw new ShapeError(`patchify: patch size ${patch} must be a whole number ≥ 1.`);
  if (H % patch !== 0 || W % patch !== 0) {
    throw new ShapeError(`patchify: image ${shapeText(image.shape)} has a height and width that are not multiples of the patch size ${patch}; resize it to a multiple of ${patch}.`);
  }
  const ctx = image.ctx;
  const n = (H / patch) * (W / patch);
  const out = Tensor.empty(ctx, [B, n, C * patch * patch]);
  k.patchify(ctx, image, out, B, C, H, W, patch);
  record('patchify', [image], [out], ([g]) => {
    const gi = Tensor.empty(ctx, image.shape);
    k.unpatchify(ctx, g!, gi, B, C, H, W, patch);
    return [gi];
  });
  return out;
}

/** x [B, n, D], cls [1, 1, D], pos [1, 1 + n, D] → concat(cls over the batch, x) along tokens + pos: [B, 1 + n, D]. */
export function clsPos(x: Tensor, cls: Tensor, pos: Tensor): Tensor {
  if (x.rank !== 3) throw new ShapeError(`clsPos: tokens ${shapeText(x.shape)} must be [B, n, D].`);
  const [B, n, D] = x.shape as [number, number, number];
  if (cls.rank !== 3 || cls.shape[0] !== 1 || cls.shape[1] !== 1 || cls.shape[2] !== D) {
    throw new ShapeError(`clsPos: class token ${shapeText(cls.shape)} must be [1, 1, ${D}] for tokens ${shapeText(x.shape)}.`);
  }
  if (pos.rank !== 3 || pos.shape[0] !== 1 || pos.shape[1] !== n + 1 || pos.shape[2] !== D) {
    throw new ShapeError(`clsPos: position embedding ${shapeText(pos.shape)} must be [1, ${n + 1}, ${D}] for tokens ${shapeText(x.shape)}.`);
  }
  const ctx = x.ctx;
  const out = Tensor.empty(ctx, [B, n + 1, D]);
  k.clsPosForward(ctx, x, cls, pos, out, B, n, D);
  record('clsPos', [x, cls, pos], [out], ([g]) => {
    let dx: Tensor | null = null;
    if (x.requiresGrad) {
      dx = Tensor.empty(ctx, x.shape);
      // Drop token 0 of every image: on [B, (1 + n)·D] rows, columns D onwards.
      k.copyCols(ctx, g!, dx, B, n * D, (n + 1) * D, D, n * D, 0);
    }
    if (!cls.requiresGrad && !pos.requiresGrad) return [dx, null, null];
    // dpos sums the batch; dcls is its token-0 row. A batch of one needs no sum.
    let dposAll: Tensor;
    if (B === 1) dposAll = g!;
    else {
      dposAll = Tensor.empty(ctx, pos.shape);
      sumAxis(ctx, g!, dposAll, 1, B, (n + 1) * D);
    }
    let dcls: Tensor | null = null;
    if (cls.requiresGrad) {
      dcls = Tensor.empty(ctx, cls.shape);
      ctx.copy(dposAll, dcls, D * 4);
    }
    let dpos: Tensor | null = null;
    if (pos.requiresGrad) dpos = dposAll;
    else if (dposAll !== g) dposAll.dispose();
    return [dx, dcls, dpos];
  });
  return out;
}

/**
 * qkv [B, N, 3·D] → q, k, v, each [B, heads, N, D/heads]: timm's reshape(B, N, 3, H, Dh).permute(2, 0, 3, 1, 4).
 * One node with three outputs; a missing output gradient counts as zeros.
 */
export function splitHeads(qkv: Tensor, heads: number): [Tensor, Tensor, Tensor] {
  if (qkv.rank !== 3) throw new ShapeError(`splitHeads: qkv ${shapeText(qkv.shape)} must be [B, N, 3·D].`);
  const [B, N, C3] = qkv.shape as [number, number, number];
  if (!Number.isInteger(heads) || heads < 1 || C3 % (3 * heads) !== 0) {
    throw new ShapeError(`splitHeads: the last axis of qkv ${shapeText(qkv.shape)} is not divisible by 3 × ${heads} heads.`);
  }
  const ctx = qkv.ctx;
  const D = C3 / 3;
  const Dh = D / heads;
  const shape = [B, heads, N, Dh];
  const q = Tensor.like(qkv, shape);
  const kk = Tensor.like(qkv, shape);
  const v = Tensor.like(qkv, shape);
  k.splitQkv(ctx, qkv, q, kk, v, B, heads, N, Dh);
  record('splitHeads', [qkv], [q, kk, v], ([gq, gk, gv]) => {
    const dqkv = Tensor.like(qkv);
    if (gq && gk && gv) {
      k.mergeQkv(ctx, gq, gk, gv, dqkv, B, heads, N, Dh);
      return [dqkv];
    }
    ctx.clear(dqkv);
    [gq, gk, gv].forEach((g, part) => {
      if (g) k.headsToTokens(ctx, g, dqkv, B, heads, N, Dh, C3, part * D);
    });
    return [dqkv];
  });
  return [q, kk, v];
}

/** x [B, H, N, Dh] → [B, N, H·Dh] (transpose(1, 2).reshape): the heads back side by side. */
export function mergeHeads(x: Tensor): Tensor {
  if (x.rank !== 4) throw new ShapeError(`mergeHeads: input ${shapeText(x.shape)} must be [B, H, N, Dh].`);
  const [B, H, N, Dh] = x.shape as [number, number, number, number];
  const ctx = x.ctx;
  const out = Tensor.like(x, [B, N, H * Dh]);
  k.headsToTokens(ctx, x, out, B, H, N, Dh, H * Dh, 0);
  record('mergeHeads', [x], [out], ([g]) => {
    const dx = Tensor.like(x);
    k.tokensToHeads(ctx, g!, dx, B, H, N, Dh, H * Dh, 0);
    return [dx];
  });
  return out;
}

/** x[:, index] of x [B, N, D] → [B, D] (the class token is index 0); a negative index counts from the end. */
export function selectToken(x: Tensor, index: number): Tensor {
  if (x.rank !== 3) throw new ShapeError(`selectToken: input ${shapeText(x.shape)} must be [B, N, D].`);
  const [B, N, D] = x.shape as [number, number, number];
  const t = index < 0 ? index + N : index;
  if (!Number.isInteger(t) || t < 0 || t >= N) throw new ShapeError(`selectToken: token ${index} is out of range for input ${shapeText(x.shape)}.`);
  return columns('selectToken', x, [B, D], B, N * D, t * D, D);
}

/** x[..., start:end] (a non-empty range of the last axis). */
export function sliceLast(x: Tensor, start: number, end: number): Tensor {
  const D = x.shape[x.rank - 1];
  if (D === undefined) throw new ShapeError(`sliceLast: input ${shapeText(x.shape)} has no last axis.`);
  if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end <= start || end > D) {
    throw new ShapeError(`sliceLast: [${start}, ${end}) is not a non-empty range of the last axis of ${shapeText(x.shape)}.`);
  }
  return columns('sliceLast', x, [...x.shape.slice(0, -1), end - start], x.size / D, D, start, end - start);
}

// Columns [offset, offset + width) of x viewed as [rows, cols], as a tensor of `shape`.
function columns(op: string, x: Tensor, shape: number[], rows: number, cols: number, offset: number, width: number): Tensor {
  const ctx = x.ctx;
  const out = Tensor.like(x, shape);
  k.copyCols(ctx, x, out, rows, width, cols, offset, width, 0);
  record(op, [x], [out], ([g]) => {
    const dx = Tensor.like(x);
    k.padCols(ctx, g!, dx, rows, width, cols, offset);
    return [dx];
  });
  return out;
}

/** Concatenation along the last axis; every input has the same leading dimensions and a non-empty last axis. */
export function concatLast(xs: Tensor[]): Tensor {
  const first = xs[0];
  if (!first) throw new ShapeError('concatLast: there is nothing to concatenate.');
  if (first.rank === 0) throw new ShapeError(`concatLast: input ${shapeText(first.shape)} has no last axis.`);
  const lead = first.shape.slice(0, -1);
  const widths = xs.map((x, i) => {
    const w = x.shape[x.rank - 1];
    if (x.rank !== first.rank || !lead.every((d, j) => d === x.shape[j]) || !w) {
      throw new ShapeError(`concatLast: input ${i} ${shapeText(x.shape)} does not fit input 0 ${shapeText(first.shape)} (same leading dimensions, non-empty last axis).`);
    }
    return w;
  });
  const total = widths.reduce((a, b) => a + b, 0);
  const rows = lead.reduce((a, b) => a * b, 1);
  const ctx = first.ctx;
  const out = Tensor.like(first, [...lead, total]);
  const offsets = widths.map((_, i) => widths.slice(0, i).reduce((a, b) => a + b, 0));
  xs.forEach((x, i) => k.copyCols(ctx, x, out, rows, widths[i]!, widths[i]!, 0, total, offsets[i]!));
  record('concatLast', xs, [out], ([g]) =>
    xs.map((x, i) => {
      if (!x.requiresGrad) return null;
      const dx = Tensor.like(x);
      k.copyCols(ctx, g!, dx, rows, widths[i]!, total, offsets[i]!, widths[i]!, 0);
      return dx;
    }),
  );
  return out;
}

/**
 * token [1, 1, D] before every sequence of x [B, n, D] → [B, 1 + n, D] (Point-MAE's class token, and its
 * class position before the group positions). The gradient of the token sums over the batch.
 */
export function prependToken(x: Tensor, token: Tensor): Tensor {
  if (x.rank !== 3) throw new ShapeError(`prependToken: tokens ${shapeText(x.shape)} must be [B, n, D].`);
  const [B, n, D] = x.shape as [number, number, number];
  if (token.rank !== 3 || token.shape[0] !== 1 || token.shape[1] !== 1 || token.shape[2] !== D) {
    throw new ShapeError(`prependToken: token ${shapeText(token.shape)} must be [1, 1, ${D}] for tokens ${shapeText(x.shape)}.`);
  }
  if (token.dtype !== 'f32' || x.dtype !== 'f32') throw new ShapeError('prependToken: the token and the tokens must be f32 (cast the sequence afterwards).');
  const ctx = x.ctx;
  const out = Tensor.empty(ctx, [B, n + 1, D]);
  // On rows of one sequence each: the token at columns [0, D) (a source stride of 0 repeats it), x after it.
  k.copyCols(ctx, token, out, B, D, 0, 0, (n + 1) * D, 0);
  k.copyCols(ctx, x, out, B, n * D, n * D, 0, (n + 1) * D, D);
  record('prependToken', [x, token], [out], ([g]) => {
    let dx: Tensor | null = null;
    if (x.requiresGrad) {
      dx = Tensor.empty(ctx, x.shape);
      k.copyCols(ctx, g!, dx, B, n * D, (n + 1) * D, D, n * D, 0);
    }
    let dtoken: Tensor | null = null;
    if (token.requiresGrad) {
      const first = Tensor.empty(ctx, [B, D]);
      k.copyCols(ctx, g!, first, B, D, (n + 1) * D, 0, D, 0);
      if (B === 1) dtoken = first.view(token.shape);
      else {
        dtoken = Tensor.empty(ctx, token.shape);
        sumAxis(ctx, first, dtoken, 1, B, D);
        first.dispose();
      }
    }
    return [dx, dtoken];
  });
  return out;
}
