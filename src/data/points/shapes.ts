// Procedural shapes as triangle meshes, each about unit size around the origin, with seeded proportions:
// the geometric classes the project pretrains its small point backbone on (procedural.ts samples, deforms
// and crops them). They are abstract solids and surfaces — no furniture or everyday objects — so the
// sample downstream task (furniture) is one the backbone never saw.
import type { Rng } from '../../train/rng';

export interface Mesh {
  /** [x, y, z, x, y, z, …] */
  vertices: number[];
  /** Triangles as vertex-index triples. */
  triangles: number[];
}

type Vec = [number, number, number];

/** A grid over (u, v) ∈ [0, 1]², triangulated; `wrapU` joins the u = 1 edge to u = 0. */
function parametric(mesh: Mesh, nu: number, nv: number, wrapU: boolean, at: (u: number, v: number) => Vec): void {
  const base = mesh.vertices.length / 3;
  const columns = wrapU ? nu : nu + 1;
  for (let j = 0; j <= nv; j++) for (let i = 0; i < columns; i++) mesh.vertices.push(...at(i / nu, j / nv));
  for (let j = 0; j < nv; j++) {
    for (let i = 0; i < nu; i++) {
      const i1 = wrapU ? (i + 1) % nu : i + 1;
      const a = base + j * columns + i, b = base + j * columns + i1;
      const c = base + (j + 1) * columns + i, d = base + (j + 1) * columns + i1;
      mesh.triangles.push(a, b, d, a, d, c);
    }
  }
}

function polygonFaces(mesh: Mesh, points: Vec[], faces: number[][]): void {
  const base = mesh.vertices.length / 3;
  for (const p of points) mesh.vertices.push(...p);
  for (const f of faces) for (let k = 1; k + 1 < f.length; k++) mesh.triangles.push(base + f[0]!, base + f[k]!, base + f[k + 1]!);
}

/** A disc of radius r at height y (a cap). */
function disc(mesh: Mesh, r: number, y: number): void {
  parametric(mesh, 24, 4, true, (u, v) => [r * v * Math.cos(2 * Math.PI * u), y, r * v * Math.sin(2 * Math.PI * u)]);
}

/** A tube of radius r around a closed or open curve c(t), t ∈ [0, 1]. */
function tube(mesh: Mesh, r: number, segments: number, curve: (t: number) => Vec): void {
  const frame = (t: number): [Vec, Vec, Vec] => {
    const e = 1e-4;
    const p = curve(t);
    const q = curve(Math.min(1, t + e));
    const o = curve(Math.max(0, t - e));
    const tangent = normalize([q[0] - o[0], q[1] - o[1], q[2] - o[2]]);
    const helper: Vec = Math.abs(tangent[1]) < 0.9 ? [0, 1, 0] : [1, 0, 0];
    const n = normalize(cross(tangent, helper));
    return [p, n, cross(tangent, n)];
  };
  parametric(mesh, 12, segments, true, (u, v) => {
    const [p, n, b] = frame(v);
    const a = 2 * Math.PI * u;
    return [p[0] + r * (Math.cos(a) * n[0] + Math.sin(a) * b[0]), p[1] + r * (Math.cos(a) * n[1] + Math.sin(a) * b[1]), p[2] + r * (Math.cos(a) * n[2] + Math.sin(a) * b[2])];
  });
}

function cross(a: Vec, b: Vec): Vec {
  return [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];
}

function normalize(a: Vec): Vec {
  const l = Math.hypot(...a) || 1;
  return [a[0] / l, a[1] / l, a[2] / l];
}

const TAU = 2 * Math.PI;

