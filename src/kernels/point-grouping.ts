import type { BufferRange, GpuContext } from '../gpu/context';
import { ShapeError } from '../gpu/errors';
import { ceilDiv, grid1d } from './grid';
import { unusedOutput } from './matmul';

/*
 * Launchers for Point-MAE's grouping (clora-spec §4): shaders/point_fps.wgsl (farthest point sampling),
 * shaders/point_knn.wgsl (k nearest neighbours) and shaders/point_gather.wgsl (neighbour − centre).
 * Points and centres are f32; index buffers hold u32 (src/autodiff/ops/points.ts keeps them in tensors).
 *
 * How the FPS program is chosen (selectFpsProgram), from the point count alone:
 *  - 'registers' while every thread of the 256-thread workgroup owns at most FPS_MAX_PER_THREAD points
 *    (P ≤ 4096: Point-MAE's 1024 and 8192-point scans resampled down): the points and their running
 *    distances stay in registers for all G rounds, so a round reads nothing from memory but the new centre.
 *  - 'global' beyond that: the distances live in a [B, P] scratch buffer and the points are read again each
 *    round (a thread would otherwise need too many registers, and a GPU would spill them anyway).
 * Both run one workgroup per cloud, so a batch of B clouds is B workgroups: a whole GPU for B in the
 * hundreds, fine for the few-per-step batches of fine-tuning since the grouping is a small part of a step.
 */

export type FpsProgram = 'registers' | 'global';

const FPS_WG = 256;
const FPS_MAX_PER_THREAD = 16;
// kNN: centres per workgroup (one thread each) and points staged per tile (3 KiB of workgroup memory).
const KNN_WG = 64;
const KNN_TILE = 256;
/** Largest group size: each thread keeps K (distance, index) pairs in private memory. */
export const MAX_GROUP_SIZE = 128;

export function selectFpsProgram(points: number): FpsProgram {
  return ceilDiv(points, FPS_WG) <= FPS_MAX_PER_THREAD ? 'registers' : 'global';
}

/**
 * Records farthest point sampling of `groups` centres from each of `batch` clouds of `points` points:
 * `index` [B, G] (u32) and `centres` [B, G, 3]. Returns the program used (`program` forces one).
 */
export function farthestPointSampleInto(
  ctx: GpuContext,
  cloud: BufferRange,
  index: BufferRange,
  centres: BufferRange,
  batch: number,
  points: number,
  groups: number,
  program: FpsProgram = selectFpsProgram(points),
): FpsProgram {
  if (points < 1 || groups < 1) throw new ShapeError(`farthest point sampling: ${groups} centres from ${points} points is not possible.`);
  if (batch === 0) return program;
  const registers = program === 'registers';
  if (registers && ceilDiv(points, FPS_WG) > FPS_MAX_PER_THREAD) throw new Error(`farthest point sampling: the registers program holds at most ${FPS_WG * FPS_MAX_PER_THREAD} points (got ${points}).`);
  const defines = { WG: FPS_WG, PER_THREAD: registers ? ceilDiv(points, FPS_WG) : 1, REGISTERS: registers };
  let scratch: GPUBuffer | undefined;
  let dist = unusedOutput(ctx); // the registers program never touches it
  if (!registers) {
    const bytes = batch * points * 4;
    scratch = ctx.pool.acquire(bytes, 'farthest point sampling distances');
    dist = { buffer: scratch, byteOffset: 0, byteLength: bytes };
  }
  ctx.dispatch({ shader: 'point_fps', entry: 'fps', defines }, [points, groups], [cloud, index, centres, dist], [batch]);
  // Work recorded later that reuses the scratch runs after this dispatch.
  if (scratch) ctx.pool.release(scratch);
  return program;
}

/** Records the `k` nearest points of every centre: `index` [B, G, K] (u32), nearest first, ties by index. */
export function nearestNeighboursInto(ctx: GpuContext, cloud: BufferRange, centres: BufferRange, index: BufferRange, batch: number, points: number, groups: number, k: number): void {
  if (k < 1 || k > points) throw new ShapeError(`k nearest neighbours: groups of ${k} cannot be taken from ${points} points.`);
  if (k > MAX_GROUP_SIZE) throw new ShapeError(`k nearest neighbours: groups of ${k} points are over the supported ${MAX_GROUP_SIZE}.`);
  if (batch === 0 || groups === 0) return;
  ctx.dispatch({ shader: 'point_knn', entry: 'knn', defines: { WG: KNN_WG, TILE: KNN_TILE, K: k } }, [points, groups], [cloud, centres, index], [ceilDiv(groups, KNN_WG), batch]);
}

/** Records out [B, G, K, 3] = points[index] − centres (each neighbour relative to its centre). */
export function gatherNeighbourhoodInto(ctx: GpuContext, cloud: BufferRange, index: BufferRange, centres: BufferRange, out: BufferRange, batch: number, points: number, groups: number, k: number): void {
  const total = batch * groups * k * 3;
  if (total === 0) return;
  ctx.dispatch({ shader: 'point_gather', entry: 'gather_neighbourhood' }, [total, points, groups, k], [cloud, index, centres, out], grid1d(total, 256));
}
