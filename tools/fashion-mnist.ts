// Fashion-MNIST (Zalando, MIT) from Debian's dataset-fashion-mnist package: used in place when installed,
// otherwise fetched with `apt-get download` and unpacked with `dpkg -x` into a cache folder (no root needed).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { parseIdxImages, parseIdxLabels, type IdxImages } from '../src/data/idx';
import { cacheDir } from './cache-dir';

export const FASHION_CLASSES = ['tshirt-top', 'trouser', 'pullover', 'dress', 'coat', 'sandal', 'shirt', 'sneaker', 'bag', 'ankle-boot'];
const SYSTEM_DIR = '/usr/share/datasets/fashion-mnist';

function locate(): string {
  if (existsSync(join(SYSTEM_DIR, 't10k-images-idx3-ubyte.gz'))) return SYSTEM_DIR;
  const cache = cacheDir('fashion-mnist');
  const unpacked = join(cache, 'root', 'usr/share/datasets/fashion-mnist');
  if (existsSync(join(unpacked, 't10k-images-idx3-ubyte.gz'))) return unpacked;
  mkdirSync(cache, { recursive: true });
  try {
    execFileSync('apt-get', ['download', 'dataset-fashion-mnist'], { cwd: cache, stdio: 'inherit' });
    const deb = readdirSync(cache).find((f) => f.startsWith('dataset-fashion-mnist') && f.endsWith('.deb'));
    if (!deb) throw new Error('apt-get download left no .deb');
    execFileSync('dpkg', ['-x', join(cache, deb), join(cache, 'root')]);
  } catch (error) {
    throw new Error(`Fashion-MNIST is not available: install Debian's dataset-fashion-mnist package (apt-get install dataset-fashion-mnist). (${error instanceof Error ? error.message : String(error)})`);
  }
  return unpacked;
}

export interface FashionSplit {
  images: IdxImages;
  labels: Uint8Array;
}

export function loadFashionMnist(split: 'train' | 't10k'): FashionSplit {
  const dir = locate();
  const read = (name: string): Uint8Array => new Uint8Array(gunzipSync(readFileSync(join(dir, name))));
  return { images: parseIdxImages(read(`${split}-images-idx3-ubyte.gz`)), labels: parseIdxLabels(read(`${split}-labels-idx1-ubyte.gz`)) };
}

/** The first `perClass` indices of each class (any number of classes) in a seeded order. */
export function pickPerClass(labels: ArrayLike<number>, perClass: number, order: readonly number[], skip = new Set<number>()): number[] {
  const counts = new Map<number, number>();
  const picked: number[] = [];
  for (const i of order) {
    if (skip.has(i)) continue;
    const label = labels[i]!;
    const count = counts.get(label) ?? 0;
    if (count < perClass) {
      counts.set(label, count + 1);
      picked.push(i);
    }
  }
  return picked;
}
