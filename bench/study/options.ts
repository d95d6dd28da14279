// The options of `npm run bench:accuracy`, their defaults, and the --quick form (a few seconds of training
// per run, small enough for the test suite).
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { cacheDir } from '../../tools/cache-dir';
import { DEFAULT_LR_GRID, DEFAULT_SADE_GRID, FAMILY_LABELS, StudyOptionError, type Family } from './methods';

export const USAGE = `usage: npm run bench:accuracy -- [options]

  --seeds N            seeds per row (each draws its own training images); default 5
  --tune-seeds N       seeds whose validation accuracy chooses the learning rate (and SADE weight); default 1
  --train-per-class N  training images per class; default 100 (1,000 in all, as in VTAB-1k)
  --val-per-class N    of those, held out per class to choose the learning rate; default a fifth (20: 800 fit /
                       200 score), 3 for the points task
  --epochs N           passes over the training images, the same for every method; default 10
  --batch-size N       default 50
  --warmup N           linear warm-up steps before the cosine decay; default 20 (an eighth of a full-scale
                       tuning run's 160 steps: lower it with the scale, or a short run is mostly warm-up)
  --test-limit N       score on N test images (spread over the classes) instead of the whole test set
  --task a,b           tasks: fashion-bundled, fashion-wide, points (default: the first two; points when named,
                       with its own budget: npm run bench:points-accuracy)
  --point-backbone P   the points task's backbone: a Point-MAE-layout .safetensors or .pth (default: the bundled
                       one, public/models/point-mae-procedural.safetensors)
  --only a,b           rows: head, full, lora-r4, lora-r8, lora-r16, clora-p1, clora-p2, clora-p4, clora-p8,
                       clora-p2-sade, clora-p4-sade, clora-p8-sade (default: all)
  --lr-grid x,y        one learning-rate grid for every method (default: per family, see bench/study/methods.ts);
                       FAMILY=x,y sets one family's (head, full, lora, clora, clora-sade); may be repeated, later
                       ones win. A grid of one point (and one SADE weight) is taken as it is, with no tuning runs
  --sade-grid x,y      SADE weights tried with each learning rate; default ${DEFAULT_SADE_GRID.join(',')}
  --out-dir DIR        where accuracy.json, accuracy-runs.jsonl and the SVG plots go; default bench/results
  --checked            keep Dawn's bounds checks (slower; the study drops them by default, as for pretraining)
  --quick              a tiny study for the test suite: 2 seeds, rows lora-r8 and clora-p4-sade, 4 training
                       samples per class, 1 epoch, 200 test samples, task fashion-bundled (unless --task
                       says otherwise), written to ${join('~/.cache/clora-web', 'study-quick')}

Finished runs are recorded in accuracy-runs.jsonl and skipped when the study runs again.`;

export interface StudyOptions {
  seeds: number;
  tuneSeeds: number;
  trainPerClass: number;
  /** Unset: the task's own, or a fifth of trainPerClass. */
  valPerClass: number | undefined;
  epochs: number;
  batchSize: number;
  /** Linear warm-up steps, then cosine decay (every method alike). */
  warmup: number;
  weightDecay: number;
  testLimit: number | undefined;
  tasks: string[] | undefined;
  pointBackbone: string | undefined;
  only: string[] | undefined;
  lrGrid: Record<Family, number[]>;
  sadeGrid: number[];
  outDir: string;
  checked: boolean;
  quick: boolean;
}

const DEFAULTS: StudyOptions = {
  seeds: 5,
  tuneSeeds: 1,
  trainPerClass: 100,
  valPerClass: undefined,
  epochs: 10,
  batchSize: 50,
  warmup: 20,
  weightDecay: 1e-4,
  testLimit: undefined,
  tasks: undefined,
  pointBackbone: undefined,
  only: undefined,
  lrGrid: DEFAULT_LR_GRID,
  sadeGrid: DEFAULT_SADE_GRID,
  outDir: 'bench/results',
  checked: false,
  quick: false,
};

const QUICK: Partial<StudyOptions> = {
  seeds: 2,
  trainPerClass: 4,
  valPerClass: 1,
  epochs: 1,
  batchSize: 20,
  warmup: 0,
  testLimit: 200,
  tasks: ['fashion-bundled'],
  only: ['lora-r8', 'clora-p4-sade'],
  lrGrid: uniformGrid([1e-3, 1e-2]),
  sadeGrid: [0.1],
  outDir: cacheDir('study-quick'),
};

