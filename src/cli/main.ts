// `npm run clora -- <command> [options]`: the engine from the command line, on Dawn's WebGPU (clora-spec §3).
import { existsSync, statSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { mergedExport, peftExport } from '../clora/export';
import { modelFile, readAdapterFile, type AdapterFile } from '../clora/files';
import { createFineTuneModel, initialTensors, type FineTuneModel } from '../clora/model';
import { DEFAULT_ADAPTER_SETTINGS, parseTargets, SettingsError, validateAdapterSettings, type AdapterSettings, type Method } from '../clora/settings';
import { evaluate, formatEvaluation } from '../train/evaluate';
import { predictLogits } from '../train/predict';
import { DatasetError, inputPixels, type Dataset } from '../data/dataset';
import { loadFolderDataset, loadTensorDataset } from '../data/load-node';
import { adapterName, type GpuContext } from '../gpu/context';
import { shapeText } from '../gpu/errors';
import { createNodeGpuContext } from '../gpu/node';
import { describeProfile } from '../gpu/profile';
import { bytesSource, openSafetensors, writeSafetensors } from '../io/safetensors';
import { vitShapes } from '../nn/vit';
import { Rng } from '../train/rng';
import { DEFAULT_TRAIN_OPTIONS, Trainer, validateTrainOptions, type OptimizerName, type TrainOptions } from '../train/trainer';
import { deviceCommand } from './device';
import { openBackbone, UsageError, type Backbone } from './model-source';

const USAGE = `usage: npm run clora -- <command> [options]

commands:
  forward --model M [--adapter A] [--heads H] --input X --output Y
      logits of the backbone (plus adapter) for pixel_values [N,3,H,W] in X, written to Y as logits [N,C]
  train --model M --data DATA [--init A0] --method clora|lora|head|full --out A
        [--rank 8 --spaces 4 --targets q,v --scale 1 --sade-weight 0.1 --dropout 0.1]
        [--epochs 10 | --steps K] [--batch-size 32 --micro-batch N --optimizer adamw|sgd --lr 1e-3
        --weight-decay 1e-4 --warmup 0 --label-smoothing 0 --seed 0 --no-shuffle --augment --log-every 10 --precision f32|f16]
  eval --model M --adapter A --data DATA [--json]
  export --model M --adapter A --format peft|merged --out PATH
  device [--json]
      the GPU adapter, the device profile chosen from it (emulated, integrated or discrete; set
      CLORA_DEVICE_PROFILE to force one) and the kernel programs it picks for a ViT-B/16 training step

M is a .safetensors file, a URL (downloaded once into ~/.cache/clora-web), or a known model id.
DATA is a tensor file (pixel_values [N,3,H,W] and labels [N]) or a folder with one sub-folder of images per class.
--warmup 0 keeps the learning rate constant; with a warm-up the rate then decays along a cosine.`;

/** Images per forward pass in forward/eval: bounds GPU memory for large inputs. */
const FORWARD_CHUNK = 16;

type Values = Record<string, string | boolean | undefined>;

function requireOption(values: Values, name: string): string {
  const v = values[name];
  if (typeof v !== 'string' || v === '') throw new UsageError(`--${name} is required.\n\n${USAGE}`);
  return v;
}

function numberOption(values: Values, name: string, fallback: number, integer = false): number {
  const v = values[name];
  if (v === undefined) return fallback;
  const n = Number(v);
  if (typeof v !== 'string' || v.trim() === '' || !Number.isFinite(n) || (integer && !Number.isInteger(n))) {
    throw new UsageError(`--${name} must be ${integer ? 'a whole number' : 'a number'}, got "${String(v)}".`);
  }
  return n;
}

async function readTensorFile(path: string, key: string): Promise<{ shape: number[]; data: Float32Array<ArrayBuffer> }> {
  if (!existsSync(path)) throw new UsageError(`${path}: no such file.`);
  const file = await openSafetensors(bytesSource(new Uint8Array(await readFile(path)), path));
  const info = file.tensors.get(key);
  if (!info) throw new UsageError(`${path} has no "${key}" tensor (it has: ${file.names().slice(0, 8).join(', ') || 'nothing'}).`);
  return { shape: info.shape, data: await file.readF32(key) };
}

async function openAdapter(path: string, backbone: Backbone, opts: { method?: Method; classCount?: number } = {}): Promise<AdapterFile> {
  if (!existsSync(path)) throw new UsageError(`${path}: no such adapter file.`);
  const file = await openSafetensors(bytesSource(new Uint8Array(await readFile(path)), path));
  return readAdapterFile(file, backbone.cfg, opts);
}

async function loadData(ctx: GpuContext, path: string, backbone: Backbone, classNames?: string[]): Promise<Dataset> {
  if (!existsSync(path)) throw new UsageError(`--data ${path}: no such file or folder.`);
  const data = statSync(path).isDirectory() ? await loadFolderDataset(ctx, path, backbone.preprocess, classNames) : await loadTensorDataset(path);
  for (const s of data.skipped) process.stderr.write(`skipped ${s.file}: ${s.reason}\n`);
  const [c, h, w] = data.sampleShape;
  if (c !== backbone.cfg.channels || h !== backbone.cfg.imageSize || w !== backbone.cfg.imageSize) {
    throw new DatasetError(`The data holds images of shape [${c}, ${h}, ${w}]; the model takes [${backbone.cfg.channels}, ${backbone.cfg.imageSize}, ${backbone.cfg.imageSize}].`);
  }
  return data;
}

async function modelFromAdapter(ctx: GpuContext, backbone: Backbone, adapter: AdapterFile): Promise<FineTuneModel> {
  return createFineTuneModel(ctx, backbone.cfg, adapter.settings, adapter.classes, backbone.read, adapter.tensors);
}

async function forward(ctx: GpuContext, argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { model: { type: 'string' }, adapter: { type: 'string' }, heads: { type: 'string' }, input: { type: 'string' }, output: { type: 'string' } } });
  const inputPath = requireOption(values, 'input');
  const outputPath = requireOption(values, 'output');
  const pixels = await readTensorFile(inputPath, 'pixel_values');
  const backbone = await openBackbone(requireOption(values, 'model'), values.heads === undefined ? undefined : numberOption(values, 'heads', 0, true));
  try {
    const { cfg } = backbone;
    const [n, c, h, w] = pixels.shape as [number, number, number, number];
    if (pixels.shape.length !== 4 || c !== cfg.channels || h !== cfg.imageSize || w !== cfg.imageSize) {
      throw new UsageError(`pixel_values in ${inputPath} is ${shapeText(pixels.shape)}; this model takes [N, ${cfg.channels}, ${cfg.imageSize}, ${cfg.imageSize}].`);
    }
    let adapter: AdapterFile;
    if (values.adapter) adapter = await openAdapter(values.adapter, backbone);
    else {
      if (cfg.classes === 0) throw new UsageError(`${backbone.spec} has no classifier head (head.weight), so it has no logits to give; pass --adapter.`);
      // The stored head as a `head` adapter: the same code path, nothing trains.
      const classes = Array.from({ length: cfg.classes }, (_, i) => String(i));
      adapter = { settings: { ...DEFAULT_ADAPTER_SETTINGS, method: 'head' }, classes, tensors: new Map([['head.weight', await backbone.read('head.weight')], ['head.bias', await backbone.read('head.bias')]]), metadata: {} };
    }
    const model = await modelFromAdapter(ctx, backbone, adapter);
    const logits = await predictLogits(model, pixels.data, n, [c, h, w], FORWARD_CHUNK);
    const classes = adapter.classes.length;
    await writeFile(outputPath, writeSafetensors([{ name: 'logits', shape: [n, classes], data: logits }], { format: 'logits', model: backbone.spec, classes: JSON.stringify(adapter.classes) }));
    process.stderr.write(`wrote logits [${n}, ${classes}] to ${outputPath}\n`);
    model.dispose();
  } finally {
    await backbone.close();
  }
}

