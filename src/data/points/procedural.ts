// Procedural point clouds for pretraining a small point backbone offline: each sample is one of the shape
// classes of shapes.ts with seeded proportions, deformed (per-axis scale, taper, bend, a random rotation),
// sampled on its surface (area weighted), sometimes cut to a partial view (the points on one side of a random
// plane removed, as a single scan sees an object), jittered, brought to P points by farthest point
// sampling and normalised into the unit sphere. Sample i depends only on (seed, i), so any slice of a data
// set can be made on its own, and a data set of any size costs no disk.
import { Rng } from '../../train/rng';
import type { Dataset } from '../dataset';
import { MeshBuilder } from './mesh';
import { normalizeInPlace } from './normalize';
import { resampleTo } from './resample';
import { SHAPE_CLASSES, SHAPES, type Mesh } from './shapes';

export interface ProceduralOptions {
  /** P, points per cloud. */
  points: number;
  seed: number;
  /** Class names from SHAPE_CLASSES (default all). */
  classes?: readonly string[];
  /** Share of samples cut to a partial view (default 0.3). */
  partialShare?: number;
  /** Largest jitter standard deviation (default 0.015; each cloud draws its own in [0, this]). */
  maxNoise?: number;
}

/** The per-sample RNG seed: the data set's seed and the sample's index, mixed (splitmix-style). */
function sampleSeed(seed: number, index: number): number {
  let h = (seed ^ Math.imul(index + 1, 0x9e3779b1)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

function deform(mesh: Mesh, rng: Rng): void {
  const scale = [rng.uniform(0.8, 1.25), rng.uniform(0.8, 1.25), rng.uniform(0.8, 1.25)];
  const taper = rng.uniform(-0.3, 0.3);
  const bend = rng.uniform(-0.25, 0.25);
  // A uniformly random rotation from a random unit quaternion.
  const [u1, u2, u3] = [rng.next(), rng.next(), rng.next()];
  const q = [Math.sqrt(1 - u1) * Math.sin(2 * Math.PI * u2), Math.sqrt(1 - u1) * Math.cos(2 * Math.PI * u2), Math.sqrt(u1) * Math.sin(2 * Math.PI * u3), Math.sqrt(u1) * Math.cos(2 * Math.PI * u3)];
  const [x, y, z, w] = q as [number, number, number, number];
  const r = [
    1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w),
    2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w),
    2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y),
  ];
  const v = mesh.vertices;
  for (let i = 0; i < v.length; i += 3) {
    let [px, py, pz] = [v[i]! * scale[0]!, v[i + 1]! * scale[1]!, v[i + 2]! * scale[2]!];
    const t = 1 + taper * py;
    px *= t;
    pz *= t;
    px += bend * py * py;
    v[i] = r[0]! * px + r[1]! * py + r[2]! * pz;
    v[i + 1] = r[3]! * px + r[4]! * py + r[5]! * pz;
    v[i + 2] = r[6]! * px + r[7]! * py + r[8]! * pz;
  }
}

/** Keeps the `keep` share of points lowest along a random direction (a view from one side). */
function partialView(points: Float32Array, n: number, keep: number, rng: Rng): { points: Float32Array; count: number } {
  const d = [rng.normal(), rng.normal(), rng.normal()];
  const along = Array.from({ length: n }, (_, i) => points[i * 3]! * d[0]! + points[i * 3 + 1]! * d[1]! + points[i * 3 + 2]! * d[2]!);
  const order = along.map((_, i) => i).sort((a, b) => along[a]! - along[b]!);
  const count = Math.max(1, Math.floor(n * keep));
  const out = new Float32Array(count * 3);
  // Kept in file order (by index), so farthest point sampling starts from the same kind of point as elsewhere.
  order.slice(0, count).sort((a, b) => a - b).forEach((index, k) => out.set(points.subarray(index * 3, index * 3 + 3), k * 3));
  return { points: out, count };
}

/** One procedural cloud [P, 3] of class `className`, from `seed`. */
export function proceduralCloud(className: string, points: number, seed: number, opts: Pick<ProceduralOptions, 'partialShare' | 'maxNoise'> = {}): Float32Array<ArrayBuffer> {
  const make = SHAPES[className];
  if (!make) throw new RangeError(`There is no procedural shape "${className}"; the shapes are ${SHAPE_CLASSES.join(', ')}.`);
  const rng = new Rng(seed);
  const mesh = make(rng);
  deform(mesh, rng);
  const builder = new MeshBuilder(`The procedural ${className}`);
  for (let i = 0; i < mesh.vertices.length; i += 3) builder.addVertex(mesh.vertices[i]!, mesh.vertices[i + 1]!, mesh.vertices[i + 2]!);
  for (let i = 0; i < mesh.triangles.length; i += 3) builder.addPolygon([mesh.triangles[i]!, mesh.triangles[i + 1]!, mesh.triangles[i + 2]!]);
  // Twice P on the surface: enough for a partial view that keeps 60 % and still leaves more than P.
  let sampled: { points: Float32Array; count: number } = builder.sample(2 * points, rng.fork());
  if (rng.next() < (opts.partialShare ?? 0.3)) sampled = partialView(sampled.points, sampled.count, rng.uniform(0.6, 0.9), rng);
  const noise = rng.uniform(0, opts.maxNoise ?? 0.015);
  for (let i = 0; i < sampled.count * 3; i++) sampled.points[i] = sampled.points[i]! + noise * rng.normal();
  const { points: cloud } = resampleTo(sampled.points, sampled.count, points);
  normalizeInPlace(cloud, points);
  return cloud;
}

/** Samples `start` … `start + count − 1` of the procedural data set: labels cycle through the classes. */
export function* proceduralClouds(count: number, opts: ProceduralOptions, start = 0): Generator<{ index: number; label: number; points: Float32Array<ArrayBuffer> }> {
  const classes = opts.classes ?? SHAPE_CLASSES;
  for (let index = start; index < start + count; index++) {
    const label = index % classes.length;
    yield { index, label, points: proceduralCloud(classes[label]!, opts.points, sampleSeed(opts.seed, index), opts) };
  }
}

/** A whole procedural data set in memory: `points` [count, P, 3], labels and class names. */
export function proceduralDataset(count: number, opts: ProceduralOptions): Dataset {
  const classes = [...(opts.classes ?? SHAPE_CLASSES)];
  const per = opts.points * 3;
  const inputs = new Float32Array(count * per);
  const labels = new Int32Array(count);
  for (const s of proceduralClouds(count, opts)) {
    inputs.set(s.points, s.index * per);
    labels[s.index] = s.label;
  }
  return { classes, sampleShape: [opts.points, 3], count, inputs, labels, skipped: [] };
}