function uniformGrid(values: number[]): Record<Family, number[]> {
  return { head: values, full: values, lora: values, clora: values, 'clora-sade': values };
}

function whole(name: string, text: string, min: number): number {
  const n = Number(text);
  if (text.trim() === '' || !Number.isInteger(n) || n < min) throw new StudyOptionError(`--${name} must be a whole number ≥ ${min}, got "${text}".`);
  return n;
}

function positiveList(name: string, text: string): number[] {
  const values = text.split(',').map((v) => v.trim()).filter(Boolean).map(Number);
  if (values.length === 0 || values.some((v) => !Number.isFinite(v) || v <= 0)) throw new StudyOptionError(`--${name} must be a comma list of numbers > 0, got "${text}".`);
  return values;
}

/** `x,y` replaces every family's grid, `FAMILY=x,y` one family's. */
function withLrGrid(grids: Record<Family, number[]>, text: string): Record<Family, number[]> {
  const eq = text.indexOf('=');
  if (eq < 0) return uniformGrid(positiveList('lr-grid', text));
  const family = text.slice(0, eq).trim();
  if (!(family in FAMILY_LABELS)) throw new StudyOptionError(`--lr-grid ${text}: unknown family "${family}"; the families are ${Object.keys(FAMILY_LABELS).join(', ')}.`);
  return { ...grids, [family]: positiveList('lr-grid', text.slice(eq + 1)) };
}

const names = (text: string): string[] => text.split(',').map((v) => v.trim()).filter(Boolean);

export function parseStudyOptions(argv: string[]): StudyOptions | 'help' {
  const { values } = parseArgs({
    args: argv,
    options: {
      seeds: { type: 'string' },
      'tune-seeds': { type: 'string' },
      'train-per-class': { type: 'string' },
      'val-per-class': { type: 'string' },
      epochs: { type: 'string' },
      'batch-size': { type: 'string' },
      warmup: { type: 'string' },
      'test-limit': { type: 'string' },
      task: { type: 'string' },
      'point-backbone': { type: 'string' },
      only: { type: 'string' },
      'lr-grid': { type: 'string', multiple: true },
      'sade-grid': { type: 'string' },
      'out-dir': { type: 'string' },
      checked: { type: 'boolean' },
      quick: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return 'help';
  const o: StudyOptions = { ...DEFAULTS, ...(values.quick ? QUICK : {}), quick: values.quick === true, checked: values.checked === true };
  if (values.seeds !== undefined) o.seeds = whole('seeds', values.seeds, 1);
  if (values['tune-seeds'] !== undefined) o.tuneSeeds = whole('tune-seeds', values['tune-seeds'], 1);
  if (values['train-per-class'] !== undefined) o.trainPerClass = whole('train-per-class', values['train-per-class'], 2);
  if (values['val-per-class'] !== undefined) o.valPerClass = whole('val-per-class', values['val-per-class'], 1);
  if (values.epochs !== undefined) o.epochs = whole('epochs', values.epochs, 1);
  if (values['batch-size'] !== undefined) o.batchSize = whole('batch-size', values['batch-size'], 1);
  if (values.warmup !== undefined) o.warmup = whole('warmup', values.warmup, 0);
  if (values['test-limit'] !== undefined) o.testLimit = whole('test-limit', values['test-limit'], 1);
  if (values.task !== undefined) o.tasks = names(values.task);
  if (values['point-backbone'] !== undefined) o.pointBackbone = values['point-backbone'];
  if (values.only !== undefined) o.only = names(values.only);
  for (const text of values['lr-grid'] ?? []) o.lrGrid = withLrGrid(o.lrGrid, text);
  if (values['sade-grid'] !== undefined) o.sadeGrid = positiveList('sade-grid', values['sade-grid']);
  if (values['out-dir'] !== undefined) o.outDir = values['out-dir'];
  if (o.valPerClass !== undefined && o.valPerClass >= o.trainPerClass) throw new StudyOptionError(`--val-per-class ${o.valPerClass} leaves no training image per class out of ${o.trainPerClass}: hold out fewer.`);
  if (o.tuneSeeds > o.seeds) throw new StudyOptionError(`--tune-seeds ${o.tuneSeeds} is more than --seeds ${o.seeds}.`);
  return o;
}
