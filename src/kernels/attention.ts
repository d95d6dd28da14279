import { f32, type BufferRange, type GpuContext } from '../gpu/context';
import { ShapeError } from '../gpu/errors';
import type { KernelSpec } from '../gpu/pipelines';
import type { DeviceProfile } from '../gpu/profile';
import { ceilDiv, grid1d } from './grid';
import { storageMap, storageOf } from './storage';

// Launchers for shaders/attention.wgsl. q, out, dq are [bh, nq, dh]; k, v, dk, dv [bh, nk, dh]; lse and the
// row dots D are [bh, nq]. Kernels are specialised per head dim, so loops over it unroll. q, k, v, out and
// their gradients are f32, or all f16 tensors in mixed precision; lse and D stay f32.

/** Largest head dim with a specialised kernel (timm ViTs use 64). */
export const MAX_HEAD_DIM = 128;
/** Invocations per workgroup for the tiled kernels (the guaranteed minimum is 256). */
const THREADS = 128;

export interface AttentionDims {
  bh: number;
  nq: number;
  nk: number;
  dh: number;
}

export interface AttentionTile {
  /** Rows a workgroup owns (query rows, or key rows for dK/dV). */
  rows: number;
  /** Rows of the other operand streamed per step. */
  tile: number;
  /** Threads per owned row. */
  tpr: number;
  /** Workgroup memory the entry point declares. */
  bytes: number;
}

export type AttentionKernel = 'forward' | 'backward_dkdv' | 'backward_dq';

/**
 * 'fused': the flash-style kernels, whose memory does not grow with N². 'products': scores and
 * probabilities as [B·H, Nq, Nk] tensors through the register-blocked matmul and the row softmax, the
 * probabilities kept for the backward (src/autodiff/ops/attention.ts).
 */
export type AttentionPath = 'fused' | 'products';

/**
 * Keys per head-dim unit up to which the products path is used. At Nk ≤ 2·Dh the kept probabilities take
 * at most 2/3 of the memory of the q, k and v the op keeps anyway, while the fused kernels' per-tile costs
 * (barriers, online-softmax rescaling, dot products from workgroup memory) are spread over too few keys to
 * pay off: five and six tiled products (forward, backward) do the same work faster. Longer sequences (ViT
 * at 224², 197 tokens for Dh 64) take the fused kernels.
 */
const PRODUCTS_MAX_KEYS_PER_HEAD_DIM = 2;

/**
 * The attention path for Nk keys at head dim Dh on a device (the op can force either): emulators take the
 * products for short sequences; GPUs always take the fused kernels, whose tiles live in workgroup memory.
 */
export function selectAttentionPath(nk: number, dh: number, profile: Pick<DeviceProfile, 'attention'>): AttentionPath {
  if (profile.attention === 'fused') return 'fused';
  return nk <= PRODUCTS_MAX_KEYS_PER_HEAD_DIM * dh ? 'products' : 'fused';
}

const oddStride = (dh: number): number => dh | 1;

/** Workgroup bytes of each tiled entry point (mirrors the var<workgroup> declarations of the shader). */
function workgroupBytes(kernel: AttentionKernel, dh: number, rows: number, tile: number): number {
  const s = oddStride(dh);
  if (kernel === 'forward') return 4 * (rows * s + dh * (tile + 1) + rows * tile + THREADS);
  if (kernel === 'backward_dkdv') return 4 * (2 * rows * s + 2 * tile * s + 2 * rows * tile + 2 * tile);
  return 4 * (2 * rows * s + 2 * tile * s + rows * tile);
}

// Preference order: more owned rows reuse each streamed tile more; a longer forward tile means fewer barriers
// per key. The first shape that fits the profile's workgroup memory wins. The 16 KiB every device offers
// (emulators, and GPUs at large head dims) takes the 16-row tiles; GPUs with 32 KiB take 32-row tiles first,
// halving the passes over the streamed keys (forward, dQ) or queries (dK, dV).
const CANDIDATES: Record<AttentionKernel, [number, number][]> = {
  forward: [[16, 32], [16, 16], [16, 8], [8, 8], [4, 8], [4, 4]],
  backward_dkdv: [[16, 8], [8, 8], [8, 4], [4, 4]],
  backward_dq: [[16, 8], [8, 8], [8, 4], [4, 4]],
};
const GPU_CANDIDATES: Record<AttentionKernel, [number, number][]> = {
  forward: [[32, 32], [32, 16], ...CANDIDATES.forward],
  backward_dkdv: [[32, 16], [32, 8], ...CANDIDATES.backward_dkdv],
  backward_dq: [[32, 16], [32, 8], ...CANDIDATES.backward_dq],
};

