// The point-cloud task's pools: the sample point data set (public/samples/points: furniture from Debian's
// sweethome3d-furniture, 162 clouds in 7 classes, which no point backbone here was pretrained on), read by
// the command line's point loader at the backbone's point count. The set is small, so a fixed 30 % of each
// class (a seeded draw) is the test set and the rest the training pool; each seed then draws up to
// --train-per-class clouds per class from that pool.
import type { Backbone } from '../../src/cli/model-source';
import type { Dataset } from '../../src/data/dataset';
import { loadPointFolderDataset } from '../../src/data/points/load-node';
import { Rng } from '../../src/train/rng';
import { StudyOptionError } from './methods';
import type { TaskPools } from './tasks';

export const POINT_SAMPLES = 'public/samples/points';
const TEST_SHARE = 0.3;

function subset(data: Dataset, indices: readonly number[]): Dataset {
  const per = data.sampleShape.reduce((a, b) => a * b, 1);
  const inputs = new Float32Array(indices.length * per);
  indices.forEach((index, k) => inputs.set((data.inputs as Float32Array).subarray(index * per, (index + 1) * per), k * per));
  return { classes: data.classes, sampleShape: data.sampleShape, count: indices.length, inputs, labels: Int32Array.from(indices, (i) => data.labels[i]!), skipped: [] };
}

export async function pointPools(backbone: Backbone): Promise<TaskPools> {
  if (backbone.kind !== 'point') throw new StudyOptionError(`${backbone.spec} is an image backbone; the points task needs a point backbone (Point-MAE layout, .safetensors or .pth).`);
  const all = await loadPointFolderDataset(POINT_SAMPLES, { points: backbone.cfg.points });
  // A fixed, seeded 30 % of each class is the test set.
  const order = new Rng(0x7e57).shuffle(Array.from({ length: all.count }, (_, i) => i));
  const perClass = new Map<number, number[]>();
  for (const i of order) perClass.set(all.labels[i]!, [...(perClass.get(all.labels[i]!) ?? []), i]);
  const test: number[] = [];
  const train: number[] = [];
  for (const list of perClass.values()) {
    const cut = Math.round(list.length * TEST_SHARE);
    test.push(...list.slice(0, cut));
    train.push(...list.slice(cut));
  }
  const pools = { train: subset(all, train.sort((a, b) => a - b)), test: subset(all, test.sort((a, b) => a - b)) };
  return {
    classes: all.classes,
    sampleShape: all.sampleShape,
    labels: { train: pools.train.labels, test: pools.test.labels },
    dataset: (pool, indices) => subset(pools[pool], indices),
  };
}