/** Each class: a mesh from a seeded RNG (the seed decides its proportions). */
export const SHAPES: Readonly<Record<string, (rng: Rng) => Mesh>> = {
  sphere: () => {
    const m: Mesh = { vertices: [], triangles: [] };
    parametric(m, 32, 16, true, (u, v) => [Math.cos(TAU * u) * Math.sin(Math.PI * v), Math.cos(Math.PI * v), Math.sin(TAU * u) * Math.sin(Math.PI * v)]);
    return m;
  },
  ellipsoid: (rng) => {
    const m: Mesh = { vertices: [], triangles: [] };
    const [b, c] = [rng.uniform(0.45, 0.7), rng.uniform(0.2, 0.4)];
    parametric(m, 32, 16, true, (u, v) => [Math.cos(TAU * u) * Math.sin(Math.PI * v), b * Math.cos(Math.PI * v), c * Math.sin(TAU * u) * Math.sin(Math.PI * v)]);
    return m;
  },
  box: (rng) => {
    const [x, y, z] = [rng.uniform(0.4, 1), rng.uniform(0.4, 1), rng.uniform(0.4, 1)];
    const m: Mesh = { vertices: [], triangles: [] };
    const p: Vec[] = [];
    for (const sx of [-x, x]) for (const sy of [-y, y]) for (const sz of [-z, z]) p.push([sx, sy, sz]);
    polygonFaces(m, p, [[0, 1, 3, 2], [4, 6, 7, 5], [0, 4, 5, 1], [2, 3, 7, 6], [0, 2, 6, 4], [1, 5, 7, 3]]);
    return m;
  },
  cylinder: (rng) => {
    const [r, h] = [rng.uniform(0.3, 0.8), rng.uniform(0.6, 1.2)];
    const m: Mesh = { vertices: [], triangles: [] };
    parametric(m, 32, 8, true, (u, v) => [r * Math.cos(TAU * u), h * (2 * v - 1), r * Math.sin(TAU * u)]);
    disc(m, r, -h);
    disc(m, r, h);
    return m;
  },
  cone: (rng) => {
    const [r, h] = [rng.uniform(0.4, 0.9), rng.uniform(0.7, 1.3)];
    const m: Mesh = { vertices: [], triangles: [] };
    parametric(m, 32, 8, true, (u, v) => [r * (1 - v) * Math.cos(TAU * u), -h + 2 * h * v, r * (1 - v) * Math.sin(TAU * u)]);
    disc(m, r, -h);
    return m;
  },
  torus: (rng) => {
    const r = rng.uniform(0.15, 0.45);
    const m: Mesh = { vertices: [], triangles: [] };
    parametric(m, 40, 16, true, (u, v) => {
      const w = 1 + r * Math.cos(TAU * v);
      return [w * Math.cos(TAU * u), r * Math.sin(TAU * v), w * Math.sin(TAU * u)];
    });
    return m;
  },
  helix: (rng) => {
    const [turns, r, pitch] = [rng.uniform(2, 4), rng.uniform(0.06, 0.14), rng.uniform(0.25, 0.45)];
    const m: Mesh = { vertices: [], triangles: [] };
    tube(m, r, 96, (t) => [0.7 * Math.cos(TAU * turns * t), pitch * turns * (t - 0.5), 0.7 * Math.sin(TAU * turns * t)]);
    return m;
  },
  pyramid: (rng) => {
    const [a, h] = [rng.uniform(0.5, 1), rng.uniform(0.6, 1.4)];
    const m: Mesh = { vertices: [], triangles: [] };
    polygonFaces(m, [[-a, 0, -a], [a, 0, -a], [a, 0, a], [-a, 0, a], [0, h, 0]], [[0, 1, 2, 3], [0, 4, 1], [1, 4, 2], [2, 4, 3], [3, 4, 0]]);
    return m;
  },
  capsule: (rng) => {
    const [r, h] = [rng.uniform(0.25, 0.45), rng.uniform(0.4, 0.9)];
    const m: Mesh = { vertices: [], triangles: [] };
    parametric(m, 32, 8, true, (u, v) => [r * Math.cos(TAU * u), h * (2 * v - 1), r * Math.sin(TAU * u)]);
    for (const side of [-1, 1]) {
      parametric(m, 32, 8, true, (u, v) => [r * Math.cos(TAU * u) * Math.cos((Math.PI / 2) * v), side * (h + r * Math.sin((Math.PI / 2) * v)), r * Math.sin(TAU * u) * Math.cos((Math.PI / 2) * v)]);
    }
    return m;
  },
  tetrahedron: () => {
    const m: Mesh = { vertices: [], triangles: [] };
    polygonFaces(m, [[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]], [[0, 1, 2], [0, 3, 1], [0, 2, 3], [1, 3, 2]]);
    return m;
  },
  octahedron: () => {
    const m: Mesh = { vertices: [], triangles: [] };
    polygonFaces(m, [[1, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1], [0, 0, -1]], [[0, 2, 4], [2, 1, 4], [1, 3, 4], [3, 0, 4], [2, 0, 5], [1, 2, 5], [3, 1, 5], [0, 3, 5]]);
    return m;
  },
  prism: (rng) => {
    const l = rng.uniform(0.8, 1.6);
    const m: Mesh = { vertices: [], triangles: [] };
    const tri: [number, number][] = [[0, 0.6], [-0.52, -0.3], [0.52, -0.3]];
    const p: Vec[] = [...tri.map(([x, y]): Vec => [x, y, -l / 2]), ...tri.map(([x, y]): Vec => [x, y, l / 2])];
    polygonFaces(m, p, [[0, 2, 1], [3, 4, 5], [0, 1, 4, 3], [1, 2, 5, 4], [2, 0, 3, 5]]);
    return m;
  },
  knot: (rng) => {
    const r = rng.uniform(0.08, 0.16);
    const m: Mesh = { vertices: [], triangles: [] };
    tube(m, r, 160, (t) => {
      const a = TAU * t;
      return [(Math.sin(a) + 2 * Math.sin(2 * a)) / 3, -Math.sin(3 * a) / 3, (Math.cos(a) - 2 * Math.cos(2 * a)) / 3];
    });
    return m;
  },
  bowl: (rng) => {
    const depth = rng.uniform(0.3, 1);
    const m: Mesh = { vertices: [], triangles: [] };
    parametric(m, 32, 10, true, (u, v) => [Math.cos(TAU * u) * Math.sin((Math.PI / 2) * v), -depth * Math.cos((Math.PI / 2) * v), Math.sin(TAU * u) * Math.sin((Math.PI / 2) * v)]);
    return m;
  },
  saddle: (rng) => {
    const k = rng.uniform(0.3, 0.8);
    const m: Mesh = { vertices: [], triangles: [] };
    parametric(m, 16, 16, false, (u, v) => {
      const [x, z] = [2 * u - 1, 2 * v - 1];
      return [x, k * (x * x - z * z), z];
    });
    return m;
  },
  mobius: (rng) => {
    const w = rng.uniform(0.2, 0.45);
    const m: Mesh = { vertices: [], triangles: [] };
    parametric(m, 48, 4, false, (u, v) => {
      const a = TAU * u;
      const s = w * (2 * v - 1);
      return [(1 + s * Math.cos(a / 2)) * Math.cos(a), s * Math.sin(a / 2), (1 + s * Math.cos(a / 2)) * Math.sin(a)];
    });
    return m;
  },
};

export const SHAPE_CLASSES: readonly string[] = Object.keys(SHAPES);
