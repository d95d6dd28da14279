// The study's tasks: a backbone plus a labelled training pool and test set. Each is one entry of STUDY_TASKS;
// the runner needs nothing else from it (the samples' shape comes with the data), so a new backbone kind or
// data type is one more entry here.
import { existsSync } from 'node:fs';
import type { Dataset } from '../../src/data/dataset';
import { BACKBONE_PRESETS, pretrainBackbone } from '../../tools/pretrain-backbone';
import { fashionPools } from './fashion-task';
import { StudyOptionError } from './methods';

/** A task's data, loaded once: the pools' labels (for drawing samples) and datasets of chosen samples. */
export interface TaskPools {
  classes: string[];
  sampleShape: readonly number[];
  labels: { train: ArrayLike<number>; test: ArrayLike<number> };
  /** These samples of a pool as model input. */
  dataset(pool: 'train' | 'test', indices: readonly number[]): Dataset;
}

export interface StudyTask {
  /** What --task names. */
  id: string;
  title: string;
  /** Where the backbone and the data come from, and why this pairing (for the report). */
  about: string;
  /** Path of the backbone's weights file; a backbone the project pretrains itself is made first when missing. */
  backbone(log: (line: string) => void): Promise<string>;
  /** The pools, with inputs normalised the backbone's way. */
  load(normalize: { mean: readonly number[]; std: readonly number[] }): Promise<TaskPools>;
}

/** A task that is planned but cannot run in this checkout yet, and what it waits for. */
export interface PendingTask {
  id: string;
  title: string;
  waitingFor: string;
}

const BUNDLED = 'public/models/vit-mnist.safetensors';

export const STUDY_TASKS: readonly StudyTask[] = [
  {
    id: 'fashion-bundled',
    title: 'Fashion-MNIST from the bundled ViT (depth 4, width 64, MNIST-pretrained)',
    about: 'The app\'s offline default backbone, pretrained on MNIST digits, adapted to Fashion-MNIST clothing: a task it never saw.',
    backbone: async () => {
      if (!existsSync(BUNDLED)) throw new StudyOptionError(`${BUNDLED} is missing: run npm run pretrain:backbone to make it.`);
      return BUNDLED;
    },
    load: async (normalize) => fashionPools(normalize),
  },
  {
    id: 'fashion-wide',
    title: 'Fashion-MNIST from the wide ViT (depth 6, width 128, MNIST-pretrained)',
    about:
      'A backbone 5.6× the bundled one (pretrained the same way, seed 0, by `npm run pretrain:backbone -- --preset wide`), on the same downstream task, so the backbone is the only thing that changes between the two image tasks. Fashion-MNIST rather than the 8×8 digits: a real shift away from the pretraining domain, and a 10,000-image test set (the digits have 1,797 images in all).',
    backbone: async (log) => {
      const preset = BACKBONE_PRESETS.wide;
      const path = preset.outPath(0);
      if (!existsSync(path)) {
        log(`the wide backbone is not in the cache yet: pretraining it first (seed 0, about 30 minutes on an idle emulated GPU) into ${path}`);
        await pretrainBackbone(preset, { seed: 0, log });
      }
      return path;
    },
    load: async (normalize) => fashionPools(normalize),
  },
];

export const PENDING_TASKS: readonly PendingTask[] = [
  {
    id: 'points',
    title: 'point clouds from the point backbone (Point-MAE layout)',
    waitingFor:
      'the point backbone (src/nn/point*, read through src/nn/backbone-meta.ts) and the sample point data set (public/samples/points/) of issue 11, which are not on main yet',
  },
];

/** The tasks --task names (by default every task that can run here), in registry order. */
export function selectTasks(ids: readonly string[] | undefined): StudyTask[] {
  if (!ids || ids.length === 0) return [...STUDY_TASKS];
  const pending = PENDING_TASKS.find((t) => ids.includes(t.id));
  if (pending) throw new StudyOptionError(`--task ${pending.id}: the study of ${pending.title} cannot run yet: it waits for ${pending.waitingFor}.`);
  const unknown = ids.filter((id) => !STUDY_TASKS.some((t) => t.id === id));
  if (unknown.length) throw new StudyOptionError(`--task: unknown task${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}; the tasks are ${STUDY_TASKS.map((t) => t.id).join(', ')}.`);
  return STUDY_TASKS.filter((t) => ids.includes(t.id));
}
