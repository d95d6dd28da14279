// `npm run clora -- <command> [options]`: the engine from the command line, on Dawn's WebGPU (clora-spec §3).
import { existsSync, statSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { mergedExport, peftExport } from '../clora/export';
import { checkOnnxFits, mergedModelToOnnx } from '../clora/onnx-export';
import { modelFile, readAdapterFile, type AdapterFile } from '../clora/files';
import { createFineTuneModel, initialTensors, type FineTuneModel } from '../clora/model';
import { DEFAULT_ADAPTER_SETTINGS, METHOD_TRAINS, METHODS, parseTargets, settingApplies, SettingsError, validateAdapterSettings, type AdapterSettings, type Method } from '../clora/settings';
import { evaluate, formatEvaluation } from '../train/evaluate';
import { backboneHeadAdapter, datasetLogits, predictLogits } from '../train/predict';
import { countText, DatasetError, type Dataset } from '../data/dataset';
import { adapterName, type GpuContext } from '../gpu/context';
import { createNodeGpuContext } from '../gpu/node';
import { shapeText } from '../gpu/errors';
import { describeProfile } from '../gpu/profile';
import { bytesSource, openSafetensors, safetensorsParts, writeSafetensors } from '../io/safetensors';
import { pointTensorFileParts } from '../data/points/tensor-file';
import { imageBackbone } from '../nn/backbone-meta';
import { backboneShapes } from '../nn/backbone';
import { Rng } from '../train/rng';
import { DEFAULT_TRAIN_OPTIONS, Trainer, validateTrainOptions, type OptimizerName, type TrainOptions } from '../train/trainer';
import { deviceCommand } from './device';
import { augmentationFor, loadData, readModelInput } from './inputs';
import { openBackbone, UsageError, type Backbone, type BackboneOptions } from './model-source';
import { checkResumedData, checkUnfinished, openCheckpoint, resumedSettings, saveState } from './train-state';
import type { CheckpointRun } from '../io/checkpoint-file';

const USAGE = `usage: npm run clora -- <command> [options]

commands:
  forward --model M [--adapter A] [--heads H] --input X --output Y
      logits of the backbone (plus adapter) for pixel_values [N,3,H,W] (or, for a point backbone, points
      [N,P,3]) in X, written to Y as logits [N,C]
  train --model M --data DATA [--init A0] --method clora|lora|head|full --out A
        [--rank 8 --spaces 4 --targets q,v --scale 1 --sade-weight 0.1 --dropout 0.1]
        [--epochs 10 | --steps K] [--batch-size 32 --micro-batch N --optimizer adamw|sgd --lr 1e-3
        --weight-decay 1e-4 --warmup 0 --label-smoothing 0 --seed 0 --no-shuffle --augment --log-every 10 --precision f32|f16]
        [point backbones: --rotate --jitter (with --augment: Point-MAE's scale and translate)]
        [--save-state S] writes a training checkpoint at the end; --resume S continues from one (then the
        run's settings come from S; --model, --data and --out as before)
  eval --model M --adapter A --data DATA [--json]
  export --model M --adapter A --format peft|merged|onnx --out PATH
      onnx: the merged model as one .onnx file (opset 17): input pixel_values [N,3,H,W], output logits [N,C]
  pack --model M --data DATA --out FILE
      DATA as train reads it for M (a folder of point files or images: each brought to the backbone's input),
      written as one tensor file (points [N,P,3] or pixel_values [N,3,H,W], labels [N], classes): what the
      PyTorch companion (python/) takes as --data
  device [--json]
      the GPU adapter, the device profile chosen from it (emulated, integrated or discrete; set
      CLORA_DEVICE_PROFILE to force one) and the kernel programs it picks for a ViT-B/16 training step

M is a .safetensors or PyTorch .pth file, a URL (downloaded once into ~/.cache/clora-web), or a known model id:
a timm ViT, or a Point-MAE point transformer (every command then also takes --points P --groups G
--group-size K; the file's metadata or 1024, 64 and 32 otherwise).
DATA is a tensor file (pixel_values [N,3,H,W], or points [N,P,3], and labels [N]) or a folder with one
sub-folder per class of images (or of point files: .ply .obj .off .xyz .txt .pts .npy).
--warmup 0 keeps the learning rate constant; with a warm-up the rate then decays along a cosine.`;

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

async function openAdapter(path: string, backbone: Backbone, opts: { method?: Method; classCount?: number } = {}): Promise<AdapterFile> {
  if (!existsSync(path)) throw new UsageError(`${path}: no such adapter file.`);
  const file = await openSafetensors(bytesSource(new Uint8Array(await readFile(path)), path));
  return readAdapterFile(file, backbone.cfg, opts);
}

/** Settings the backbone's weights do not carry (src/nn/backbone-meta.ts): --heads, and for point backbones the grouping. */
const BACKBONE_OPTIONS = {
  heads: { type: 'string' },
  points: { type: 'string' },
  groups: { type: 'string' },
  'group-size': { type: 'string' },
} as const;

function backboneOptions(values: Values): BackboneOptions {
  const count = (name: string): number | undefined => (values[name] === undefined ? undefined : numberOption(values, name, 0, true));
  return { heads: count('heads'), points: count('points'), groups: count('groups'), groupSize: count('group-size') };
}

/** Opens --model with the backbone options, saying where an option replaces what the file records. */
async function openModelOption(values: Values): Promise<Backbone> {
  const backbone = await openBackbone(requireOption(values, 'model'), backboneOptions(values));
  if (backbone.kind === 'point') for (const note of backbone.notes) process.stderr.write(`note: ${note}\n`);
  return backbone;
}

async function modelFromAdapter(ctx: GpuContext, backbone: Backbone, adapter: AdapterFile): Promise<FineTuneModel> {
  return createFineTuneModel(ctx, backbone.cfg, adapter.settings, adapter.classes, backbone.read, adapter.tensors);
}

async function forward(ctx: GpuContext, argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { model: { type: 'string' }, adapter: { type: 'string' }, input: { type: 'string' }, output: { type: 'string' }, ...BACKBONE_OPTIONS } });
  const inputPath = requireOption(values, 'input');
  const outputPath = requireOption(values, 'output');
  if (!existsSync(inputPath)) throw new UsageError(`${inputPath}: no such file.`);
  const backbone = await openModelOption(values);
  try {
    const { cfg } = backbone;
    const input = await readModelInput(inputPath, backbone);
    const n = input.count;
    let adapter: AdapterFile;
    if (values.adapter) adapter = await openAdapter(values.adapter, backbone);
    else {
      if (cfg.classes === 0) throw new UsageError(`${backbone.spec} has no classifier head (head.weight), so it has no logits to give; pass --adapter.`);
      adapter = await backboneHeadAdapter(backbone.headClasses, backbone.read);
    }
    const model = await modelFromAdapter(ctx, backbone, adapter);
    const logits = await predictLogits(model, input.data, n, input.sampleShape);
    const classes = adapter.classes.length;
    await writeFile(outputPath, writeSafetensors([{ name: 'logits', shape: [n, classes], data: logits }], { format: 'logits', model: backbone.spec, classes: JSON.stringify(adapter.classes) }));
    process.stderr.write(`wrote logits [${n}, ${classes}] to ${outputPath}\n`);
    model.dispose();
  } finally {
    await backbone.close();
  }
}

