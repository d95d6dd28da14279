import { f32, type BufferRange, type GpuContext } from '../gpu/context';
import { grid1d } from './grid';

const WG = 256;

/** out[o, i] = alpha · Σ_l x[o, l, i] for x viewed as [outer, len, inner]. Picks the program by shape. */
export function sumAxis(ctx: GpuContext, x: BufferRange, out: BufferRange, outer: number, len: number, inner: number, alpha = 1): void {
  const params = [outer, len, inner, f32(alpha)];
  if (inner === 1) ctx.dispatch({ shader: 'reduce', entry: 'sum_last' }, params, [x, out], grid1d(outer, 1));
  else ctx.dispatch({ shader: 'reduce', entry: 'sum_strided' }, params, [x, out], grid1d(outer * inner, WG));
}

/** Column sums of a [rows, cols] matrix: out[c] = Σ_r x[r, c]. */
export function sumRows(ctx: GpuContext, x: BufferRange, out: BufferRange, rows: number, cols: number): void {
  sumAxis(ctx, x, out, 1, rows, cols);
}

/** out[o, l, i] = alpha · g[o, i]: the adjoint of sumAxis. */
export function broadcastAxis(ctx: GpuContext, g: BufferRange, out: BufferRange, outer: number, len: number, inner: number, alpha = 1): void {
  ctx.dispatch({ shader: 'reduce', entry: 'broadcast_axis' }, [outer, len, inner, f32(alpha)], [g, out], grid1d(outer * len * inner, WG));
}
