import { f32, type BufferRange, type GpuContext } from '../gpu/context';
import type { KernelSpec } from '../gpu/pipelines';
import { grid1d } from './grid';
import { fixedSubgroupSize } from './subgroups';

const WG = 256;

/**
 * Whether the sums run shaders/reduce_subgroup.wgsl (one-subgroup workgroups, subgroupAdd / shuffles, no
 * barriers): on adapters with one fixed subgroup size, see fixedSubgroupSize.
 */
export function reduceUsesSubgroups(ctx: GpuContext): boolean {
  return fixedSubgroupSize(ctx) > 0;
}

/** Columns side by side in one subgroup for column sums: four row lanes, the rest columns (NVIDIA: 8 vec4s, 128 bytes a row). */
export function columnLanes(subgroupSize: number): number {
  return Math.max(1, subgroupSize / 4);
}

// Column sums split the rows into chunks when the strips alone are too few workgroups to fill a GPU.
const TARGET_GROUPS = 512;
const ROWS_PER_LANE = 8;

/** Rows per chunk and chunk count for a column sum over `len` rows with `groupsPerChunk` workgroups per chunk. */
export function columnChunks(len: number, groupsPerChunk: number, rowLanes: number): { rowsPerChunk: number; chunks: number } {
  const wanted = Math.ceil(TARGET_GROUPS / groupsPerChunk);
  const rowsPerChunk = Math.max(rowLanes * ROWS_PER_LANE, Math.ceil(len / wanted));
  return { rowsPerChunk, chunks: Math.ceil(len / rowsPerChunk) };
}

function sumAxisSubgroups(ctx: GpuContext, sg: number, x: BufferRange, out: BufferRange, outer: number, len: number, inner: number, alpha: number): void {
  const colLanes = columnLanes(sg);
  const defines = { SG: sg, COL_LANES: colLanes };
  if (inner === 1) {
    const entry = len % 4 === 0 ? 'sum_last_vec4' : 'sum_last';
    ctx.dispatch({ shader: 'reduce_subgroup', entry, defines }, [outer, len, inner, f32(alpha), 0, 1, 1], [x, out], grid1d(outer, 1));
    return;
  }
  const vec4 = inner % 4 === 0;
  const width = vec4 ? inner / 4 : inner;
  const strips = Math.ceil(width / colLanes);
  const { rowsPerChunk, chunks } = columnChunks(len, outer * strips, sg / colLanes);
  const spec: KernelSpec = { shader: 'reduce_subgroup', entry: vec4 ? 'sum_cols_vec4' : 'sum_cols', defines };
  const groups = grid1d(outer * chunks * strips, 1);
  if (chunks === 1) {
    ctx.dispatch(spec, [outer, len, inner, f32(alpha), rowsPerChunk, 1, strips], [x, out], groups);
    return;
  }
  // Partial sums per chunk, then the same kernel over the chunks. The scratch goes back to the pool at once:
  // later users are recorded after these dispatches.
  const bytes = outer * chunks * inner * 4;
  const scratch = ctx.pool.acquire(bytes, 'column-sum partials');
  const partial: BufferRange = { buffer: scratch, byteOffset: 0, byteLength: bytes };
  ctx.dispatch(spec, [outer, len, inner, f32(1), rowsPerChunk, chunks, strips], [x, partial], groups);
  sumAxisSubgroups(ctx, sg, partial, out, outer, chunks, inner, alpha);
  ctx.pool.release(scratch);
}

/** out[o, i] = alpha · Σ_l x[o, l, i] for x viewed as [outer, len, inner]. Picks the program by shape and adapter. */
export function sumAxis(ctx: GpuContext, x: BufferRange, out: BufferRange, outer: number, len: number, inner: number, alpha = 1): void {
  const sg = fixedSubgroupSize(ctx);
  if (sg > 0) {
    sumAxisSubgroups(ctx, sg, x, out, outer, len, inner, alpha);
    return;
  }
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
