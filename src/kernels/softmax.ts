import type { BufferRange, GpuContext } from '../gpu/context';
import type { KernelSpec } from '../gpu/pipelines';
import { grid1d } from './grid';

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

/** y = softmax(x) along each row. */
export function softmaxForward(ctx: GpuContext, x: BufferRange, y: BufferRange, rows: number, cols: number): void {
  const { spec, rowsPerGroup } = rowKernel('forward', cols);
  ctx.dispatch(spec, [rows, cols], [x, y], grid1d(rows, rowsPerGroup));
}

/** dx = y∘(dy − rowsum(dy∘y)) from the forward's output y. */
export function softmaxBackward(ctx: GpuContext, y: BufferRange, dy: BufferRange, dx: BufferRange, rows: number, cols: number): void {
  const { spec, rowsPerGroup } = rowKernel('backward', cols);
  ctx.dispatch(spec, [rows, cols], [y, dy, dx], grid1d(rows, rowsPerGroup));
}
