// The web app's point data, without a browser: clouds stored as 16-bit integers and read back, the packed
// clouds unpacked at the model's P points (the same P, or another backbone's), what is checked before a
// point file goes to the worker, the sentences for mixed kinds of data, the augmentation a point run asks
// for, and the projection the 3-D previews draw.
import { describe, expect, it } from 'vitest';
import { backboneTakes, dataKindProblem, mixedIntakeRefusal } from '../../src/app/data-kind';
import { runSettingsFrom } from '../../src/app/runs';
import { DEFAULT_UI_SETTINGS } from '../../src/app/state';
import { precheck } from '../../src/data/intake';
import { cloudSeedName, precheckPointFile, unpackClouds } from '../../src/data/point-samples';
import { normalizeInPlace } from '../../src/data/points/normalize';
import { dequantizeCloud, quantizeCloud, QUANT_SCALE, storedCloudBytes } from '../../src/data/points/quantize';
import { Rng } from '../../src/train/rng';
import { projectCloud } from '../../src/ui/point-projection';
import type { BackboneInfo, PackedClouds } from '../../src/worker/protocol';
import { asciiPly } from '../helpers/point-files';

/** A seeded cloud of n points, normalised (centred, in the unit sphere) as intake leaves it. */
function cloud(n: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  const points = Float32Array.from({ length: n * 3 }, () => rng.normal());
  normalizeInPlace(points, n);
  return points;
}

function pack(clouds: Float32Array[], labels: number[]): PackedClouds {
  const stored = clouds.map(quantizeCloud);
  const points = new Int16Array(stored.reduce((n, c) => n + c.length, 0));
  let offset = 0;
  for (const c of stored) {
    points.set(c, offset);
    offset += c.length;
  }
  return {
    kind: 'points',
    classes: ['a', 'b'],
    count: clouds.length,
    keys: clouds.map((_, i) => `c1/${String(i + 1).padStart(9, '0')}`),
    counts: Int32Array.from(clouds, (c) => c.length / 3),
    points,
    labels: Int32Array.from(labels),
    validation: new Uint8Array(clouds.length),
  };
}

const POINT_INFO: BackboneInfo = { kind: 'point', spec: 'p', label: 'Point-MAE test', depth: 2, dim: 24, heads: 3, parameters: 1, headClasses: [], fromCache: false, points: 48, groups: 8, groupSize: 8 };
const IMAGE_INFO: BackboneInfo = {
  kind: 'vit',
  spec: 'v',
  label: 'Bundled ViT',
  depth: 4,
  dim: 64,
  heads: 4,
  parameters: 1,
  headClasses: [],
  fromCache: false,
  imageSize: 28,
  preprocess: { size: 28, cropPct: 1, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] },
};

describe('stored point clouds', () => {
  it('quantise a normalised cloud to 16 bits and back within half a step (1/65534), six bytes a point', () => {
    const points = cloud(1000, 1);
    const stored = quantizeCloud(points);
    expect(stored).toBeInstanceOf(Int16Array);
    const back = dequantizeCloud(stored);
    let worst = 0;
    for (let i = 0; i < points.length; i++) worst = Math.max(worst, Math.abs(back[i]! - points[i]!));
    expect(worst).toBeLessThanOrEqual(0.5 / QUANT_SCALE + 1e-7);
    expect(storedCloudBytes(1024)).toBe(6144);
    expect(stored.byteLength).toBe(storedCloudBytes(1000));
    // The extremes of the unit sphere map to ±32767 (and nothing wraps around).
    expect(Array.from(quantizeCloud(Float32Array.of(1, -1, 1.00001)))).toEqual([32767, -32767, 32767]);
  });

  it('unpack the clouds a run picks, in its order, at the model P: as stored, or brought to P and normalised again', () => {
    const clouds = [cloud(48, 2), cloud(48, 3), cloud(100, 4), cloud(20, 5)];
    const packed = pack(clouds, [0, 1, 1, 0]);
    const same = unpackClouds(packed, [1, 0], 48);
    expect(same.sampleShape).toEqual([48, 3]);
    expect(Array.from(same.labels)).toEqual([1, 0]);
    const inputs = same.inputs as Float32Array;
    for (let i = 0; i < 48 * 3; i++) {
      expect(Math.abs(inputs[i]! - clouds[1]![i]!)).toBeLessThanOrEqual(0.5 / QUANT_SCALE + 1e-7);
      expect(Math.abs(inputs[48 * 3 + i]! - clouds[0]![i]!)).toBeLessThanOrEqual(0.5 / QUANT_SCALE + 1e-7);
    }
    // 100 stored points → 48 by farthest point sampling; 20 → 48 by repetition; both centred and in the unit sphere.
    const other = unpackClouds(packed, [2, 3], 48);
    expect(other.count).toBe(2);
    for (let k = 0; k < 2; k++) {
      const c = (other.inputs as Float32Array).subarray(k * 144, (k + 1) * 144);
      const centroid = [0, 1, 2].map((a) => c.filter((_, i) => i % 3 === a).reduce((s, v) => s + v, 0) / 48);
      for (const m of centroid) expect(Math.abs(m)).toBeLessThan(1e-6);
      let radius = 0;
      for (let i = 0; i < 48; i++) radius = Math.max(radius, Math.hypot(c[i * 3]!, c[i * 3 + 1]!, c[i * 3 + 2]!));
      expect(radius).toBeCloseTo(1, 5);
    }
  });

  it('a file is seeded by its class folder and name, wherever the folder was dropped from', () => {
    expect(cloudSeedName('my drive/shapes/chair/a.ply')).toBe('chair/a.ply');
    expect(cloudSeedName('chair/a.ply')).toBe('chair/a.ply');
    expect(cloudSeedName('a.ply')).toBe('a.ply');
  });
});

