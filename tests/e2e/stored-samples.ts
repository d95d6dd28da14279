// The data set as the page stored it (IndexedDB: 8-bit RGB at the model's size, or 16-bit point clouds), read from the test through
// the page's own store: what the worker trained and evaluated on, for oracles that run outside the page.
import type { Page } from 'playwright-core';
import { validationFlags } from '../../src/data/intake';

export interface StoredSet {
  /** Class names in the manifest's order (the label order of a run). */
  classes: string[];
  samples: { key: string; label: number; size: number; rgb: Uint8Array; validation: boolean }[];
}

/** Every stored sample with its class index and whether the split holds it out for validation. */
export async function storedSamples(page: Page): Promise<StoredSet> {
  const raw = await page.evaluate(async () => {
    const store = document.querySelector('clora-app')!.controller.data.samples;
    const manifest = await store.manifest();
    const keys = await store.keys();
    const samples = await store.get(keys);
    return {
      classes: manifest.classes.map((c) => ({ id: c.id, name: c.name })),
      share: manifest.validationShare,
      // Image samples (storedClouds reads point clouds).
      samples: samples.flatMap((s) => ('rgb' in s ? [{ key: s.key, classId: s.classId, size: s.size, rgb: Array.from(s.rgb) }] : [])),
    };
  });
  const used = raw.classes.filter((c) => raw.samples.some((s) => s.classId === c.id));
  const out: StoredSet = { classes: used.map((c) => c.name), samples: [] };
  used.forEach((c, label) => {
    const mine = raw.samples.filter((s) => s.classId === c.id).sort((a, b) => (a.key < b.key ? -1 : 1));
    const flags = validationFlags(mine.length, raw.share);
    mine.forEach((s, i) => out.samples.push({ key: s.key, label, size: s.size, rgb: Uint8Array.from(s.rgb), validation: flags[i]! }));
  });
  return out;
}

/** Model input [n, 3, S, S] of 8-bit RGB samples: (v / 255 − mean) / std per channel, channels first. */
export function modelInput(samples: { size: number; rgb: Uint8Array }[], mean: readonly number[], std: readonly number[]): Float32Array {
  const size = samples[0]?.size ?? 0;
  const plane = size * size;
  const out = new Float32Array(samples.length * 3 * plane);
  samples.forEach((s, n) => {
    if (s.size !== size) throw new Error('samples of different sizes');
    for (let c = 0; c < 3; c++) for (let q = 0; q < plane; q++) out[(n * 3 + c) * plane + q] = (s.rgb[q * 3 + c]! / 255 - mean[c]!) / std[c]!;
  });
  return out;
}

/** A stored point cloud: its key, class index, split, point count and 16-bit coordinates. */
export interface StoredCloudSample {
  key: string;
  label: number;
  validation: boolean;
  count: number;
  points: Int16Array;
}

/** Every stored point cloud of the page's data set, as storedSamples gives images. */
export async function storedClouds(page: Page): Promise<{ classes: string[]; samples: StoredCloudSample[] }> {
  const raw = await page.evaluate(async () => {
    const store = document.querySelector('clora-app')!.controller.data.samples;
    const manifest = await store.manifest();
    const samples = await store.get(await store.keys());
    return {
      classes: manifest.classes.map((c) => ({ id: c.id, name: c.name })),
      share: manifest.validationShare,
      samples: samples.flatMap((s) => ('points' in s ? [{ key: s.key, classId: s.classId, count: s.count, points: Array.from(s.points) }] : [])),
    };
  });
  const used = raw.classes.filter((c) => raw.samples.some((s) => s.classId === c.id));
  const samples: StoredCloudSample[] = [];
  used.forEach((c, label) => {
    const mine = raw.samples.filter((s) => s.classId === c.id).sort((a, b) => (a.key < b.key ? -1 : 1));
    const flags = validationFlags(mine.length, raw.share);
    mine.forEach((s, i) => samples.push({ key: s.key, label, validation: flags[i]!, count: s.count, points: Int16Array.from(s.points) }));
  });
  return { classes: used.map((c) => c.name), samples };
}
