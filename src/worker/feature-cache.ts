// Quick mode's cache: the backbone's features of every sample (image or point cloud) it has seen, kept in the
// worker for the backbone loaded now. A sample is known by its key and a hash of its bytes (keys come back
// after the data set is cleared), so a second quick run computes features only for the samples added since.
import type { FineTuneModel } from '../clora/model';
import { featureWidth } from '../nn/backbone';
import { featuresOf } from '../train/features';
import { isPackedClouds, type PackedData } from './protocol';
import { unpack } from './training-data';

let cache: { backbone: string; byId: Map<string, Float32Array> } = { backbone: '', byId: new Map() };

/** FNV-1a over a sample's bytes, in two lanes (53 bits): with its key, what identifies an image's content. */
function contentHash(bytes: Uint8Array): string {
  let a = 0x811c9dc5;
  let b = 0x01000193;
  for (let i = 0; i < bytes.length; i++) {
    a = Math.imul(a ^ bytes[i]!, 0x01000193) >>> 0;
    b = Math.imul(b ^ bytes[i]!, 0x5bd1e995) >>> 0;
  }
  return `${a.toString(16)}${(b & 0x1fffff).toString(16)}`;
}

/** Each packed sample's identity in the cache. */
function sampleIds(samples: PackedData): string[] {
  const ids: string[] = [];
  const clouds = isPackedClouds(samples);
  const bytes = clouds ? new Uint8Array(samples.points.buffer, samples.points.byteOffset, samples.points.byteLength) : samples.rgb;
  let offset = 0;
  for (let i = 0; i < samples.count; i++) {
    const size = clouds ? samples.counts[i]! : samples.sizes[i]!;
    const length = clouds ? size * 3 * 2 : size * size * 3;
    ids.push(`${samples.keys[i] ?? i}#${size}#${contentHash(bytes.subarray(offset, offset + length))}`);
    offset += length;
  }
  return ids;
}

export interface CachedFeatures {
  /** [count, featureWidth] in packed order. */
  features: Float32Array;
  /** Of the samples, those whose features were already cached. */
  cached: number;
}

/**
 * The features of every packed sample, computing (through `model`'s frozen backbone) only those not cached
 * for `backbone`; `onProgress` hears done/total as chunks finish.
 */
export async function cachedFeatures(model: FineTuneModel, backbone: string, samples: PackedData, onProgress: (done: number, total: number, cached: number) => void): Promise<CachedFeatures> {
  if (cache.backbone !== backbone) cache = { backbone, byId: new Map() };
  const dim = featureWidth(model.parts.cfg);
  const ids = sampleIds(samples);
  const missing = ids.flatMap((id, i) => (cache.byId.has(id) ? [] : [i]));
  const cached = samples.count - missing.length;
  onProgress(cached, samples.count, cached);
  if (missing.length) {
    const images = await unpack(samples, missing);
    const computed = await featuresOf(
      model,
      images,
      missing.map((_, k) => k),
      (done) => onProgress(cached + done, samples.count, cached),
    );
    missing.forEach((index, k) => cache.byId.set(ids[index]!, computed.slice(k * dim, (k + 1) * dim)));
  }
  const features = new Float32Array(samples.count * dim);
  ids.forEach((id, i) => features.set(cache.byId.get(id)!, i * dim));
  return { features, cached };
}

/** Forgets every cached feature (a new backbone). */
export function clearFeatureCache(): void {
  cache = { backbone: '', byId: new Map() };
}