/** The tile shape of one kernel at a head dim on a device; throws for head dims without a specialised kernel. */
export function attentionTile(kernel: AttentionKernel, dh: number, profile: Pick<DeviceProfile, 'kind' | 'attentionWorkgroupBytes'>): AttentionTile {
  if (!Number.isInteger(dh) || dh < 1 || dh > MAX_HEAD_DIM) {
    throw new ShapeError(`attention: head dim ${dh} is not supported; the fused kernel handles head dims 1 to ${MAX_HEAD_DIM}.`);
  }
  const budget = profile.attentionWorkgroupBytes;
  for (const [rows, tile] of (profile.kind === 'emulated' ? CANDIDATES : GPU_CANDIDATES)[kernel]) {
    const bytes = workgroupBytes(kernel, dh, rows, tile);
    if (bytes <= budget) return { rows, tile, tpr: THREADS / rows, bytes };
  }
  throw new Error(`Internal: no attention tile fits ${budget} bytes at head dim ${dh}.`);
}

/** The common storage type of the activation buffers of one kernel (mixing is refused). */
function activationType(kernel: string, buffers: BufferRange[]): Record<string, 'f16'> | undefined {
  const type = storageOf(buffers[0]!);
  if (buffers.some((b) => storageOf(b) !== type)) throw new ShapeError(`attention ${kernel}: q, k, v, out and their gradients must share one element type (${buffers.map(storageOf).join(', ')}).`);
  return storageMap({ act: type }) as Record<string, 'f16'> | undefined;
}

function spec(ctx: GpuContext, kernel: AttentionKernel, dh: number, buffers: BufferRange[]): { spec: KernelSpec; rows: number } {
  const t = attentionTile(kernel, dh, ctx.profile);
  return { spec: { shader: 'attention', entry: kernel, defines: { DH: dh, ROWS: t.rows, TILE: t.tile, TPR: t.tpr }, storage: activationType(kernel, buffers) }, rows: t.rows };
}

/** out = softmax(q·kᵀ·scale)·v and lse = logsumexp(q·kᵀ·scale) per query row. */
export function attentionForward(ctx: GpuContext, q: BufferRange, k: BufferRange, v: BufferRange, out: BufferRange, lse: BufferRange, dims: AttentionDims, scale: number): void {
  const { spec: s, rows } = spec(ctx, 'forward', dims.dh, [q, k, v, out]);
  ctx.dispatch(s, [dims.nq, dims.nk, f32(scale)], [q, k, v, out, lse], [ceilDiv(dims.nq, rows), dims.bh]);
}

// The row dot is a plain row reduction: 32 rows of 8 lanes per 256-thread workgroup.
const ROWDOT_ROWS = 32;
const ROWDOT_LANES = 8;

/** D[i] = Σ_c dOut[i, c]·out[i, c] for `rows` rows of dh values. */
export function attentionRowDot(ctx: GpuContext, dOut: BufferRange, out: BufferRange, dsum: BufferRange, rows: number, dh: number): void {
  attentionTile('forward', dh, ctx.profile); // same head-dim check as the other kernels
  const s: KernelSpec = { shader: 'attention', entry: 'backward_rowdot', defines: { DH: dh, ROWS: ROWDOT_ROWS, TILE: 1, TPR: ROWDOT_LANES }, storage: activationType('backward_rowdot', [dOut, out]) };
  ctx.dispatch(s, [rows, 0, f32(0)], [dOut, out, dsum], grid1d(rows, ROWDOT_ROWS));
}

/** What both backward kernels read: the forward's inputs, the output gradient, and the saved row statistics. */
export interface AttentionBackwardInputs {
  q: BufferRange;
  k: BufferRange;
  v: BufferRange;
  dOut: BufferRange;
  /** The forward's logsumexp per query row. */
  lse: BufferRange;
  /** D = rowsum(dOut∘out) (attentionRowDot). */
  dsum: BufferRange;
}

/** dK and dV from the saved logsumexp and D (one pass over query tiles per block of key rows). */
export function attentionBackwardKeys(ctx: GpuContext, b: AttentionBackwardInputs, dk: BufferRange, dv: BufferRange, dims: AttentionDims, scale: number): void {
  const { spec: s, rows } = spec(ctx, 'backward_dkdv', dims.dh, [b.q, b.k, b.v, b.dOut, dk, dv]);
  ctx.dispatch(s, [dims.nq, dims.nk, f32(scale)], [b.q, b.k, b.v, b.dOut, b.lse, b.dsum, dk, dv], [ceilDiv(dims.nk, rows), dims.bh]);
}

/** dQ from the saved logsumexp and D (one pass over key tiles per block of query rows). */
export function attentionBackwardQueries(ctx: GpuContext, b: AttentionBackwardInputs, dq: BufferRange, dims: AttentionDims, scale: number): void {
  const { spec: s, rows } = spec(ctx, 'backward_dq', dims.dh, [b.q, b.k, b.v, b.dOut, dq]);
  ctx.dispatch(s, [dims.nq, dims.nk, f32(scale)], [b.q, b.k, b.v, b.dOut, b.lse, b.dsum, dq], [ceilDiv(dims.nq, rows), dims.bh]);
}
