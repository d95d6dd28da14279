// A point file as model input: read it in bounded memory (a large scan keeps a seeded subset of
// `oversample` × P points while it streams; a mesh gets that many samples on its faces), bring it to exactly
// P points (farthest point sampling, or repeating points when it has fewer), then centre it on its centroid
// and scale it into the unit sphere — in that order, so the stored cloud is exactly centred and scaled.
import type { ByteSource } from '../../io/safetensors';
import { fileLabel } from './cloud';
import { normalizeInPlace } from './normalize';
import { readPointFile, type PointFormat } from './read';
import { resampleTo, type Resampling } from './resample';

/** Points kept while reading, per model point: enough for farthest point sampling to spread P picks evenly. */
export const OVERSAMPLE = 8;

export interface LoadCloudOptions {
  /** P, the model's point count (Point-MAE: 1024). */
  points: number;
  /** Seeds subsampling and mesh sampling. */
  seed: number;
  format?: PointFormat;
  /** Points kept while reading (default OVERSAMPLE × P). */
  maxPoints?: number;
}

export interface LoadedCloud {
  /** [P, 3], centred and in the unit sphere. */
  points: Float32Array<ArrayBuffer>;
  /** Points in the file, or sampled on the mesh. */
  totalPoints: number;
  origin: 'points' | 'mesh';
  /** Streamed down to a seeded subset while reading (a large scan). */
  subsampled: boolean;
  resampling: Resampling;
  /** What happened on the way to P points, in a sentence (null when the file had exactly P points). */
  note: string | null;
}

/**
 * The seed a file is read with: the data set's seed mixed with the file's name (FNV-1a), so each file always
 * gives the same cloud whatever else is in the folder, and two copies of one mesh do not give the same samples.
 */
export function fileSeed(seed: number, name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) {
    h ^= name.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return (h ^ seed) >>> 0;
}

export async function loadPointCloud(source: ByteSource, opts: LoadCloudOptions): Promise<LoadedCloud> {
  const p = opts.points;
  if (!Number.isInteger(p) || p < 1) throw new RangeError(`The point count must be a positive whole number (got ${p}).`);
  const raw = await readPointFile(source, { maxPoints: opts.maxPoints ?? OVERSAMPLE * p, seed: opts.seed, format: opts.format });
  const { points, how } = resampleTo(raw.points, raw.count, p);
  normalizeInPlace(points, p, fileLabel(source.name));
  return { points, totalPoints: raw.totalPoints, origin: raw.origin, subsampled: raw.subsampled, resampling: how, note: describe(raw, how, p) };
}

function describe(raw: { totalPoints: number; count: number; origin: 'points' | 'mesh'; subsampled: boolean }, how: Resampling, p: number): string | null {
  const n = (v: number): string => v.toLocaleString('en-US');
  const start = raw.origin === 'mesh' ? `${n(raw.count)} points sampled on the mesh's faces` : `${n(raw.totalPoints)} points`;
  const streamed = raw.subsampled ? `, ${n(raw.count)} kept at random while reading` : '';
  if (how === 'farthest') return `${start}${streamed}, farthest point sampling to ${n(p)}.`;
  if (how === 'repeated') return `${start}, fewer than ${n(p)}: points repeated to make ${n(p)}.`;
  return raw.subsampled ? `${start}${streamed}.` : null;
}
