// Point-cloud data sets for the command line (Node): a folder with one sub-folder of point files per class,
// or a tensor file holding `points` [N, P, 3] F32 (each cloud centred and in the unit sphere, clora-spec §4)
// and `labels` [N]. Files in a folder are read as streams from disk; a file that cannot be used is skipped
// and listed with the reason, and the rest is kept.
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileSource } from '../../io/safetensors-node';
import { DatasetError, type Dataset } from '../dataset';
import { PointCloudError } from './cloud';
import { fileSeed, loadPointCloud } from './load-cloud';
import { readPointTensorFile } from './tensor-file';

export interface PointFolderOptions {
  /** P, points per cloud. */
  points: number;
  /** Seeds subsampling and mesh sampling (default 0). */
  seed?: number;
  /** Class names in label order (default: the sub-folders, sorted). */
  classNames?: string[];
  /** Points kept while reading a file (default 8 × P). */
  maxPoints?: number;
}

export interface PointDataset extends Dataset {
  /** How files were brought to P points ("120,000 points, farthest point sampling to 1,024."), one per file that needed it. */
  notes: { file: string; note: string }[];
}

export async function loadPointFolderDataset(dir: string, opts: PointFolderOptions): Promise<PointDataset> {
  const entries = (await readdir(dir, { withFileTypes: true })).filter((e) => e.isDirectory() && !e.name.startsWith('.'));
  const classes = opts.classNames ?? entries.map((e) => e.name).sort();
  if (classes.length === 0) throw new DatasetError(`${dir} has no sub-folders: put the point files of each class in a folder named after the class.`);
  const p = opts.points;
  const per = p * 3;
  const files: { path: string; name: string; label: number }[] = [];
  for (const [label, name] of classes.entries()) {
    const classDir = join(dir, name);
    const inside = await readdir(classDir, { withFileTypes: true }).catch(() => []);
    for (const f of inside.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      if (f.isFile() && !f.name.startsWith('.')) files.push({ path: join(classDir, f.name), name: `${name}/${f.name}`, label });
    }
  }
  const inputs = new Float32Array(files.length * per);
  const labels: number[] = [];
  const skipped: { file: string; reason: string }[] = [];
  const notes: { file: string; note: string }[] = [];
  for (const f of files) {
    const source = await fileSource(f.path);
    try {
      const cloud = await loadPointCloud(source, { points: p, seed: fileSeed(opts.seed ?? 0, f.name), maxPoints: opts.maxPoints });
      inputs.set(cloud.points, labels.length * per);
      labels.push(f.label);
      if (cloud.note) notes.push({ file: f.path, note: cloud.note });
    } catch (error) {
      if (!(error instanceof PointCloudError)) throw error;
      skipped.push({ file: f.path, reason: error.message });
    } finally {
      await source.close();
    }
  }
  const count = labels.length;
  return { classes, sampleShape: [p, 3], count, inputs: inputs.slice(0, count * per), labels: Int32Array.from(labels), skipped, notes };
}

export async function loadPointTensorDataset(path: string): Promise<Dataset> {
  const source = await fileSource(path);
  try {
    return await readPointTensorFile(source);
  } finally {
    await source.close();
  }
}