function adapterSettingsFrom(values: Values): AdapterSettings {
  const method = (values.method ?? 'clora') as Method;
  const settings: AdapterSettings = {
    method,
    rank: numberOption(values, 'rank', DEFAULT_ADAPTER_SETTINGS.rank, true),
    spaces: numberOption(values, 'spaces', DEFAULT_ADAPTER_SETTINGS.spaces, true),
    targets: typeof values.targets === 'string' ? parseTargets(values.targets) : [...DEFAULT_ADAPTER_SETTINGS.targets],
    scale: numberOption(values, 'scale', DEFAULT_ADAPTER_SETTINGS.scale),
    sadeWeight: numberOption(values, 'sade-weight', DEFAULT_ADAPTER_SETTINGS.sadeWeight),
    dropout: numberOption(values, 'dropout', DEFAULT_ADAPTER_SETTINGS.dropout),
  };
  validateAdapterSettings(settings);
  return settings;
}

function trainOptionsFrom(values: Values): TrainOptions {
  if (values.epochs !== undefined && values.steps !== undefined) throw new UsageError('Give --epochs or --steps, not both.');
  const optimizer = (values.optimizer ?? 'adamw') as string;
  if (optimizer !== 'adamw' && optimizer !== 'sgd') throw new SettingsError(`Unknown optimizer "${optimizer}": use adamw or sgd.`);
  const precision = (values.precision ?? 'f32') as string;
  if (precision !== 'f32' && precision !== 'f16') throw new SettingsError(`Unknown precision "${precision}": use f32 or f16.`);
  return {
    precision,
    optimizer: optimizer as OptimizerName,
    lr: numberOption(values, 'lr', DEFAULT_TRAIN_OPTIONS.lr),
    weightDecay: numberOption(values, 'weight-decay', DEFAULT_TRAIN_OPTIONS.weightDecay),
    epochs: values.steps === undefined ? numberOption(values, 'epochs', DEFAULT_TRAIN_OPTIONS.epochs!, true) : undefined,
    steps: values.steps === undefined ? undefined : numberOption(values, 'steps', 1, true),
    batchSize: numberOption(values, 'batch-size', DEFAULT_TRAIN_OPTIONS.batchSize, true),
    microBatchSize: values['micro-batch'] === undefined ? undefined : numberOption(values, 'micro-batch', 1, true),
    warmup: numberOption(values, 'warmup', DEFAULT_TRAIN_OPTIONS.warmup, true),
    labelSmoothing: numberOption(values, 'label-smoothing', DEFAULT_TRAIN_OPTIONS.labelSmoothing),
    seed: numberOption(values, 'seed', DEFAULT_TRAIN_OPTIONS.seed, true),
    shuffle: !values['no-shuffle'],
    augment: values.augment ? { flip: true, randomResizedCrop: true } : undefined,
    logEvery: numberOption(values, 'log-every', DEFAULT_TRAIN_OPTIONS.logEvery, true),
  };
}

