// A training step as users run it: the engine's Trainer (the loop `clora train` and the web worker use) on a
// seeded backbone and a synthetic data set, timed over a run of steps after warm-up steps. Shared by bench:gpu
// (ViT-B/16, f32 and f16) and bench:peer (the loop against the isolated step).
import { createFineTuneModel, initialTensors, type FineTuneModel } from '../src/clora/model';
import type { AdapterSettings } from '../src/clora/settings';
import type { Dataset } from '../src/data/dataset';
import type { GpuContext } from '../src/gpu/context';
import { vitShapes, type VitConfig } from '../src/nn/vit';
import { Rng } from '../src/train/rng';
import { Trainer, type Precision } from '../src/train/trainer';

export interface TrainerTiming {
  msPerStep: number;
  imagesPerSecond: number;
  /** Peak bytes the buffer pool held over the timed steps (weights, optimizer state, activations). */
  peakBytes: number;
  dispatchesPerStep: number;
  submissionsPerStep: number;
  /** The memory plan the trainer chose. */
  microBatchSize: number;
  recompute: boolean;
}

export interface TrainerRunOptions {
  batch: number;
  /** Timed steps, after `warmup` untimed ones (compilation, the pool's first allocations). */
  steps: number;
  warmup: number;
  precision?: Precision;
  /** Metrics read back every this many steps (default: once, at the end). */
  logEvery?: number;
  memoryBudget?: number;
}

/** Images of the model's size with seeded pixels, labels cycling through the classes. */
export function syntheticImages(cfg: VitConfig, count: number, classes: number, seed: number): Dataset {
  const rng = new Rng(seed);
  const per = cfg.channels * cfg.imageSize * cfg.imageSize;
  return {
    classes: Array.from({ length: classes }, (_, i) => String(i)),
    sampleShape: [cfg.channels, cfg.imageSize, cfg.imageSize],
    count,
    inputs: Float32Array.from({ length: count * per }, () => rng.uniform(-1, 1)),
    labels: Int32Array.from({ length: count }, (_, i) => i % classes),
    skipped: [],
  };
}

/** A fine-tuning model on a seeded backbone (small uniform weights: activations stay O(1)), adapter from its initialisation. */
export async function seededModel(ctx: GpuContext, cfg: VitConfig, settings: AdapterSettings, classes: string[], seed: number): Promise<FineTuneModel> {
  const shapes = vitShapes({ ...cfg, classes: 0 });
  const rng = new Rng(seed);
  const read = async (name: string): Promise<Float32Array> => {
    const n = shapes.get(name)!.reduce((a, b) => a * b, 1);
    if (/norm\d?\.weight$/.test(name)) return new Float32Array(n).fill(1);
    return Float32Array.from({ length: n }, () => rng.uniform(-0.05, 0.05));
  };
  return createFineTuneModel(ctx, cfg, settings, classes, read, initialTensors(cfg, settings, classes.length, new Rng(seed + 1)));
}

/** Runs `warmup` then `steps` steps of the Trainer on `model` and `data` (AdamW, lr 1e-3) and times the latter. */
export async function timeTrainer(ctx: GpuContext, model: FineTuneModel, data: Dataset, o: TrainerRunOptions): Promise<TrainerTiming> {
  const trainer = await Trainer.create(model, data, {
    optimizer: 'adamw',
    lr: 1e-3,
    weightDecay: 0,
    steps: o.warmup + o.steps,
    batchSize: o.batch,
    warmup: 0,
    labelSmoothing: 0,
    seed: 1,
    shuffle: true,
    logEvery: o.logEvery ?? o.warmup + o.steps,
    precision: o.precision,
    memoryBudget: o.memoryBudget,
  });
  try {
    const prepared = await trainer.prepare();
    if (o.warmup > 0) await trainer.run(undefined, (step) => step === o.warmup);
    await ctx.sync();
    ctx.pool.resetPeak();
    const before = { ...ctx.stats };
    const start = performance.now();
    await trainer.run();
    await ctx.sync();
    const ms = (performance.now() - start) / o.steps;
    return {
      msPerStep: ms,
      imagesPerSecond: (o.batch * 1000) / ms,
      peakBytes: ctx.pool.peakInUseBytes,
      dispatchesPerStep: (ctx.stats.dispatches - before.dispatches) / o.steps,
      submissionsPerStep: (ctx.stats.submissions - before.submissions) / o.steps,
      microBatchSize: prepared.plan.microBatchSize,
      recompute: prepared.plan.recompute,
    };
  } finally {
    trainer.dispose();
  }
}
