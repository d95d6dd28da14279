// Point clouds in the web app's data set: how a cloud is stored in IndexedDB (quantised to 16 bits, see
// points/quantize.ts), what is checked before a point file goes to the worker, how the stored clouds are
// packed for training and unpacked into a Dataset at the model's P points in the worker.
import { DatasetError, type Dataset } from './dataset';
import { runOrder, sniffImage, validationFlags, type DatasetManifest, type SampleStore, type StoredSample } from './intake';
import { normalizeInPlace } from './points/normalize';
import { dequantizeCloud } from './points/quantize';
import { resampleTo } from './points/resample';
import type { PackedClouds } from '../worker/protocol';

/** One stored point cloud: `count` points [count, 3], normalised and quantised. */
export interface StoredCloud {
  key: string;
  classId: string;
  count: number;
  points: Int16Array<ArrayBuffer>;
}

export function isStoredCloud(sample: StoredSample): sample is StoredCloud {
  return 'points' in sample;
}

/** The point files an <input> offers to pick (the readers also sniff PLY, NumPy and OFF files by content). */
export const POINT_FILE_ACCEPT = '.ply,.obj,.off,.xyz,.txt,.pts,.npy';

/**
 * Why a file cannot go into a point data set, from its size and first bytes alone (an empty file, an image);
 * undefined when the point readers should look at it (they say what else is wrong, file by file).
 */
export async function precheckPointFile(file: Blob): Promise<string | undefined> {
  if (file.size === 0) return 'empty file (0 bytes): it did not finish downloading or saving';
  const image = sniffImage(new Uint8Array(await file.slice(0, 16).arrayBuffer()));
  if (image) {
    return `an image (${image.toUpperCase()}), but the loaded backbone takes point clouds and a data set holds one kind of sample: add point files (.ply, .obj, .off, .xyz, .txt, .pts, .npy), or load an image backbone to train on images`;
  }
  return undefined;
}

/**
 * The name a point file's seed is drawn from: its class folder and file name, as the command line's folder
 * loader names it, so the same file gives the same cloud wherever the folder was dropped from.
 */
export function cloudSeedName(path: string): string {
  return path.split('/').filter(Boolean).slice(-2).join('/');
}

/** Reads the whole point data set from IndexedDB into one packed message for the worker. */
export async function packClouds(store: SampleStore, manifest: DatasetManifest): Promise<{ samples: PackedClouds; fingerprint: string }> {
  const { used, ordered, fingerprint } = runOrder(manifest, await store.keys());
  const counts = new Int32Array(ordered.length);
  const labels = new Int32Array(ordered.length);
  const validation = new Uint8Array(ordered.length);
  const clouds: Int16Array[] = [];
  const packedKeys: string[] = [];
  let index = 0;
  for (const [label, c] of used.entries()) {
    const flags = validationFlags(c.keys.length, manifest.validationShare);
    for (let start = 0; start < c.keys.length; start += 256) {
      const part = await store.get(c.keys.slice(start, start + 256));
      part.forEach((s, k) => {
        if (!isStoredCloud(s)) throw new DatasetError(`The data set mixes images with point clouds (${s.key} is an image): clear it and add one kind of sample.`);
        counts[index] = s.count;
        labels[index] = label;
        validation[index] = flags[start + k] ? 1 : 0;
        clouds.push(s.points);
        packedKeys.push(s.key);
        index++;
      });
    }
  }
  const points = new Int16Array(clouds.reduce((n, c) => n + c.length, 0));
  let offset = 0;
  for (const c of clouds) {
    points.set(c, offset);
    offset += c.length;
  }
  return {
    samples: { kind: 'points', classes: used.map((c) => c.info.name), count: index, keys: packedKeys, counts: counts.slice(0, index), points, labels: labels.slice(0, index), validation: validation.slice(0, index) },
    fingerprint,
  };
}

/**
 * The packed clouds at `pick` as model input [n, P, 3] f32. A cloud stored at another point count (added
 * under another point backbone) is brought to P as a file is (farthest point sampling, or repetition) and
 * normalised again.
 */
export function unpackClouds(data: PackedClouds, pick: readonly number[], p: number): Dataset {
  const offsets = new Float64Array(data.count + 1);
  for (let i = 0; i < data.count; i++) offsets[i + 1] = offsets[i]! + data.counts[i]! * 3;
  const per = p * 3;
  const inputs = new Float32Array(pick.length * per);
  const labels = new Int32Array(pick.length);
  pick.forEach((index, slot) => {
    labels[slot] = data.labels[index]!;
    const n = data.counts[index]!;
    const stored = data.points.subarray(offsets[index]!, offsets[index + 1]!);
    if (n === p) {
      dequantizeCloud(stored, inputs, slot * per);
      return;
    }
    const { points } = resampleTo(dequantizeCloud(stored), n, p);
    normalizeInPlace(points, p);
    inputs.set(points, slot * per);
  });
  return { classes: data.classes, sampleShape: [p, 3], count: pick.length, inputs, labels, skipped: [] };
}