const TRAIN_OPTIONS = {
  model: { type: 'string' },
  data: { type: 'string' },
  init: { type: 'string' },
  method: { type: 'string' },
  rank: { type: 'string' },
  spaces: { type: 'string' },
  targets: { type: 'string' },
  scale: { type: 'string' },
  'sade-weight': { type: 'string' },
  dropout: { type: 'string' },
  epochs: { type: 'string' },
  steps: { type: 'string' },
  'batch-size': { type: 'string' },
  'micro-batch': { type: 'string' },
  optimizer: { type: 'string' },
  lr: { type: 'string' },
  'weight-decay': { type: 'string' },
  warmup: { type: 'string' },
  'label-smoothing': { type: 'string' },
  seed: { type: 'string' },
  'no-shuffle': { type: 'boolean' },
  augment: { type: 'boolean' },
  'log-every': { type: 'string' },
  // Not in the contract: mixed precision (f16 activations, f32 weights, dynamic loss scaling).
  precision: { type: 'string' },
  heads: { type: 'string' },
  out: { type: 'string' },
} as const;

async function train(ctx: GpuContext, argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: TRAIN_OPTIONS });
  const outPath = requireOption(values, 'out');
  const dataPath = requireOption(values, 'data');
  // Settings first: a bad one is refused before anything is loaded onto the GPU.
  let settings = adapterSettingsFrom(values);
  const options = trainOptionsFrom(values);
  const backbone = await openBackbone(requireOption(values, 'model'), values.heads === undefined ? undefined : numberOption(values, 'heads', 0, true));
  try {
    let start: Map<string, Float32Array>;
    let classes: string[];
    let data: Dataset;
    if (values.init) {
      const init = await openAdapter(values.init, backbone, { method: settings.method });
      for (const key of ['rank', 'spaces'] as const) {
        if (values[key] !== undefined && settings.method === 'clora' && init.settings[key] !== settings[key]) {
          throw new SettingsError(`--${key} ${settings[key]} differs from the --init adapter's ${key} ${init.settings[key]}.`);
        }
      }
      if (values.targets !== undefined && init.settings.targets.join(',') !== settings.targets.join(',')) {
        throw new SettingsError(`--targets ${settings.targets.join(',')} differs from the --init adapter's targets ${init.settings.targets.join(',')}.`);
      }
      settings = { ...settings, rank: init.settings.rank, spaces: init.settings.spaces, targets: init.settings.targets };
      classes = init.classes;
      data = await loadData(ctx, dataPath, backbone, classes);
      if (data.classes.length > classes.length) throw new SettingsError(`The data has ${data.classes.length} classes but the --init adapter has ${classes.length}.`);
      start = init.tensors;
    } else {
      data = await loadData(ctx, dataPath, backbone);
      classes = data.classes;
      start = new Map();
    }
    validateTrainOptions(options, data);
    if (!values.init) start = initialTensors(backbone.cfg, settings, classes.length, new Rng(options.seed ^ 0x5eed));
    const model = await createFineTuneModel(ctx, backbone.cfg, settings, classes, backbone.read, start);
    const trainer = await Trainer.create(model, data, options);
    process.stderr.write(`training ${settings.method} on ${data.count} images of ${classes.length} classes: ${trainer.totalSteps} steps, ${model.parts.trainable.trainableParameterCount} trainable parameters\n`);
    await trainer.run((m) => {
      process.stderr.write(`step ${m.step}/${m.totalSteps}  loss ${m.loss.toFixed(4)}  ce ${m.crossEntropy.toFixed(4)}  sade ${m.sade.toFixed(4)}  lr ${m.lr.toPrecision(3)}  ${m.imagesPerSecond.toFixed(1)} img/s  eta ${m.etaSeconds.toFixed(0)} s${m.lossScale === undefined ? "" : `  loss scale ${m.lossScale} (skipped ${m.skippedSteps})`}\n`);
    });
    const last = trainer.history.at(-1);
    const { tensors, metadata } = await modelFile(model, {
      ...backbone.describe(),
      training: JSON.stringify({ ...options, steps: trainer.totalSteps }),
      ...(last ? { final_loss: String(last.loss) } : {}),
    });
    await writeFile(outPath, writeSafetensors(tensors, metadata));
    process.stderr.write(`wrote ${settings.method} adapter to ${outPath}\n`);
    trainer.dispose();
    model.dispose();
  } finally {
    await backbone.close();
  }
}

