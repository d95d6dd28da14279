// `train --resume S` and `train --save-state S`: a run continued from, or saved to, a checkpoint file
// (src/io/checkpoint-file.ts). The PyTorch companion applies the same rules (python/clora_torch/resume.py):
// - the backbone must be the run's (same head count, same point grouping, same weights fingerprint);
// - the data must be the run's (same count, the same label at every position);
// - a resumed run keeps its settings: an option given again must have the checkpoint's value, except the
//   run's length (--steps, --epochs), --micro-batch, --log-every and --precision (how, not what, it computes);
// - a finished run needs a longer --steps or --epochs to go on.
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { METHOD_TRAINS, parseTargets, settingApplies, SettingsError, type AdapterSettings } from '../clora/settings';
import type { Dataset } from '../data/dataset';
import { backboneSha256, dataIdentity, groupingMismatch, readCheckpoint, writeCheckpoint, type CheckpointRun } from '../io/checkpoint-file';
import { bytesSource, openSafetensors } from '../io/safetensors';
import type { Trainer, TrainOptions } from '../train/trainer';
import { UsageError, type Backbone } from './model-source';

type Values = Record<string, string | boolean | undefined>;

const CHANGEABLE = 'only --steps, --epochs, --micro-batch, --log-every and --precision may change';

/** Opens a checkpoint for --resume and checks it was made on this backbone. */
export async function openCheckpoint(path: string, backbone: Backbone): Promise<CheckpointRun> {
  if (!existsSync(path)) throw new UsageError(`--resume ${path}: no such checkpoint file.`);
  const run = await readCheckpoint(await openSafetensors(bytesSource(new Uint8Array(await readFile(path)), path)), backbone.cfg);
  const heads = run.backbone.num_heads;
  if (heads !== undefined && Number(heads) !== backbone.cfg.heads) {
    throw new SettingsError(`The checkpoint's run used ${heads} attention heads; this backbone is read with ${backbone.cfg.heads}. Pass --heads ${heads}.`);
  }
  const grouping = groupingMismatch(run.backbone, backbone.cfg);
  if (grouping) throw new SettingsError(grouping);
  const saved = run.backbone.backbone_sha256;
  if (saved !== undefined && saved !== (await backboneSha256(backbone.read, backbone.cfg))) {
    throw new SettingsError(`The checkpoint was trained on another backbone (${run.backbone.base_model ?? 'unnamed'}) than --model ${backbone.spec}: their weights differ. Resume with the run's own backbone.`);
  }
  return run;
}

function numberGiven(option: string, text: string, integer: boolean): number {
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n) || (integer && !Number.isInteger(n))) throw new UsageError(`--${option} must be ${integer ? 'a whole number' : 'a number'}, got "${text}".`);
  return n;
}

/**
 * The resumed run's settings and options: the checkpoint's, with the run's length, micro-batch, log
 * interval and precision taken from the command line when given; any other option given with another value
 * is refused.
 */
