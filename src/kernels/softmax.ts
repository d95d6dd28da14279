import { f32, type BufferRange, type GpuContext } from '../gpu/context';
import { ShapeError } from '../gpu/errors';
import type { KernelSpec } from '../gpu/pipelines';
import { grid1d } from './grid';
import { fixedSubgroupSize } from './subgroups';
import { storageMap, storageOf } from './storage';
import type { StorageType } from '../gpu/pipelines';

// Launchers for shaders/softmax.wgsl. x, y, dy, dx are [rows, cols]; softmax runs along cols. They are f32, or
// all f16 tensors in mixed precision (portable kernel only: the subgroup file has no f16 variant).
const WG = 256;

/** Threads per row: enough for about four elements each, at least a warp, at most the workgroup. */
function softmaxRowThreads(cols: number): number {
  let t = 32;
  while (t < WG && t * 4 < cols) t *= 2;
  return t;
}

function rowKernel(entry: string, cols: number, type: StorageType = 'f32'): { spec: KernelSpec; rowsPerGroup: number } {
  const threads = softmaxRowThreads(cols);
  return { spec: { shader: 'softmax', entry, defines: { ROW_THREADS: threads }, storage: storageMap({ act: type }) }, rowsPerGroup: WG / threads };
}

/**
 * The kernel for a row operation: on adapters with one fixed subgroup size, shaders/softmax_subgroup.wgsl
 * (one row per one-subgroup workgroup, reductions by subgroupMax/subgroupAdd, no barriers); else the
 * portable workgroup-memory kernel.
 */
function kernelFor(ctx: GpuContext, entry: string, rows: number, cols: number, buffers: BufferRange[]): { spec: KernelSpec; grid: [number, number] } {
  const type = storageOf(buffers[0]!);
  if (buffers.some((b) => storageOf(b) !== type)) throw new ShapeError(`softmax ${entry}: the buffers differ in element type (${buffers.map(storageOf).join(', ')}).`);
  const sg = fixedSubgroupSize(ctx);
  if (sg > 0 && type === 'f32') return { spec: { shader: 'softmax_subgroup', entry, defines: { SG: sg } }, grid: grid1d(rows, 1) };
  const { spec, rowsPerGroup } = rowKernel(entry, cols, type);
  return { spec, grid: grid1d(rows, rowsPerGroup) };
}

/** y = softmax(scale·x) along each row. */
export function softmaxForward(ctx: GpuContext, x: BufferRange, y: BufferRange, rows: number, cols: number, scale = 1): void {
  const { spec, grid } = kernelFor(ctx, 'forward', rows, cols, [x, y]);
  ctx.dispatch(spec, [rows, cols, f32(scale)], [x, y], grid);
}

/** dx = scale·y∘(dy − rowsum(dy∘y)) from the forward's output y = softmax(scale·x). */
export function softmaxBackward(ctx: GpuContext, y: BufferRange, dy: BufferRange, dx: BufferRange, rows: number, cols: number, scale = 1): void {
  const { spec, grid } = kernelFor(ctx, 'backward', rows, cols, [y, dy, dx]);
  ctx.dispatch(spec, [rows, cols, f32(scale)], [y, dy, dx], grid);
}
