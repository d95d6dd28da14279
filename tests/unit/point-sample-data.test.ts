// The offline point data: the procedural pretraining shapes (seeded, any sample made on its own) and the
// committed furniture sample set (public/samples/points), which every reader path must take as it is.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadPointFolderDataset } from '../../src/data/points/load-node';
import { proceduralCloud, proceduralClouds, proceduralDataset } from '../../src/data/points/procedural';
import { SHAPE_CLASSES, SHAPES } from '../../src/data/points/shapes';
import { Rng } from '../../src/train/rng';

const root = new URL('../../', import.meta.url).pathname;

function centroidAndRadius(points: Float32Array, p: number): { centroid: number[]; radius: number } {
  const c = [0, 0, 0];
  for (let i = 0; i < p * 3; i++) c[i % 3]! += points[i]! / p;
  let radius = 0;
  for (let i = 0; i < p; i++) radius = Math.max(radius, Math.hypot(points[i * 3]! - c[0]!, points[i * 3 + 1]! - c[1]!, points[i * 3 + 2]! - c[2]!));
  return { centroid: c, radius };
}

describe('procedural pretraining shapes', () => {
  it('every class is a mesh with surface, and the exact ones have their geometry', () => {
    expect(SHAPE_CLASSES.length).toBeGreaterThanOrEqual(12);
    for (const name of SHAPE_CLASSES) {
      const mesh = SHAPES[name]!(new Rng(1));
      expect(mesh.triangles.length % 3, name).toBe(0);
      expect(Math.max(...mesh.triangles), name).toBeLessThan(mesh.vertices.length / 3);
    }
    const sphere = SHAPES.sphere!(new Rng(1));
    for (let i = 0; i < sphere.vertices.length; i += 3) expect(Math.hypot(sphere.vertices[i]!, sphere.vertices[i + 1]!, sphere.vertices[i + 2]!)).toBeCloseTo(1, 9);
    const torus = SHAPES.torus!(new Rng(2));
    const tubeRadii = new Set<string>();
    for (let i = 0; i < torus.vertices.length; i += 3) {
      const [x, y, z] = [torus.vertices[i]!, torus.vertices[i + 1]!, torus.vertices[i + 2]!];
      tubeRadii.add((Math.hypot(Math.hypot(x, z) - 1, y)).toFixed(9));
    }
    expect(tubeRadii.size).toBe(1);
  });

  it('makes normalised clouds of P points, seeded, each sample independent of the others', () => {
    const opts = { points: 96, seed: 3 };
    const all = [...proceduralClouds(20, opts)];
    expect(all.map((s) => s.label)).toEqual(Array.from({ length: 20 }, (_, i) => i % SHAPE_CLASSES.length));
    for (const s of all) {
      expect(s.points.length).toBe(96 * 3);
      const { centroid, radius } = centroidAndRadius(s.points, 96);
      expect(Math.abs(radius - 1)).toBeLessThan(1e-5);
      for (const c of centroid) expect(Math.abs(c)).toBeLessThan(1e-5);
    }
    const [later] = [...proceduralClouds(1, opts, 17)];
    expect(later!.points).toEqual(all[17]!.points);
    expect(proceduralCloud('torus', 96, 5)).toEqual(proceduralCloud('torus', 96, 5));
    expect(proceduralCloud('torus', 96, 5)).not.toEqual(proceduralCloud('torus', 96, 6));
    const data = proceduralDataset(20, opts);
    expect(data).toMatchObject({ classes: [...SHAPE_CLASSES], sampleShape: [96, 3], count: 20 });
    expect(data.inputs.subarray(5 * 96 * 3, 6 * 96 * 3)).toEqual(all[5]!.points);
    expect(() => proceduralCloud('teapot', 8, 1)).toThrow(/no procedural shape "teapot"/);
  });

  it('cuts partial views: a cloud always cut is flatter on one side than the whole shape', () => {
    // A sphere seen whole has points in every direction; cut, its points leave a cap empty.
    const whole = proceduralCloud('sphere', 256, 9, { partialShare: 0, maxNoise: 0 });
    const cut = proceduralCloud('sphere', 256, 9, { partialShare: 1, maxNoise: 0 });
    const spread = (c: Float32Array): number => {
      // Largest angular gap seen from the centre, measured by the farthest empty direction among a few.
      let emptiest = 0;
      const rng = new Rng(4);
      for (let k = 0; k < 200; k++) {
        const d = [rng.normal(), rng.normal(), rng.normal()];
        const l = Math.hypot(...d);
        let best = -1;
        for (let i = 0; i < 256; i++) best = Math.max(best, (c[i * 3]! * d[0]! + c[i * 3 + 1]! * d[1]! + c[i * 3 + 2]! * d[2]!) / l / Math.hypot(c[i * 3]!, c[i * 3 + 1]!, c[i * 3 + 2]!));
        emptiest = Math.max(emptiest, 1 - best);
      }
      return emptiest;
    };
    expect(spread(cut)).toBeGreaterThan(3 * spread(whole));
  });
});

describe('the sample furniture data set', () => {
  const dir = join(root, 'public/samples/points');
  const index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8')) as { classes: string[]; files: Record<string, string[]>; models: Record<string, { name: string; creator: string; license: string }>; points: number };

  it('is small, licensed per model, and holds classes the pretraining never saw', () => {
    const sizes = (path: string): number => (statSync(path).isDirectory() ? readdirSync(path).reduce((n, f) => n + sizes(join(path, f)), 0) : statSync(path).size);
    expect(sizes(dir)).toBeLessThanOrEqual(1.5 * 1024 * 1024);
    expect(index.classes.length).toBeGreaterThanOrEqual(5);
    expect(index.classes.filter((c) => SHAPE_CLASSES.includes(c))).toEqual([]);
    const license = readFileSync(join(dir, 'LICENSE'), 'utf8');
    const listed = index.classes.flatMap((c) => index.files[c]!);
    for (const file of listed) {
      expect(license).toContain(`${file}: "${index.models[file]!.name}" by ${index.models[file]!.creator}`);
      expect(index.models[file]!.license).toMatch(/^CC0 1\.0|^CC BY 3\.0/);
    }
    // Every file on disk is in the index, and the other way round.
    const onDisk = index.classes.flatMap((c) => readdirSync(join(dir, c)).map((f) => `${c}/${f}`)).sort();
    expect(onDisk).toEqual([...listed].sort());
  });

  it('loads through the folder loader as it is: every cloud already P points, none skipped', async () => {
    const data = await loadPointFolderDataset(dir, { points: index.points, classNames: index.classes });
    expect(data.skipped).toEqual([]);
    expect(data.notes).toEqual([]);
    expect(data.count).toBe(index.classes.reduce((n, c) => n + index.files[c]!.length, 0));
    for (const [label, c] of index.classes.entries()) expect(data.labels.filter((l) => l === label).length).toBe(index.files[c]!.length);
    for (let k = 0; k < data.count; k += 17) {
      const { centroid, radius } = centroidAndRadius(data.inputs.subarray(k * index.points * 3, (k + 1) * index.points * 3) as Float32Array, index.points);
      expect(Math.abs(radius - 1)).toBeLessThan(1e-5);
      for (const c of centroid) expect(Math.abs(c)).toBeLessThan(1e-5);
    }
  });
});