export function resumedSettings(run: CheckpointRun, values: Values): { settings: AdapterSettings; options: TrainOptions } {
  const { settings: s, train: o } = run;
  type Kind = 'text' | 'int' | 'float' | 'targets';
  const adapter: [string, keyof AdapterSettings, string | number, Kind][] = [
    ['rank', 'rank', s.rank, 'int'],
    ['targets', 'targets', s.targets.join(','), 'targets'],
    ['spaces', 'spaces', s.spaces, 'int'],
    ['scale', 'scale', s.scale, 'float'],
    ['sade-weight', 'sadeWeight', s.sadeWeight, 'float'],
    ['dropout', 'dropout', s.dropout, 'float'],
  ];
  const kept: [string, string | number, Kind][] = [['method', s.method, 'text']];
  for (const [option, setting, saved, kind] of adapter) {
    if (settingApplies(s.method, setting)) kept.push([option, saved, kind]);
    else if (values[option] !== undefined) process.stderr.write(`note: --${option} does not apply to --method ${s.method} (it trains ${METHOD_TRAINS[s.method]}); ignored.\n`);
  }
  kept.push(
    ['optimizer', o.optimizer, 'text'],
    ['lr', o.lr, 'float'],
    ['weight-decay', o.weightDecay, 'float'],
    ['batch-size', o.batchSize, 'int'],
    ['warmup', o.warmup, 'int'],
    ['label-smoothing', o.labelSmoothing, 'float'],
    ['seed', o.seed, 'int'],
  );
  for (const [option, saved, kind] of kept) {
    const text = values[option];
    if (typeof text !== 'string') continue;
    const given = kind === 'targets' ? parseTargets(text).join(',') : kind === 'text' ? text : numberGiven(option, text, kind === 'int');
    if (given !== saved) {
      throw new SettingsError(`--${option} ${text} differs from the checkpoint's ${saved}: a resumed run keeps its settings (${CHANGEABLE}). Leave --${option} out, or start a new run from the adapter with --init.`);
    }
  }
  if (values['no-shuffle'] && o.shuffle) throw new SettingsError(`--no-shuffle differs from the checkpoint, whose run shuffles: a resumed run keeps its settings (${CHANGEABLE}).`);
  if (values.augment && !o.augment) throw new SettingsError(`--augment differs from the checkpoint, whose run does not augment: a resumed run keeps its settings (${CHANGEABLE}).`);
  if (values.epochs !== undefined && values.steps !== undefined) throw new UsageError('Give --epochs or --steps, not both.');
  const options: TrainOptions = { ...o };
  if (typeof values.steps === 'string') Object.assign(options, { steps: numberGiven('steps', values.steps, true), epochs: undefined });
  if (typeof values.epochs === 'string') Object.assign(options, { epochs: numberGiven('epochs', values.epochs, true), steps: undefined });
  if (typeof values['micro-batch'] === 'string') options.microBatchSize = numberGiven('micro-batch', values['micro-batch'], true);
  if (typeof values['log-every'] === 'string') options.logEvery = numberGiven('log-every', values['log-every'], true);
  if (values.precision === 'f32' || values.precision === 'f16') options.precision = values.precision;
  else if (values.precision !== undefined) throw new SettingsError(`Unknown precision "${String(values.precision)}": use f32 or f16.`);
  return { settings: s, options };
}

/** Refuses data other than the run's: the sampler's order refers to samples by position. */
export async function checkResumedData(run: CheckpointRun, data: Dataset): Promise<void> {
  if (data.count !== run.data.count) {
    throw new SettingsError(`The checkpoint's run trains on ${run.data.count} images; --data holds ${data.count}. Resume with the same data (the sampler's epoch order refers to its images by position).`);
  }
  if (run.data.labelsSha256 && (await dataIdentity(data.labels)).labelsSha256 !== run.data.labelsSha256) {
    throw new SettingsError('--data holds as many images as the checkpoint\'s run, but not with the same labels in the same order: it is other data. Resume with the run\'s own data.');
  }
}

export function checkUnfinished(run: CheckpointRun, totalSteps: number): void {
  if (totalSteps <= run.state.step) {
    throw new SettingsError(`The checkpoint is at step ${run.state.step} and the run has ${totalSteps} steps: it is finished. Pass --steps N with N > ${run.state.step} (or more --epochs) to train further.`);
  }
}

/** Writes the run's state (adapter, moments, sampler, history) to `path`. */
export async function saveState(path: string, trainer: Trainer, backbone: Backbone, options: TrainOptions, data: Dataset): Promise<void> {
  const { cfg, settings, classes } = trainer.model.parts;
  const run: CheckpointRun = {
    settings,
    classes,
    train: options,
    totalSteps: trainer.totalSteps,
    state: await trainer.state(),
    data: await dataIdentity(data.labels),
    backbone: { ...backbone.describe(), backbone_sha256: await backboneSha256(backbone.read, backbone.cfg) },
    extra: {},
  };
  await writeFile(path, writeCheckpoint(cfg, run));
}
