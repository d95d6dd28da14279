// Point-MAE's normalisation: subtract the centroid (the mean point), then divide by the largest distance
// from it, so the cloud sits in the unit sphere centred on the origin (the farthest point on its surface).
import { PointCloudError } from './cloud';

/** Normalises `points` [n, 3] in place; a cloud whose points all coincide is refused (it has no shape). */
export function normalizeInPlace(points: Float32Array, n: number, file = 'The cloud'): void {
  let sx = 0, sy = 0, sz = 0;
  for (let i = 0; i < n; i++) {
    sx += points[i * 3]!;
    sy += points[i * 3 + 1]!;
    sz += points[i * 3 + 2]!;
  }
  const cx = sx / n, cy = sy / n, cz = sz / n;
  let radius = 0;
  for (let i = 0; i < n; i++) {
    const dx = points[i * 3]! - cx, dy = points[i * 3 + 1]! - cy, dz = points[i * 3 + 2]! - cz;
    radius = Math.max(radius, Math.sqrt(dx * dx + dy * dy + dz * dz));
  }
  if (!Number.isFinite(radius)) throw new PointCloudError(`${file} has coordinates too large to measure (beyond 1e154): scale the cloud down and add it again.`);
  if (!(radius > 0)) throw new PointCloudError(`${file} has all its points at one place, so it has no shape to learn from.`);
  for (let i = 0; i < n; i++) {
    points[i * 3] = (points[i * 3]! - cx) / radius;
    points[i * 3 + 1] = (points[i * 3 + 1]! - cy) / radius;
    points[i * 3 + 2] = (points[i * 3 + 2]! - cz) / radius;
  }
}