describe('what a point intake checks first', () => {
  const pngSignature = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52]);

  it('an empty file and an image are refused with a sentence; point files go on to the readers', async () => {
    expect(await precheckPointFile(new Blob([]))).toMatch(/^empty file \(0 bytes\)/);
    expect(await precheckPointFile(new Blob([pngSignature]))).toMatch(/^an image \(PNG\), but the loaded backbone takes point clouds and a data set holds one kind of sample/);
    expect(await precheckPointFile(new Blob([asciiPly([[0, 0, 0]])]))).toBeUndefined();
    expect(await precheckPointFile(new Blob(['1 2 3\n']))).toBeUndefined();
  });

  it('an image intake tells a point file from a file that is no image at all', async () => {
    expect(await precheck('shapes/chair/a.ply', new Blob([asciiPly([[0, 0, 0]])]))).toMatch(/^a point cloud \(\.ply\), but the loaded backbone takes images.*load a point backbone/);
    expect(await precheck('shapes/chair/a.npy', new Blob([new Uint8Array([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59])]))).toMatch(/^a point cloud \(\.npy\)/);
    // .txt is as often notes as points: it stays "not an image".
    expect(await precheck('animals/cat/notes.txt', new Blob(['hello']))).toBe('not an image (.txt): use PNG, JPEG, GIF, WebP or BMP files');
  });
});

describe('one kind of sample per data set', () => {
  it('says why point clouds cannot train on an image backbone (and the other way), that they stay saved, and what to do', () => {
    expect(backboneTakes(POINT_INFO)).toBe('points');
    expect(backboneTakes(IMAGE_INFO)).toBe('images');
    expect(backboneTakes(undefined)).toBe('images');
    expect(dataKindProblem({ kind: 'points', total: 162 }, POINT_INFO)).toBeUndefined();
    expect(dataKindProblem({ kind: undefined, total: 0 }, IMAGE_INFO)).toBeUndefined();
    expect(dataKindProblem({ kind: 'points', total: 162 }, IMAGE_INFO)).toBe(
      'The data set holds 162 point clouds, and Bundled ViT takes images: it cannot train on them. They stay saved: load a point backbone to train on them again, or clear the data set to add images.',
    );
    expect(dataKindProblem({ kind: 'images', total: 1 }, POINT_INFO)).toMatch(/^The data set holds 1 image, and Point-MAE test takes point clouds: .* load an image backbone .* clear the data set to add point clouds\.$/);
    expect(mixedIntakeRefusal('points', 3, 'Bundled ViT')).toBe(
      'Bundled ViT takes images, but the data set holds 3 point clouds, and a data set holds one kind of sample: nothing was added. Load a point backbone to add more point clouds, or clear the data set to start one of images.',
    );
  });

  it('the augmentation a run asks for follows the kind: flips for images, Point-MAE scale and shift for point clouds', () => {
    const on = { ...DEFAULT_UI_SETTINGS, augment: true };
    expect(runSettingsFrom(on, 'images').train.augment).toEqual({ flip: true, randomResizedCrop: false });
    expect(runSettingsFrom(on, 'points').train.augment).toEqual({ scaleAndTranslate: true, rotate: false, jitter: false });
    expect(runSettingsFrom({ ...on, augment: false }, 'points').train.augment).toBeUndefined();
  });
});

describe('the 3-D preview projection', () => {
  it('turns about the up axis, tilts the top towards the viewer, and draws far points first', () => {
    const points = Float32Array.of(1, 0, 0, 0, 0, 1, 0, 1, 0);
    const front = projectCloud(points, 0, 0);
    expect(Array.from(front.x)).toEqual([1, 0, 0]);
    expect(Array.from(front.depth)).toEqual([0, 1, 0]);
    const quarter = projectCloud(points, Math.PI / 2, 0);
    // x → away from the viewer, z → right.
    expect(quarter.x[0]).toBeCloseTo(0, 6);
    expect(quarter.depth[0]).toBeCloseTo(-1, 6);
    expect(quarter.x[1]).toBeCloseTo(1, 6);
    expect(quarter.order[0]).toBe(0);
    const tilted = projectCloud(points, 0, Math.PI / 2);
    // The top (y) comes towards the viewer and is drawn last; the front (z) goes down the screen.
    expect(tilted.depth[2]).toBeCloseTo(1, 6);
    expect(tilted.y[1]).toBeCloseTo(-1, 6);
    expect(tilted.order[2]).toBe(2);
  });
});