/** The adapter options of `train`, and the setting each one sets. */
const ADAPTER_OPTIONS: [option: string, setting: keyof AdapterSettings][] = [
  ['rank', 'rank'],
  ['spaces', 'spaces'],
  ['targets', 'targets'],
  ['scale', 'scale'],
  ['sade-weight', 'sadeWeight'],
  ['dropout', 'dropout'],
];

/** Adapter options given on the command line that the method does not use: ignored, each with a note. */
function noteUnusedOptions(values: Values, method: Method): void {
  if (!METHODS.includes(method)) return; // validateAdapterSettings names the unknown method
  for (const [option, setting] of ADAPTER_OPTIONS) {
    if (values[option] === undefined || settingApplies(method, setting)) continue;
    process.stderr.write(`note: --${option} does not apply to --method ${method} (it trains ${METHOD_TRAINS[method]}); ignored.\n`);
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
  noteUnusedOptions(values, method);
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
  // Point backbones: rotation about the up axis and jitter, besides --augment's scale and translate.
  rotate: { type: 'boolean' },
  jitter: { type: 'boolean' },
  'log-every': { type: 'string' },
  // Not in the contract: mixed precision (f16 activations, f32 weights, dynamic loss scaling).
  precision: { type: 'string' },
  ...BACKBONE_OPTIONS,
  out: { type: 'string' },
  // Not in the contract: continue from / save a training checkpoint (src/cli/train-state.ts).
  resume: { type: 'string' },
  'save-state': { type: 'string' },
} as const;

async function train(ctx: GpuContext, argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: TRAIN_OPTIONS });
  const outPath = requireOption(values, 'out');
  const dataPath = requireOption(values, 'data');
  // Settings first: a bad one is refused before anything is loaded onto the GPU (a resumed run's come from its checkpoint).
  let settings = values.resume ? DEFAULT_ADAPTER_SETTINGS : adapterSettingsFrom(values);
  let options = values.resume ? DEFAULT_TRAIN_OPTIONS : trainOptionsFrom(values);
  const backbone = await openModelOption(values);
  try {
    // Augmentation depends on what the backbone takes (a resumed run keeps its checkpoint's).
    if (!values.resume) options = { ...options, augment: augmentationFor(values, backbone) };
    let start: Map<string, Float32Array>;
    let classes: string[];
    let data: Dataset;
    let resumed: CheckpointRun | undefined;
    if (values.resume) {
      if (values.init) throw new UsageError('Give --init or --resume, not both: --resume continues a run, --init starts a new one from an adapter.');
      resumed = await openCheckpoint(values.resume, backbone);
      ({ settings, options } = resumedSettings(resumed, values));
      const saved = options.augment;
      for (const flag of ['rotate', 'jitter'] as const) {
        if (values[flag] && !(saved && 'scaleAndTranslate' in saved && saved[flag])) throw new SettingsError(`--${flag} differs from the checkpoint, whose run does not use it: a resumed run keeps its settings.`);
      }
      classes = resumed.classes;
      data = await loadData(ctx, dataPath, backbone, classes);
      await checkResumedData(resumed, data);
      start = resumed.state.trainable;
    } else if (values.init) {
      const init = await openAdapter(values.init, backbone, { method: settings.method });
      // The adapter's shape comes from --init; a shape option given as well must agree with it. Options the
      // method does not use were noted and are not compared.
      for (const key of ['rank', 'spaces', 'targets'] as const) {
        if (values[key] === undefined || !settingApplies(settings.method, key)) continue;
        const given = String(settings[key]);
        const saved = String(init.settings[key]);
        if (given !== saved) throw new SettingsError(`--${key} ${given} differs from the --init adapter's ${key} ${saved}: leave --${key} out to continue with the adapter's own.`);
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
    if (!values.init && !resumed) start = initialTensors(backbone.cfg, settings, classes.length, new Rng(options.seed ^ 0x5eed));
    const model = await createFineTuneModel(ctx, backbone.cfg, settings, classes, backbone.read, start);
    const trainer = await Trainer.create(model, data, options);
    if (resumed) {
      checkUnfinished(resumed, trainer.totalSteps);
      trainer.loadState(resumed.state);
    }
    process.stderr.write(`training ${settings.method} on ${countText(data, data.count)} of ${classes.length} classes${resumed ? ` from step ${resumed.state.step}` : ''}: ${trainer.totalSteps} steps, ${model.parts.trainable.trainableParameterCount} trainable parameters\n`);
    await trainer.run((m) => {
      process.stderr.write(`step ${m.step}/${m.totalSteps}  loss ${m.loss.toFixed(4)}  ce ${m.crossEntropy.toFixed(4)}  sade ${m.sade.toFixed(4)}  lr ${m.lr.toPrecision(3)}  ${m.imagesPerSecond.toFixed(1)} ${data.sampleShape.length === 2 ? 'clouds' : 'img'}/s  eta ${m.etaSeconds.toFixed(0)} s${m.lossScale === undefined ? "" : `  loss scale ${m.lossScale} (skipped ${m.skippedSteps})`}\n`);
    });
    const last = trainer.history.at(-1);
    const { tensors, metadata } = await modelFile(model, {
      ...backbone.describe(),
      training: JSON.stringify({ ...options, steps: trainer.totalSteps }),
      ...(last ? { final_loss: String(last.loss) } : {}),
    });
    await writeFile(outPath, writeSafetensors(tensors, metadata));
    process.stderr.write(`wrote ${settings.method} adapter to ${outPath}\n`);
    if (values['save-state']) {
      await saveState(values['save-state'], trainer, backbone, options, data);
      process.stderr.write(`wrote the training state (step ${trainer.currentStep}) to ${values['save-state']}\n`);
    }
    trainer.dispose();
    model.dispose();
  } finally {
    await backbone.close();
  }
}

async function evalCommand(ctx: GpuContext, argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { model: { type: 'string' }, adapter: { type: 'string' }, data: { type: 'string' }, json: { type: 'boolean' }, ...BACKBONE_OPTIONS } });
  const backbone = await openModelOption(values);
  try {
    const adapter = await openAdapter(requireOption(values, 'adapter'), backbone);
    const data = await loadData(ctx, requireOption(values, 'data'), backbone, adapter.classes);
    const model = await modelFromAdapter(ctx, backbone, adapter);
    const { logits, labels } = await datasetLogits(model, data);
    const result = evaluate(logits, labels, adapter.classes);
    process.stdout.write(values.json ? `${JSON.stringify(result, null, 2)}\n` : formatEvaluation(result, data.sampleShape.length === 2 ? 'point clouds' : 'images'));
    model.dispose();
  } finally {
    await backbone.close();
  }
}