async function evalCommand(ctx: GpuContext, argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { model: { type: 'string' }, adapter: { type: 'string' }, data: { type: 'string' }, heads: { type: 'string' }, json: { type: 'boolean' } } });
  const backbone = await openBackbone(requireOption(values, 'model'), values.heads === undefined ? undefined : numberOption(values, 'heads', 0, true));
  try {
    const adapter = await openAdapter(requireOption(values, 'adapter'), backbone);
    const data = await loadData(ctx, requireOption(values, 'data'), backbone, adapter.classes);
    const model = await modelFromAdapter(ctx, backbone, adapter);
    const logits = await predictLogits(model, inputPixels(data), data.count, data.sampleShape, FORWARD_CHUNK);
    const result = evaluate(logits, data.labels, adapter.classes);
    process.stdout.write(values.json ? `${JSON.stringify(result, null, 2)}\n` : formatEvaluation(result));
    model.dispose();
  } finally {
    await backbone.close();
  }
}

async function exportCommand(_ctx: GpuContext, argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { model: { type: 'string' }, adapter: { type: 'string' }, format: { type: 'string' }, out: { type: 'string' }, heads: { type: 'string' } } });
  const format = requireOption(values, 'format');
  if (format !== 'peft' && format !== 'merged') throw new UsageError(`--format must be peft or merged, got "${format}".`);
  const out = requireOption(values, 'out');
  const backbone = await openBackbone(requireOption(values, 'model'), values.heads === undefined ? undefined : numberOption(values, 'heads', 0, true));
  try {
    const adapter = await openAdapter(requireOption(values, 'adapter'), backbone);
    if (format === 'peft') {
      const { config, tensors } = peftExport(backbone.cfg, adapter, backbone.spec);
      await mkdir(out, { recursive: true });
      await writeFile(join(out, 'adapter_config.json'), `${JSON.stringify(config, null, 2)}\n`);
      await writeFile(join(out, 'adapter_model.safetensors'), writeSafetensors(tensors, { format: 'pt' }));
      process.stderr.write(`wrote PEFT adapter (adapter_config.json, adapter_model.safetensors) to ${out}\n`);
    } else {
      const shapes = vitShapes({ ...backbone.cfg, classes: 0 });
      const tensors = await mergedExport(backbone.cfg, adapter, [...shapes.keys()], backbone.read, shapes);
      await writeFile(out, writeSafetensors(tensors, { ...backbone.describe(), classes: JSON.stringify(adapter.classes), merged_from: adapter.settings.method }));
      process.stderr.write(`wrote merged model to ${out}\n`);
    }
  } finally {
    await backbone.close();
  }
}

