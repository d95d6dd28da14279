// Point files in the worker: each file of an intake is read by the point readers in bounded memory (a
// large scan streams through a seeded subset, a mesh is sampled on its faces), brought to the point
// backbone's P points, normalised and quantised for the page to store; Try it reads one file the same way.
import { cloudSeedName } from '../data/point-samples';
import { fileSeed, loadPointCloud, type LoadedCloud } from '../data/points/load-cloud';
import { quantizeCloud } from '../data/points/quantize';
import { blobSource } from '../io/safetensors';
import { requirePointBackbone } from './backbone';
import type { PreparedCloud, PrepareItem } from './protocol';
import { messageOf } from './scope';

/** Intakes, like the command line, draw every file's seed from seed 0 and its class folder and name. */
const DATASET_SEED = 0;

/** A point file at the loaded point backbone's P points, centred and in the unit sphere. */
export async function readCloud(file: Blob, name: string, what: string): Promise<LoadedCloud> {
  const { cfg } = requirePointBackbone(what).meta;
  return loadPointCloud(blobSource(file, name), { points: cfg.points, seed: fileSeed(DATASET_SEED, cloudSeedName(name)) });
}

/** Reads each point file one after another (one file's points in memory at a time); a file that cannot be used gets its sentence. */
export async function preparePoints(items: PrepareItem[]): Promise<PreparedCloud[]> {
  requirePointBackbone('Adding point clouds');
  const results: PreparedCloud[] = [];
  for (const item of items) {
    try {
      const cloud = await readCloud(item.blob, item.name, 'Adding point clouds');
      results.push({ key: item.key, ok: true, count: cloud.points.length / 3, points: quantizeCloud(cloud.points) });
    } catch (error) {
      results.push({ key: item.key, ok: false, name: item.name, reason: messageOf(error) });
    }
  }
  return results;
}