async function exportCommand(_ctx: GpuContext, argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { model: { type: 'string' }, adapter: { type: 'string' }, format: { type: 'string' }, out: { type: 'string' }, ...BACKBONE_OPTIONS } });
  const format = requireOption(values, 'format');
  if (format !== 'peft' && format !== 'merged' && format !== 'onnx') throw new UsageError(`--format must be peft, merged or onnx, got "${format}".`);
  const out = requireOption(values, 'out');
  const backbone = await openModelOption(values);
  try {
    const adapter = await openAdapter(requireOption(values, 'adapter'), backbone);
    if (format === 'peft') {
      const { config, tensors } = peftExport(backbone.cfg, adapter, backbone.spec);
      await mkdir(out, { recursive: true });
      await writeFile(join(out, 'adapter_config.json'), `${JSON.stringify(config, null, 2)}\n`);
      await writeFile(join(out, 'adapter_model.safetensors'), writeSafetensors(tensors, { format: 'pt' }));
      process.stderr.write(`wrote PEFT adapter (adapter_config.json, adapter_model.safetensors) to ${out}\n`);
    } else {
      // Refused before the weights are read: an ONNX file over 2 GB cannot be written; ONNX takes images only.
      const onnx = format === 'onnx' ? imageBackbone(backbone, 'ONNX export') : undefined;
      if (onnx) checkOnnxFits(onnx.cfg, adapter.classes.length);
      const shapes = backboneShapes(backbone.cfg);
      const tensors = await mergedExport(backbone.cfg, adapter, [...shapes.keys()], backbone.read, shapes);
      const metadata = { ...backbone.describe(), classes: JSON.stringify(adapter.classes), merged_from: adapter.settings.method };
      if (!onnx) {
        await writeFile(out, writeSafetensors(tensors, metadata));
        process.stderr.write(`wrote merged model to ${out}\n`);
      } else {
        await writeFile(out, mergedModelToOnnx(onnx.cfg, tensors, { classes: adapter.classes, preprocess: onnx.preprocess, metadata }));
        process.stderr.write(`wrote merged model as ONNX (input pixel_values [N, ${onnx.cfg.channels}, ${onnx.cfg.imageSize}, ${onnx.cfg.imageSize}], output logits [N, ${adapter.classes.length}]) to ${out}\n`);
      }
    }
  } finally {
    await backbone.close();
  }
}

