import type { BufferRange, GpuContext } from '../gpu/context';
import { ShapeError } from '../gpu/errors';
import { grid1d } from './grid';
import { storageMap, storageOf } from './storage';

// Launchers for shaders/shape.wgsl and shaders/patch_embed.wgsl (pure data movement, one thread per
// destination element). Sizes are in elements. The shape.wgsl moves (not cls_pos, not patches) work on f32 or,
// in mixed precision, f16 tensors: every buffer of one move has the same element type.
const WG = 256;

interface ShapeParams {
  total: number;
  rows?: number;
  width?: number;
  srcStride?: number;
  srcOffset?: number;
  dstStride?: number;
  dstOffset?: number;
  H?: number;
  N?: number;
  Dh?: number;
  rowStride?: number;
  colOffset?: number;
  n?: number;
  D?: number;
}

// Field order of `Params` in shaders/shape.wgsl.
const SHAPE_FIELDS = ['total', 'rows', 'width', 'srcStride', 'srcOffset', 'dstStride', 'dstOffset', 'H', 'N', 'Dh', 'rowStride', 'colOffset', 'n', 'D'] as const;

function shapeDispatch(ctx: GpuContext, entry: string, p: ShapeParams, buffers: BufferRange[]): void {
  const type = storageOf(buffers[0]!);
  if (buffers.some((b) => storageOf(b) !== type) || (entry === 'cls_pos' && type !== 'f32')) {
    throw new ShapeError(`${entry}: the buffers differ in element type (${buffers.map(storageOf).join(', ')}); cast first.`);
  }
  if (p.total === 0) return;
  ctx.dispatch({ shader: 'shape', entry, storage: storageMap({ act: type }) }, SHAPE_FIELDS.map((f) => p[f] ?? 0), buffers, grid1d(p.total, WG));
}

/** dst[r, dstOffset + j] = src[r, srcOffset + j] for r < rows, j < width, on row-major views [rows, *Stride]. */
export function copyCols(
  ctx: GpuContext,
  src: BufferRange,
  dst: BufferRange,
  rows: number,
  width: number,
  srcStride: number,
  srcOffset: number,
  dstStride: number,
  dstOffset: number,
): void {
  shapeDispatch(ctx, 'copy_cols', { total: rows * width, rows, width, srcStride, srcOffset, dstStride, dstOffset }, [src, dst]);
}

/** dst [rows, dstCols] = zeros with src [rows, width] placed at column `offset` (adjoint of a column slice). */
export function padCols(ctx: GpuContext, src: BufferRange, dst: BufferRange, rows: number, width: number, dstCols: number, offset: number): void {
  shapeDispatch(ctx, 'pad_cols', { total: rows * dstCols, rows, width, dstStride: dstCols, dstOffset: offset }, [src, dst]);
}

/** dst [B, H, N, Dh] ← columns [colOffset, colOffset + H·Dh) of token rows src [B·N, rowStride]. */
export function tokensToHeads(ctx: GpuContext, src: BufferRange, dst: BufferRange, B: number, H: number, N: number, Dh: number, rowStride: number, colOffset: number): void {
  shapeDispatch(ctx, 'tokens_to_heads', { total: B * H * N * Dh, H, N, Dh, rowStride, colOffset }, [src, dst]);
}

/** Columns [colOffset, colOffset + H·Dh) of token rows dst [B·N, rowStride] ← src [B, H, N, Dh]; other columns untouched. */
export function headsToTokens(ctx: GpuContext, src: BufferRange, dst: BufferRange, B: number, H: number, N: number, Dh: number, rowStride: number, colOffset: number): void {
  shapeDispatch(ctx, 'heads_to_tokens', { total: B * N * H * Dh, H, N, Dh, rowStride, colOffset }, [src, dst]);
}

/** qkv [B, N, 3·H·Dh] → q, k, v [B, H, N, Dh] in one pass. */
export function splitQkv(ctx: GpuContext, qkv: BufferRange, q: BufferRange, k: BufferRange, v: BufferRange, B: number, H: number, N: number, Dh: number): void {
  shapeDispatch(ctx, 'split_qkv', { total: B * H * N * Dh, H, N, Dh }, [qkv, q, k, v]);
}

/** Adjoint of splitQkv: dqkv [B, N, 3·H·Dh] from gq, gk, gv [B, H, N, Dh] in one pass. */
export function mergeQkv(ctx: GpuContext, gq: BufferRange, gk: BufferRange, gv: BufferRange, dqkv: BufferRange, B: number, H: number, N: number, Dh: number): void {
  shapeDispatch(ctx, 'merge_qkv', { total: B * N * 3 * H * Dh, H, N, Dh }, [gq, gk, gv, dqkv]);
}

/** tokens [B, 1 + n, D] = concat(cls [D], x [B, n, D]) along tokens + pos [1 + n, D]. */
export function clsPosForward(ctx: GpuContext, x: BufferRange, cls: BufferRange, pos: BufferRange, tokens: BufferRange, B: number, n: number, D: number): void {
  shapeDispatch(ctx, 'cls_pos', { total: B * (n + 1) * D, n, D }, [x, cls, pos, tokens]);
}

/** image [B, C, H, W] → patches [B, (H/P)·(W/P), C·P·P] (P divides H and W). */
export function patchify(ctx: GpuContext, image: BufferRange, patches: BufferRange, B: number, C: number, H: number, W: number, P: number): void {
  patchDispatch(ctx, 'patchify', image, patches, B, C, H, W, P);
}

/** Adjoint of patchify: gradient patches [B, n, C·P·P] → image gradient [B, C, H, W]. */
export function unpatchify(ctx: GpuContext, patches: BufferRange, image: BufferRange, B: number, C: number, H: number, W: number, P: number): void {
  patchDispatch(ctx, 'unpatchify', patches, image, B, C, H, W, P);
}

function patchDispatch(ctx: GpuContext, entry: string, src: BufferRange, dst: BufferRange, B: number, C: number, H: number, W: number, P: number): void {
  const gridW = W / P;
  // patchify: one thread per run of P pixels; unpatchify: one per image element.
  const total = entry === 'patchify' ? B * C * H * gridW : B * C * H * W;
  if (total === 0) return;
  const n = (H / P) * gridW;
  ctx.dispatch({ shader: 'patch_embed', entry }, [total, C, H, W, P, gridW, n, C * P * P], [src, dst], grid1d(total, WG));
}
