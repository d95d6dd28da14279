// The view of a point cloud on a flat canvas: turn it about the up axis (yaw), then tilt it towards the
// viewer (pitch), and drop the depth axis (an orthographic projection). Points are drawn far to near, so
// nearer ones cover farther ones; depth also shades them.

export interface ProjectedCloud {
  /** Screen coordinates in [−1, 1], y up, per point. */
  x: Float32Array;
  y: Float32Array;
  /** Towards the viewer in [−1, 1] for a cloud in the unit sphere (larger is nearer). */
  depth: Float32Array;
  /** Point indices from farthest to nearest: the order to draw them in. */
  order: Uint32Array;
}

/**
 * Projects a cloud [n, 3] (x right, y up, z towards the viewer at yaw = pitch = 0) seen after turning it by
 * `yaw` about y and then by `pitch` about x (radians; a positive pitch shows more of its top).
 */
export function projectCloud(points: Float32Array, yaw: number, pitch: number): ProjectedCloud {
  const n = Math.floor(points.length / 3);
  const cy = Math.cos(yaw), sy = Math.sin(yaw);
  const cp = Math.cos(pitch), sp = Math.sin(pitch);
  const x = new Float32Array(n);
  const y = new Float32Array(n);
  const depth = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const px = points[i * 3]!, py = points[i * 3 + 1]!, pz = points[i * 3 + 2]!;
    // About y: x' = x·cos + z·sin, z' = −x·sin + z·cos.
    const x1 = px * cy + pz * sy;
    const z1 = -px * sy + pz * cy;
    // About x, top towards the viewer: y' = y·cos − z·sin, z'' = y·sin + z·cos.
    x[i] = x1;
    y[i] = py * cp - z1 * sp;
    depth[i] = py * sp + z1 * cp;
  }
  const order = Uint32Array.from({ length: n }, (_, i) => i).sort((a, b) => depth[a]! - depth[b]!);
  return { x, y, depth, order };
}
