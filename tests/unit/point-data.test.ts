// From point files to model input: normalisation, resampling to P (farthest point sampling, repetition),
// the Node folder and tensor-file loaders, Point-MAE's augmentations, and the f16 .npy writer.
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Dataset } from '../../src/data/dataset';
import { augmentPointsInto, JITTER_CLIP, SCALE_RANGE, TRANSLATE_RANGE } from '../../src/data/points/augment';
import { loadPointCloud } from '../../src/data/points/load-cloud';
import { loadPointFolderDataset, loadPointTensorDataset } from '../../src/data/points/load-node';
import { normalizeInPlace } from '../../src/data/points/normalize';
import { readPointFile } from '../../src/data/points/read';
import { farthestPointIndices, resampleTo } from '../../src/data/points/resample';
import { pointTensorFileParts } from '../../src/data/points/tensor-file';
import { bytesSource } from '../../src/io/safetensors';
import { Rng } from '../../src/train/rng';
import { asciiPly, binaryPly, npyBytes, objText, offText, textSource, xyzLines } from '../helpers/point-files';

const scratch = mkdtempSync(join(tmpdir(), 'clora-points-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function randomCloud(n: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: n * 3 }, () => rng.uniform(-3, 5));
}

function radiusAndCentroid(points: Float32Array, n: number): { radius: number; centroid: number[] } {
  const c = [0, 0, 0];
  for (let i = 0; i < n * 3; i++) c[i % 3]! += points[i]! / n;
  let radius = 0;
  for (let i = 0; i < n; i++) radius = Math.max(radius, Math.hypot(points[i * 3]!, points[i * 3 + 1]!, points[i * 3 + 2]!));
  return { radius, centroid: c };
}

describe('normalisation and resampling', () => {
  it('centres on the centroid and scales the farthest point onto the unit sphere', () => {
    const points = randomCloud(37, 1);
    normalizeInPlace(points, 37);
    const { radius, centroid } = radiusAndCentroid(points, 37);
    expect(Math.abs(radius - 1)).toBeLessThan(1e-6);
    for (const c of centroid) expect(Math.abs(c)).toBeLessThan(1e-6);
    expect(() => normalizeInPlace(new Float32Array([1, 2, 3, 1, 2, 3]), 2, '"same.xyz"')).toThrow('"same.xyz" has all its points at one place');
  });

  it('picks farthest points from point 0, ties to the lowest index (against a brute-force reference)', () => {
    const n = 53;
    const points = randomCloud(n, 2);
    // Duplicates make ties: the lowest index must win.
    points.set(points.subarray(9, 12), 30);
    const reference = (count: number): number[] => {
      const picked = [0];
      while (picked.length < count) {
        let best = -1;
        let bestD = -1;
        for (let i = 0; i < n; i++) {
          const d = Math.min(...picked.map((j) => (points[i * 3]! - points[j * 3]!) ** 2 + (points[i * 3 + 1]! - points[j * 3 + 1]!) ** 2 + (points[i * 3 + 2]! - points[j * 3 + 2]!) ** 2));
          if (d > bestD) {
            bestD = d;
            best = i;
          }
        }
        picked.push(best);
      }
      return picked;
    };
    expect([...farthestPointIndices(points, n, 17)]).toEqual(reference(17));
    const square = new Float32Array([0, 0, 0, 1, 0, 0, 0, 1, 0, 1, 1, 0]);
    expect([...farthestPointIndices(square, 4, 3)]).toEqual([0, 3, 1]);
  });

  it('brings a cloud to exactly P points, saying how', () => {
    const points = randomCloud(10, 3);
    expect(resampleTo(points, 10, 4).how).toBe('farthest');
    const repeated = resampleTo(points, 10, 23);
    expect(repeated.how).toBe('repeated');
    expect([...repeated.points.subarray(20 * 3, 21 * 3)]).toEqual([...points.subarray(0, 3)]);
    expect(resampleTo(points, 10, 10)).toEqual({ points, how: 'none' });
  });

  it('loads a file as P normalised points with a note on what happened', async () => {
    const square = [[0, 0, 0], [2, 0, 0], [2, 2, 0], [0, 2, 0]];
    const mesh = await loadPointCloud(textSource(objText(square, ['1 2 3 4']), 'sq.obj'), { points: 64, seed: 1 });
    expect(mesh).toMatchObject({ origin: 'mesh', resampling: 'farthest', note: "512 points sampled on the mesh's faces, farthest point sampling to 64." });
    expect(mesh.points.length).toBe(64 * 3);
    const few = await loadPointCloud(textSource(xyzLines([[0, 0, 1], [0, 1, 0], [1, 0, 0]]), 'few.xyz'), { points: 8, seed: 1 });
    expect(few.note).toBe('3 points, fewer than 8: points repeated to make 8.');
    const { radius, centroid } = radiusAndCentroid(few.points, 8);
    expect(Math.abs(radius - 1)).toBeLessThan(1e-6);
    for (const c of centroid) expect(Math.abs(c)).toBeLessThan(1e-6);
    const many = Array.from({ length: 3000 }, (_, i) => [Math.cos(i), Math.sin(i), i / 3000]);
    const scan = await loadPointCloud(textSource(xyzLines(many), 'scan.xyz'), { points: 100, seed: 1, maxPoints: 1000 });
    expect(scan.note).toBe('3,000 points, 1,000 kept at random while reading, farthest point sampling to 100.');
  });
});

describe('the Node loaders', () => {
  it('reads a folder of class folders in every format, skipping unusable files with the reason', async () => {
    const dir = join(scratch, 'folder');
    const ring = (k: number, n: number, z = 0): number[][] => Array.from({ length: n }, (_, i) => [Math.cos((i * 2 * Math.PI) / n) * k, Math.sin((i * 2 * Math.PI) / n) * k, z + i / n]);
    const files: Record<string, string | Uint8Array> = {
      'cube/a.ply': asciiPly(ring(1, 40)),
      'cube/b.ply': binaryPly(ring(2, 50)),
      'cube/c.npy': npyBytes(ring(3, 30)),
      'cube/broken.ply': binaryPly(ring(1, 40), { truncateBy: 7 }),
      'cube/.hidden': 'x',
      'cone/d.xyz': xyzLines(ring(1, 20, 1)),
      'cone/e.obj': objText([[0, 0, 0], [1, 0, 0], [0, 1, 0]], ['1 2 3']),
      'cone/f.off': offText([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]], [[0, 1, 2], [0, 1, 3]]),
      'cone/empty.pts': '',
      'cone/readme.md': 'not points',
    };
    for (const [name, content] of Object.entries(files)) {
      mkdirSync(join(dir, name, '..'), { recursive: true });
      writeFileSync(join(dir, name), content);
    }
    const data = await loadPointFolderDataset(dir, { points: 32, seed: 4 });
    expect(data.classes).toEqual(['cone', 'cube']);
    expect(data.sampleShape).toEqual([32, 3]);
    expect(data.count).toBe(6);
    expect([...data.labels]).toEqual([0, 0, 0, 1, 1, 1]);
    expect(data.inputs.length).toBe(6 * 32 * 3);
    expect(data.skipped.map((s) => [s.file.slice(dir.length + 1), s.reason.split(':')[0]])).toEqual([
      ['cone/empty.pts', '"empty.pts" is empty (0 bytes)'],
      ['cone/readme.md', '"readme.md" is not a point-cloud file this app reads'],
      ['cube/broken.ply', '"broken.ply" ends early'],
    ]);
    expect(data.notes.map((n) => n.note)).toEqual([
      '20 points, fewer than 32: points repeated to make 32.',
      "256 points sampled on the mesh's faces, farthest point sampling to 32.",
      "256 points sampled on the mesh's faces, farthest point sampling to 32.",
      '40 points, farthest point sampling to 32.',
      '50 points, farthest point sampling to 32.',
      '30 points, fewer than 32: points repeated to make 32.',
    ]);
    // Seeded by file name: the same folder loads to the same clouds.
    expect((await loadPointFolderDataset(dir, { points: 32, seed: 4 })).inputs).toEqual(data.inputs);
    expect((await loadPointFolderDataset(dir, { points: 32, seed: 5 })).inputs).not.toEqual(data.inputs);
  });

  it('writes and reads a points tensor file', async () => {
    const points = randomCloud(3 * 16, 6);
    const data = { classes: ['a', 'b'], sampleShape: [16, 3], count: 3, inputs: points, labels: Int32Array.from([1, 0, 1]) };
    const path = join(scratch, 'points.safetensors');
    writeFileSync(path, Buffer.concat(pointTensorFileParts(data, { source: 'test' })));
    const back = await loadPointTensorDataset(path);
    expect(back).toMatchObject({ classes: ['a', 'b'], sampleShape: [16, 3], count: 3 });
    expect(back.inputs).toEqual(points);
    expect([...back.labels]).toEqual([1, 0, 1]);
    const bad = points.slice();
    bad[40] = NaN;
    writeFileSync(path, Buffer.concat(pointTensorFileParts({ ...data, inputs: bad })));
    await expect(loadPointTensorDataset(path)).rejects.toThrow(/cloud 0 holds a coordinate that is not a finite number \(NaN\)/);
  });
});