const COMMANDS: Record<string, (ctx: GpuContext, argv: string[]) => Promise<void>> = { forward, train, eval: evalCommand, export: exportCommand, device: deviceCommand };
/** Commands that run kernels: they say which device and profile they run on. */
const GPU_COMMANDS = new Set(['forward', 'train', 'eval']);

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === '--help' || command === '-h') {
    process.stdout.write(`${USAGE}\n`);
    return command ? 0 : 2;
  }
  const run = COMMANDS[command];
  if (!run) {
    process.stderr.write(`Unknown command "${command}".\n\n${USAGE}\n`);
    return 2;
  }
  let ctx: GpuContext | undefined;
  try {
    ctx = await createNodeGpuContext();
    if (GPU_COMMANDS.has(command)) process.stderr.write(`device: ${adapterName(ctx.adapter)}, ${describeProfile(ctx.profile)} profile\n`);
    await run(ctx, rest);
    return 0;
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`error: ${(error as Error).message}\n\n${USAGE}\n`);
      return 2;
    }
    // User-caused errors are sentences already; anything else keeps its stack for a bug report.
    const known = error instanceof Error && error.name !== 'Error' && error.name !== 'TypeError' && error.name !== 'RangeError';
    process.stderr.write(`error: ${known ? (error as Error).message : error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    return 1;
  } finally {
    ctx?.destroy();
  }
}

const invokedDirectly = process.argv[1] !== undefined && /src[\\/]cli[\\/]main\.ts$/.test(process.argv[1]);
if (invokedDirectly) {
  main(process.argv.slice(2)).then((code) => process.exit(code));
}
