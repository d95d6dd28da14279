import { f32, type BufferRange, type GpuContext } from '../gpu/context';
import type { KernelSpec } from '../gpu/pipelines';
import { ceilDiv, grid1d } from './grid';
import { fixedSubgroupSize } from './subgroups';
import { sumRows } from './reduce';
import { storageMap, storageOf } from './storage';
import type { StorageType } from '../gpu/pipelines';

// Launchers for shaders/layernorm.wgsl. x, y, dx are [rows, D]; weight, bias [D]; stats [rows, 2] = (mean, rstd).
// x (and dx) and y (and its gradient) may be f16 tensors (mixed precision); weight, bias, stats stay f32.
// f16 rows take the portable kernels (the subgroup file has no f16 variant).
const WG = 256;
const COLS = 64;

/** Threads per row: enough for about four elements each, at least a warp, at most the workgroup. */
export function rowThreads(D: number): number {
  let t = 32;
  while (t < WG && t * 4 < D) t *= 2;
  return t;
}

function rowKernel(entry: string, D: number, xType: StorageType = 'f32', yType: StorageType = 'f32'): { spec: KernelSpec; rowsPerGroup: number } {
  const threads = rowThreads(D);
  return { spec: { shader: 'layernorm', entry, defines: { ROW_THREADS: threads }, storage: storageMap({ x_t: xType, y_t: yType }) }, rowsPerGroup: WG / threads };
}

const anyF16 = (...ranges: BufferRange[]): boolean => ranges.some((r) => storageOf(r) === 'f16');

/**
 * Whether the subgroup kernels (shaders/layernorm_subgroup.wgsl: one row per workgroup of one subgroup, sums
 * by subgroupAdd, no barriers) run on this context; see fixedSubgroupSize.
 */
export function layerNormUsesSubgroups(ctx: GpuContext): boolean {
  return fixedSubgroupSize(ctx) > 0;
}

function subgroupSpec(ctx: GpuContext, entry: string): KernelSpec {
  return { shader: 'layernorm_subgroup', entry, defines: { SG: fixedSubgroupSize(ctx) } };
}

export function layerNormForward(
  ctx: GpuContext,
  x: BufferRange,
  weight: BufferRange,
  bias: BufferRange,
  y: BufferRange,
  stats: BufferRange,
  rows: number,
  D: number,
  eps: number,
): void {
  if (layerNormUsesSubgroups(ctx) && !anyF16(x, y)) {
    ctx.dispatch(subgroupSpec(ctx, 'forward'), [rows, D, f32(eps), 0], [x, weight, bias, y, stats], grid1d(rows, 1));
    return;
  }
  const { spec, rowsPerGroup } = rowKernel('forward', D, storageOf(x), storageOf(y));
  ctx.dispatch(spec, [rows, D, f32(eps), 0], [x, weight, bias, y, stats], grid1d(rows, rowsPerGroup));
}

/** dx from the output gradient and the statistics saved by the forward. */
export function layerNormBackwardInput(
  ctx: GpuContext,
  x: BufferRange,
  weight: BufferRange,
  grad: BufferRange,
  stats: BufferRange,
  dx: BufferRange,
  rows: number,
  D: number,
): void {
  if (layerNormUsesSubgroups(ctx) && !anyF16(x, grad)) {
    ctx.dispatch(subgroupSpec(ctx, 'backward_input'), [rows, D, f32(0), 0], [x, weight, grad, stats, dx], grid1d(rows, 1));
    return;
  }
  const { spec, rowsPerGroup } = rowKernel('backward_input', D, storageOf(x), storageOf(grad));
  ctx.dispatch(spec, [rows, D, f32(0), 0], [x, weight, grad, stats, dx], grid1d(rows, rowsPerGroup));
}

/**
 * Rows per partial-sum chunk for dweight/dbias: enough chunks to fill a GPU (≈256 × D/64 workgroups) while
 * the second pass over the partials stays short.
 */
export function rowsPerChunk(rows: number): number {
  return Math.max(16, ceilDiv(rows, 256));
}

/**
 * dweight = Σ_rows grad·x̂ and dbias = Σ_rows grad. `scratch` allocates the [chunks, D] partial buffers when
 * there is more than one chunk; they are the caller's to release after the reduction is recorded.
 */
export function layerNormBackwardParams(
  ctx: GpuContext,
  x: BufferRange,
  grad: BufferRange,
  stats: BufferRange,
  dweight: BufferRange,
  dbias: BufferRange,
  rows: number,
  D: number,
  scratch: (elements: number) => BufferRange & { dispose?: () => void },
): void {
  const perChunk = rowsPerChunk(rows);
  const chunks = Math.max(1, ceilDiv(rows, perChunk));
  const spec: KernelSpec = { shader: 'layernorm', entry: 'backward_params', defines: { ROW_THREADS: 32 }, storage: storageMap({ x_t: storageOf(x), y_t: storageOf(grad) }) };
  const params = [rows, D, f32(0), perChunk];
  if (chunks === 1) {
    ctx.dispatch(spec, params, [x, grad, stats, dweight, dbias], [ceilDiv(D, COLS), 1]);
    return;
  }
  const partW = scratch(chunks * D);
  const partB = scratch(chunks * D);
  ctx.dispatch(spec, params, [x, grad, stats, partW, partB], [ceilDiv(D, COLS), chunks]);
  sumRows(ctx, partW, dweight, chunks, D);
  sumRows(ctx, partB, dbias, chunks, D);
  partW.dispose?.();
  partB.dispose?.();
}
