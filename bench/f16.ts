// `npx tsx bench/f16.ts` (script line: "bench:f16": "tsx bench/f16.ts"): mixed precision against f32 on the
// same device, two lines:
//   1. a CLoRA training step (forward, backward, update; one submission) timed f16 vs f32 on a small ViT
//      that an emulated GPU runs in reasonable time (--steps N, default 6 after 2 warm-up steps);
//   2. the planned peak activation bytes per sample of a ViT-S/16 training step (224², depth 12, width
//      384) f16 vs f32, recorded and not run (GpuContext.dryRun), so it costs no GPU time.
// Weights are seeded (or zero, for the plan): neither time nor memory depends on their values.
import { createFineTuneModel, initialTensors } from '../src/clora/model';
import { DEFAULT_ADAPTER_SETTINGS, type AdapterSettings } from '../src/clora/settings';
import type { Dataset } from '../src/data/dataset';
import { adapterName, type GpuContext } from '../src/gpu/context';
import { formatBytes } from '../src/gpu/errors';
import { createNodeGpuContext } from '../src/gpu/node';
import { vitShapes, type VitConfig } from '../src/nn/vit';
import { Rng } from '../src/train/rng';
import { Trainer, type Precision } from '../src/train/trainer';

const argSteps = process.argv.indexOf('--steps');
const STEPS = argSteps > 0 ? Number(process.argv[argSteps + 1]) : 6;
const WARMUP = 2;
const SMALL: VitConfig = { depth: 4, dim: 128, heads: 2, patch: 8, imageSize: 64, channels: 3, mlpDim: 512, tokens: 65, classes: 0 };
const VIT_S: VitConfig = { depth: 12, dim: 384, heads: 6, patch: 16, imageSize: 224, channels: 3, mlpDim: 1536, tokens: 197, classes: 0 };
const CLASSES = ['a', 'b', 'c', 'd'];
const SETTINGS: AdapterSettings = { ...DEFAULT_ADAPTER_SETTINGS };

function dataset(cfg: VitConfig, count: number): Dataset {
  const rng = new Rng(7);
  const per = 3 * cfg.imageSize * cfg.imageSize;
  return {
    classes: CLASSES,
    sampleShape: [3, cfg.imageSize, cfg.imageSize],
    count,
    inputs: Float32Array.from({ length: count * per }, () => rng.uniform(-1, 1)),
    labels: Int32Array.from({ length: count }, (_, i) => i % CLASSES.length),
    skipped: [],
  };
}

async function model(ctx: GpuContext, cfg: VitConfig, seeded: boolean) {
  const shapes = vitShapes(cfg);
  const rng = new Rng(3);
  const read = async (name: string) => {
    const n = shapes.get(name)!.reduce((a, b) => a * b, 1);
    return seeded ? Float32Array.from({ length: n }, () => rng.uniform(-0.05, 0.05)) : new Float32Array(n);
  };
  return createFineTuneModel(ctx, cfg, SETTINGS, CLASSES, read, initialTensors(cfg, SETTINGS, CLASSES.length, new Rng(1)));
}

async function stepSeconds(ctx: GpuContext, precision: Precision, batch: number): Promise<number> {
  const m = await model(ctx, SMALL, true);
  const trainer = await Trainer.create(m, dataset(SMALL, batch * 4), { optimizer: 'adamw', lr: 1e-3, weightDecay: 1e-4, steps: WARMUP + STEPS, batchSize: batch, warmup: 0, labelSmoothing: 0, seed: 1, shuffle: true, logEvery: 1000, precision });
  await trainer.prepare();
  let start = 0;
  await trainer.run(undefined, (step) => step === WARMUP);
  await ctx.sync();
  start = performance.now();
  await trainer.run();
  await ctx.sync();
  const seconds = (performance.now() - start) / 1000 / STEPS;
  trainer.dispose();
  m.dispose();
  return seconds;
}

async function activationBytesPerSample(ctx: GpuContext, precision: Precision): Promise<number> {
  const m = await model(ctx, VIT_S, false);
  const trainer = await Trainer.create(m, dataset(VIT_S, 8), { optimizer: 'adamw', lr: 1e-3, weightDecay: 1e-4, steps: 1, batchSize: 8, warmup: 0, labelSmoothing: 0, seed: 1, shuffle: false, logEvery: 1, precision, recompute: false });
  const bytes = trainer.planMemory().bytesPerSample.keep;
  trainer.dispose();
  m.dispose();
  ctx.pool.trim();
  return bytes;
}

const ctx = await createNodeGpuContext();
ctx.waits.scheme = 'sleep';
console.log(`adapter: ${adapterName(ctx.adapter)}; shader-f16: ${ctx.features.has('shader-f16') ? 'yes' : 'no'}`);
if (!ctx.features.has('shader-f16')) {
  console.log('this adapter has no shader-f16: nothing to compare');
  process.exit(0);
}
const batch = 8;
const f32Step = await stepSeconds(ctx, 'f32', batch);
const f16Step = await stepSeconds(ctx, 'f16', batch);
console.log(
  `training step f16 vs f32, same device (engine): ${(f16Step * 1000).toFixed(0)} ms vs ${(f32Step * 1000).toFixed(0)} ms per step (×${(f32Step / f16Step).toFixed(2)} speed-up; ViT depth ${SMALL.depth} width ${SMALL.dim}, ${SMALL.tokens} tokens, batch ${batch}, CLoRA q,v; mean of ${STEPS} steps after ${WARMUP})`,
);
const f32Bytes = await activationBytesPerSample(ctx, 'f32');
const f16Bytes = await activationBytesPerSample(ctx, 'f16');
console.log(
  `peak activation bytes f16 vs f32: ${formatBytes(f16Bytes)} vs ${formatBytes(f32Bytes)} per sample (×${(f16Bytes / f32Bytes).toFixed(2)}; ViT-S/16 224², training step keeping activations, planned by a dry run)`,
);
ctx.destroy();
