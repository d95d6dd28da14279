// The study's tasks: a backbone plus a labelled training pool and test set. Each is one entry of STUDY_TASKS;
// the runner needs nothing else from it (the samples' shape comes with the data), so a new backbone kind or
// data type is one more entry here.
import { existsSync } from 'node:fs';
import type { Backbone } from '../../src/cli/model-source';
import { imageBackbone } from '../../src/nn/backbone-meta';
import { BUNDLED_POINT_MODEL } from '../../src/nn/models';
import type { Dataset } from '../../src/data/dataset';
import { BACKBONE_PRESETS, pretrainBackbone } from '../../tools/pretrain-backbone';
import { fashionPools } from './fashion-task';
import { StudyOptionError } from './methods';
import type { StudyOptions } from './options';
import { POINT_SAMPLES, pointPools } from './point-task';

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
  backbone(log: (line: string) => void, options: StudyOptions): Promise<string>;
  /** The pools, as this backbone takes its input. */
  load(backbone: Backbone): Promise<TaskPools>;
  /** Validation samples per class when --val-per-class is not given (default: a fifth of --train-per-class). */
  valPerClass?: number;
  /** Whether a study without --task runs it (default: yes). */
  byDefault?(options: StudyOptions): boolean;
}


const BUNDLED = 'public/models/vit-mnist.safetensors';
const BUNDLED_POINT = `public/${BUNDLED_POINT_MODEL.url}`;

export const STUDY_TASKS: readonly StudyTask[] = [
  {
    id: 'fashion-bundled',
    title: 'Fashion-MNIST from the bundled ViT (depth 4, width 64, MNIST-pretrained)',
    about: 'The app\'s offline default backbone, pretrained on MNIST digits, adapted to Fashion-MNIST clothing: a task it never saw.',
    backbone: async () => {
      if (!existsSync(BUNDLED)) throw new StudyOptionError(`${BUNDLED} is missing: run npm run pretrain:backbone to make it.`);
      return BUNDLED;
    },
    load: async (backbone) => fashionPools(imageBackbone(backbone, 'the fashion-bundled task').preprocess),
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
        log(`the wide backbone is not in the cache yet: pretraining it first (seed 0, about 35 minutes on an idle emulated GPU) into ${path}`);
        await pretrainBackbone(preset, { seed: 0, log });
      }
      return path;
    },
    load: async (backbone) => fashionPools(imageBackbone(backbone, 'the fashion-wide task').preprocess),
  },
  {
    id: 'points',
    title: 'Furniture point clouds from the bundled point transformer (Point-MAE layout, pretrained on procedural shapes)',
    about: `The app's offline default for points (${BUNDLED_POINT}, or the Point-MAE-layout backbone --point-backbone names), pretrained on procedural shapes, adapted to the sample point data set (${POINT_SAMPLES}: 162 furniture clouds in 7 classes from Debian's sweethome3d-furniture), a task it never saw; 30 % of each class held out as the test set.`,
    backbone: async (_log, options) => {
      const path = options.pointBackbone ?? BUNDLED_POINT;
      if (!existsSync(path)) throw new StudyOptionError(options.pointBackbone ? `--point-backbone ${path}: no such file.` : `${path} is missing: run npm run pretrain:point-backbone to make it.`);
      return path;
    },
    load: pointPools,
    // About 16 training clouds per class: hold out 3 of each to choose the learning rate.
    valPerClass: 3,
    // 162 clouds want another budget than the image tasks' (npm run bench:points-accuracy gives it one).
    byDefault: () => false,
  },
];

/** The tasks --task names (by default every task that can run with these options), in registry order. */
export function selectTasks(ids: readonly string[] | undefined, options: StudyOptions): StudyTask[] {
  if (!ids || ids.length === 0) return STUDY_TASKS.filter((t) => t.byDefault?.(options) ?? true);
  const unknown = ids.filter((id) => !STUDY_TASKS.some((t) => t.id === id));
  if (unknown.length) throw new StudyOptionError(`--task: unknown task${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}; the tasks are ${STUDY_TASKS.map((t) => t.id).join(', ')}.`);
  return STUDY_TASKS.filter((t) => ids.includes(t.id));
}
