// Bringing a cloud to exactly P points: farthest point sampling when it has more (the first pick is point 0;
// each next one is the point farthest from those picked, ties to the lowest index — the rule clora-spec §4
// uses for grouping), or repeating its points in order when it has fewer.

export type Resampling = 'farthest' | 'repeated' | 'none';

/** Indices of `count` points picked by farthest point sampling from `points` [n, 3]. */
export function farthestPointIndices(points: Float32Array, n: number, count: number): Uint32Array {
  const picked = new Uint32Array(count);
  const nearest = new Float64Array(n).fill(Infinity);
  let current = 0;
  for (let k = 0; k < count; k++) {
    picked[k] = current;
    const cx = points[current * 3]!, cy = points[current * 3 + 1]!, cz = points[current * 3 + 2]!;
    let best = -1;
    let bestDistance = -Infinity;
    for (let i = 0; i < n; i++) {
      const dx = points[i * 3]! - cx, dy = points[i * 3 + 1]! - cy, dz = points[i * 3 + 2]! - cz;
      const d = dx * dx + dy * dy + dz * dz;
      const m = d < nearest[i]! ? (nearest[i] = d) : nearest[i]!;
      if (m > bestDistance) {
        bestDistance = m;
        best = i;
      }
    }
    current = best;
  }
  return picked;
}

/** The cloud [n, 3] as exactly `target` points, and which way it got there. */
export function resampleTo(points: Float32Array, n: number, target: number): { points: Float32Array<ArrayBuffer>; how: Resampling } {
  const out = new Float32Array(target * 3);
  if (n === target) {
    out.set(points.subarray(0, n * 3));
    return { points: out, how: 'none' };
  }
  if (n > target) {
    const picked = farthestPointIndices(points, n, target);
    picked.forEach((index, k) => out.set(points.subarray(index * 3, index * 3 + 3), k * 3));
    return { points: out, how: 'farthest' };
  }
  for (let k = 0; k < target; k++) out.set(points.subarray((k % n) * 3, (k % n) * 3 + 3), k * 3);
  return { points: out, how: 'repeated' };
}
