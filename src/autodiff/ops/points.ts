// Point-MAE's grouping (clora-spec §4): farthest point sampling, k nearest neighbours, and each group's
// neighbours relative to its centre. These ops take no gradient (points are data), so nothing is recorded;
// they refuse an input that asks for one. Index tensors hold u32 values in their buffer (tensors are typed
// f32/f16 for arithmetic, which indices never enter): read them with readIndices().
import { ShapeError } from '../../gpu/errors';
import { farthestPointSampleInto, gatherNeighbourhoodInto, nearestNeighboursInto } from '../../kernels/point-grouping';
import { shapeText, Tensor } from '../tensor';

function cloudDims(points: Tensor, op: string): [number, number] {
  if (points.rank !== 3 || points.shape[2] !== 3) throw new ShapeError(`${op}: points ${shapeText(points.shape)} must be [B, P, 3].`);
  if (points.dtype !== 'f32') throw new ShapeError(`${op}: points must be f32.`);
  if (points.requiresGrad) throw new Error(`${op}: the grouping takes no gradient (points are data); pass points that do not require one.`);
  return [points.shape[0]!, points.shape[1]!];
}

/** Farthest point sampling from point 0: `indices` [B, G] (u32) and `centres` [B, G, 3]. */
export function farthestPointSample(points: Tensor, groups: number): { indices: Tensor; centres: Tensor } {
  const [B, P] = cloudDims(points, 'farthestPointSample');
  if (!Number.isInteger(groups) || groups < 1 || groups > P) throw new ShapeError(`farthestPointSample: ${groups} centres cannot be chosen from ${P} points (1 … ${P}).`);
  const ctx = points.ctx;
  const indices = Tensor.empty(ctx, [B, groups], 'centre indices');
  const centres = Tensor.empty(ctx, [B, groups, 3], 'centres');
  farthestPointSampleInto(ctx, points, indices, centres, B, P, groups);
  return { indices, centres };
}

/** The `k` nearest points of every centre, nearest first, ties by lower index: [B, G, K] (u32). */
export function nearestNeighbours(points: Tensor, centres: Tensor, k: number): Tensor {
  const [B, P] = cloudDims(points, 'nearestNeighbours');
  if (centres.rank !== 3 || centres.shape[0] !== B || centres.shape[2] !== 3) throw new ShapeError(`nearestNeighbours: centres ${shapeText(centres.shape)} must be [${B}, G, 3] for points ${shapeText(points.shape)}.`);
  if (!Number.isInteger(k) || k < 1 || k > P) throw new ShapeError(`nearestNeighbours: groups of ${k} points cannot be taken from ${P} points (1 … ${P}).`);
  const G = centres.shape[1]!;
  const indices = Tensor.empty(points.ctx, [B, G, k], 'neighbour indices');
  nearestNeighboursInto(points.ctx, points, centres, indices, B, P, G, k);
  return indices;
}

/** points[indices] − centres: [B, G, K, 3]. */
export function gatherNeighbourhood(points: Tensor, indices: Tensor, centres: Tensor): Tensor {
  const [B, P] = cloudDims(points, 'gatherNeighbourhood');
  if (indices.rank !== 3 || indices.shape[0] !== B) throw new ShapeError(`gatherNeighbourhood: indices ${shapeText(indices.shape)} must be [${B}, G, K].`);
  const [, G, K] = indices.shape as [number, number, number];
  if (centres.rank !== 3 || centres.shape[0] !== B || centres.shape[1] !== G || centres.shape[2] !== 3) {
    throw new ShapeError(`gatherNeighbourhood: centres ${shapeText(centres.shape)} must be [${B}, ${G}, 3] for indices ${shapeText(indices.shape)}.`);
  }
  const out = Tensor.empty(points.ctx, [B, G, K, 3], 'neighbourhoods');
  gatherNeighbourhoodInto(points.ctx, points, indices, centres, out, B, P, G, K);
  return out;
}

export interface PointGroups {
  /** Each group's K neighbours relative to its centre, nearest first: [B, G, K, 3]. */
  neighbourhood: Tensor;
  /** [B, G, 3]. */
  centres: Tensor;
}

/** §4's grouping: G centres by farthest point sampling, each with its K nearest points minus the centre. */
export function groupPoints(points: Tensor, groups: number, groupSize: number): PointGroups {
  const { indices, centres } = farthestPointSample(points, groups);
  const neighbours = nearestNeighbours(points, centres, groupSize);
  const neighbourhood = gatherNeighbourhood(points, neighbours, centres);
  // Work recorded later that reuses these buffers runs after the gather.
  indices.dispose();
  neighbours.dispose();
  return { neighbourhood, centres };
}

/** The u32 values of an index tensor. */
export async function readIndices(indices: Tensor): Promise<Uint32Array> {
  const raw = await indices.ctx.read(indices);
  return new Uint32Array(raw.buffer, 0, indices.size);
}