describe('augmentation', () => {
  const p = 20;
  const data: Dataset = { classes: ['a', 'b'], sampleShape: [p, 3], count: 4, inputs: randomCloud(4 * p, 7), labels: Int32Array.from([0, 1, 1, 0]), skipped: [] };
  const original = (data.inputs as Float32Array).slice();
  const indices = [3, 1, 2];

  it('scales each axis by U(2/3, 3/2) and translates it by U(−0.2, 0.2), per cloud, seeded', () => {
    const out = new Float32Array(3 * p * 3);
    const labels = new Float32Array(3);
    augmentPointsInto(data, indices, out, labels, new Rng(1), { scaleAndTranslate: true, rotate: false, jitter: false });
    expect([...labels]).toEqual([0, 1, 1]);
    indices.forEach((index, k) => {
      for (let axis = 0; axis < 3; axis++) {
        // An affine map per axis: recover it from two points and check every other point follows it.
        const a = (i: number): number => original[(index * p + i) * 3 + axis]!;
        const b = (i: number): number => out[(k * p + i) * 3 + axis]!;
        const scale = (b(1) - b(0)) / (a(1) - a(0));
        const shift = b(0) - scale * a(0);
        expect(scale).toBeGreaterThanOrEqual(SCALE_RANGE[0] - 1e-5);
        expect(scale).toBeLessThanOrEqual(SCALE_RANGE[1] + 1e-5);
        expect(Math.abs(shift)).toBeLessThanOrEqual(TRANSLATE_RANGE + 1e-5);
        for (let i = 2; i < p; i++) expect(Math.abs(b(i) - (scale * a(i) + shift))).toBeLessThan(1e-4);
      }
    });
    expect(data.inputs).toEqual(original);
    const again = new Float32Array(out.length);
    augmentPointsInto(data, indices, again, labels, new Rng(1), { scaleAndTranslate: true, rotate: false, jitter: false });
    expect(again).toEqual(out);
  });

  it('rotates about the up axis y (lengths in xz and y kept) and jitters within ±0.05', () => {
    const rotated = new Float32Array(3 * p * 3);
    const labels = new Float32Array(3);
    augmentPointsInto(data, indices, rotated, labels, new Rng(2), { scaleAndTranslate: false, rotate: true, jitter: false });
    indices.forEach((index, k) => {
      for (let i = 0; i < p; i++) {
        const [x, y, z] = original.subarray((index * p + i) * 3, (index * p + i) * 3 + 3);
        const [rx, ry, rz] = rotated.subarray((k * p + i) * 3, (k * p + i) * 3 + 3);
        expect(ry).toBe(y);
        expect(Math.abs(Math.hypot(rx!, rz!) - Math.hypot(x!, z!))).toBeLessThan(1e-5);
      }
    });
    expect(rotated.subarray(0, 3)).not.toEqual(original.subarray(3 * p * 3, 3 * p * 3 + 3));
    const jittered = new Float32Array(3 * p * 3);
    augmentPointsInto(data, indices, jittered, labels, new Rng(3), { scaleAndTranslate: false, rotate: false, jitter: true });
    let moved = 0;
    indices.forEach((index, k) => {
      for (let j = 0; j < p * 3; j++) {
        const d = jittered[k * p * 3 + j]! - original[index * p * 3 + j]!;
        expect(Math.abs(d)).toBeLessThanOrEqual(JITTER_CLIP + 1e-6);
        moved += d !== 0 ? 1 : 0;
      }
    });
    expect(moved).toBeGreaterThan(p * 3 * 3 - 3);
  });

  it('refuses image data', () => {
    const images: Dataset = { ...data, sampleShape: [3, 4, 5] };
    expect(() => augmentPointsInto(images, [0], new Float32Array(60), new Float32Array(1), new Rng(1), { scaleAndTranslate: true, rotate: false, jitter: false })).toThrow(/shape \[P, 3\].*\[3, 4, 5\]/);
  });
});

describe('the .npy writer', () => {
  it('writes float16 that the reader reads back (values rounded to half precision)', async () => {
    const cloud = await readPointFile(bytesSource(npyBytes([[0.1, 0.5, 1], [-1, 1 / 3, 0.125]], 'f2'), 'h.npy'), { maxPoints: 10, seed: 0 });
    expect([...cloud.points]).toEqual([0.0999755859375, 0.5, 1, -1, 0.333251953125, 0.125]);
  });
});
