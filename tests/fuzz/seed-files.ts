// Seeds from the repository's own files: every file of a folder whose name matches, in name order.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FuzzSeed } from './fuzz-reader';

export const root = new URL('../../', import.meta.url).pathname;

export function seedFiles(dir: string, pattern: RegExp): FuzzSeed<Uint8Array<ArrayBuffer>>[] {
  return readdirSync(join(root, dir))
    .filter((f) => pattern.test(f))
    .sort()
    .map((f) => ({ name: `${dir}/${f}`, value: new Uint8Array(readFileSync(join(root, dir, f))) }));
}