/** Preprocessed model input (what the Node loaders give); 8-bit pixels are the browser's and never reach here. */
function modelInput(data: Dataset): Float32Array {
  if (!(data.inputs instanceof Float32Array)) throw new Error('Internal: pack expects preprocessed f32 samples.');
  return data.inputs;
}

/**
 * `pack`: --data read through the engine's own loaders for this backbone (point files brought to P points as
 * training brings them, images preprocessed as training preprocesses them) and written as one tensor file, so
 * another program (the PyTorch companion) trains on exactly what the engine trains on.
 */
async function packCommand(ctx: GpuContext, argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { model: { type: 'string' }, data: { type: 'string' }, out: { type: 'string' }, ...BACKBONE_OPTIONS } });
  const dataPath = requireOption(values, 'data');
  const out = requireOption(values, 'out');
  const backbone = await openModelOption(values);
  try {
    const data = await loadData(ctx, dataPath, backbone);
    if (data.count === 0) throw new DatasetError(`--data ${dataPath} holds no usable samples: nothing to pack.`);
    const metadata = { packed_by: 'clora-web pack', base_model: backbone.baseModel };
    const parts = backbone.kind === 'point'
      ? pointTensorFileParts(data, { ...metadata, num_points: String(data.sampleShape[0]) })
      : safetensorsParts([
          { name: 'pixel_values', shape: [data.count, ...data.sampleShape], data: modelInput(data) },
          { name: 'labels', shape: [data.count], data: data.labels },
        ], { ...metadata, classes: JSON.stringify(data.classes) });
    await writeFile(out, parts);
    process.stderr.write(`packed ${countText(data, data.count)} of ${data.classes.length} classes ${shapeText(data.sampleShape)} into ${out}\n`);
  } finally {
    await backbone.close();
  }
}

const COMMANDS: Record<string, (ctx: GpuContext, argv: string[]) => Promise<void>> = { forward, train, eval: evalCommand, export: exportCommand, pack: packCommand, device: deviceCommand };
/** Commands that run kernels: they say which device and profile they run on. */
const GPU_COMMANDS = new Set(['forward', 'train', 'eval', 'pack']);

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
