import { f32, type BufferRange, type GpuContext } from '../gpu/context';
import type { KernelSpec } from '../gpu/pipelines';
import { grid1d } from './grid';
import { fixedSubgroupSize } from './subgroups';

// Launchers for shaders/softmax.wgsl. x, y, dy, dx are [rows, cols]; softmax runs along cols.
const WG = 256;

/** Threads per row: enough for about four elements each, at least a warp, at most the workgroup. */
export function softmaxRowThreads(cols: number): number {
  let t = 32;
  while (t < WG && t * 4 < cols) t *= 2;
  return t;
}

function rowKernel(entry: string, cols: number): { spec: KernelSpec; rowsPerGroup: number } {
  const threads = softmaxRowThreads(cols);
  return { spec: { shader: 'softmax', entry, defines: { ROW_THREADS: threads } }, rowsPerGroup: WG / threads };
}

/**
 * The kernel for a row operation: on adapters with one fixed subgroup size, shaders/softmax_subgroup.wgsl
 * (one row per one-subgroup workgroup, reductions by subgroupMax/subgroupAdd, no barriers); else the
 * portable workgroup-memory kernel.
 */
function kernelFor(ctx: GpuContext, entry: string, rows: number, cols: number): { spec: KernelSpec; grid: [number, number] } {
  const sg = fixedSubgroupSize(ctx);
  if (sg > 0) return { spec: { shader: 'softmax_subgroup', entry, defines: { SG: sg } }, grid: grid1d(rows, 1) };
  const { spec, rowsPerGroup } = rowKernel(entry, cols);
  return { spec, grid: grid1d(rows, rowsPerGroup) };
}

/** y = softmax(scale·x) along each row. */
export function softmaxForward(ctx: GpuContext, x: BufferRange, y: BufferRange, rows: number, cols: number, scale = 1): void {
  const { spec, grid } = kernelFor(ctx, 'forward', rows, cols);
  ctx.dispatch(spec, [rows, cols, f32(scale)], [x, y], grid);
}

/** dx = scale·y∘(dy − rowsum(dy∘y)) from the forward's output y = softmax(scale·x). */
export function softmaxBackward(ctx: GpuContext, y: BufferRange, dy: BufferRange, dx: BufferRange, rows: number, cols: number, scale = 1): void {
  const { spec, grid } = kernelFor(ctx, 'backward', rows, cols);
  ctx.dispatch(spec, [rows, cols, f32(scale)], [y, dy, dx], grid);
}
