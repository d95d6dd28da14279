// `npm run bench:gpu [-- --quick] [--out FILE] [--memory-budget GiB] [--no-tfjs]`: the engine on whatever GPU
// Dawn finds (Vulkan, Metal or D3D12), in one command that writes JSON (bench/results/gpu.json by default):
//   1. the adapter and the device profile the engine chose for it;
//   2. the measured arithmetic peak: GFLOP/s of independent fused multiply-add chains, f32 and (with shader-f16) f16;
//   3. matmul at the ViT-B/16 shapes of a batch of 32 (x·Wᵀ of qkv, proj, fc1, fc2) as GFLOP/s and as a
//      fraction of that f32 peak (the goal: 35% or better);
//   4. fused attention at ViT-B/16's [32·12, 197, 64], forward and forward + backward;
//   5. one ViT-B/16 batch-32 CLoRA (r8 p4 on q, v) training step through the Trainer, f32 and f16: images/s,
//      peak memory, dispatches and submissions per step, and the memory plan;
//   6. tfjs-webgpu on the same LoRA step (the peer of bench:peer), interleaved with the engine's.
// --quick runs every stage on the small shapes an emulated GPU manages in seconds (npm test runs it, so the
// command is known to work before it is carried to a GPU). A benchmark, not a test: bounds checks are off
// (the kernels are proven by the tests), and figures from an emulator say nothing about a GPU.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_ADAPTER_SETTINGS, type AdapterSettings } from '../src/clora/settings';
import { deviceReport, type DeviceReport } from '../src/gpu/device-report';
import { formatBytes } from '../src/gpu/errors';
import { createNodeGpuContext } from '../src/gpu/node';
import type { VitConfig } from '../src/nn/vit';
import { benchAttention, type AttentionBenchResult, type AttentionShape } from './attention';
import { measurePeak, type PeakOptions, type PeakResult } from './gpu-peak';
import { benchMatmul, type MatmulBenchResult, type MatmulCase } from './matmul';
import { compareTrainingStep, Timer, type StepShape } from './peer-suite';
import { createTfjsPeer } from './peer-tfjs';
import { seededModel, syntheticImages, timeTrainer, type TrainerTiming } from './train-step';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const flag = (name: string): boolean => args.includes(name);
const option = (name: string): string | undefined => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const quick = flag('--quick');
const outPath = resolve(option('--out') ?? join(root, 'bench/results/gpu.json'));
const memoryBudget = Number(option('--memory-budget') ?? 4) * 1024 ** 3;
const log = (line: string): void => void process.stderr.write(`${line}\n`);

/** The goal on real GPUs: ViT-B matmuls at this fraction of the measured f32 peak (tuned WGSL: ~0.35 on M1). */
const MATMUL_GOAL = 0.35;

const VIT_B: VitConfig = { depth: 12, dim: 768, heads: 12, patch: 16, imageSize: 224, channels: 3, mlpDim: 3072, tokens: 197, classes: 0 };
/** --quick: ViT-Tiny's width at 32² with patch 8 (17 tokens), two blocks. */
const QUICK_VIT: VitConfig = { depth: 2, dim: 192, heads: 3, patch: 8, imageSize: 32, channels: 3, mlpDim: 768, tokens: 17, classes: 0 };

const linear = (name: string, m: number, k: number, n: number): MatmulCase => ({ name, geometry: { batch: 1, m, k, n, transB: true, batchedB: false }, bias: true });
const T32 = 32 * 197;
const MATMUL: MatmulCase[] = quick
  ? [linear('vit-ti qkv', 197, 192, 576)]
  : [linear('vit-b qkv, batch 32', T32, 768, 2304), linear('vit-b proj, batch 32', T32, 768, 768), linear('vit-b fc1, batch 32', T32, 768, 3072), linear('vit-b fc2, batch 32', T32, 3072, 768)];
const ATTENTION: AttentionShape[] = quick ? [{ model: 'vit-ti', b: 1, h: 3, n: 65, dh: 64 }] : [{ model: 'vit-b', b: 32, h: 12, n: 197, dh: 64 }];
const STEP = quick ? { cfg: QUICK_VIT, batch: 4, warmup: 1, steps: 2 } : { cfg: VIT_B, batch: 32, warmup: 2, steps: 5 };
const CLORA: AdapterSettings = { ...DEFAULT_ADAPTER_SETTINGS, dropout: 0 };

interface MatmulRow extends MatmulBenchResult {
  fractionOfPeak: number;
}

interface StepRow extends TrainerTiming {
  precision: 'f32' | 'f16';
}

interface TfjsRow {
  model: string;
  engineMs: number;
  tfjsMs: number;
  /** tfjs time over the engine's: > 1 means the engine is faster. */
  speedup: number;
  engineLoss: number;
  tfjsLoss: number;
}

export interface GpuBenchResult {
  date: string;
  command: string;
  quick: boolean;
  device: DeviceReport;
  peak: { f32: PeakResult; f16: PeakResult | { skipped: string } };
  matmul: MatmulRow[];
  matmulGoal: { fractionOfPeak: number; met: boolean };
  attention: AttentionBenchResult[];
  training: { model: string; batch: number; adapter: string; steps: StepRow[]; skipped: string[] };
  tfjs: TfjsRow | { skipped: string };
  seconds: number;
  /** Wall-clock seconds of each stage (shader compilation included). */
  stageSeconds: Record<string, number>;
}

/** Peak kernel sizes: doubled from a small start until a sample takes 25 ms (so an emulator is done in seconds). */
async function peak(ctx: Awaited<ReturnType<typeof createNodeGpuContext>>, precision: 'f32' | 'f16'): Promise<PeakResult> {
  const o: PeakOptions = { workgroups: 16, iterations: 256, repeats: 1, samples: quick ? 2 : 4, wait: 'sleep' };
  let r = await measurePeak(ctx, precision, o);
  while (r.ms < 25 && o.workgroups < 65536 * 4) {
    if (o.iterations < 4096) o.iterations *= 4;
    else if (o.workgroups < 65536) o.workgroups *= 4;
    else o.repeats *= 2;
    r = await measurePeak(ctx, precision, o);
  }
  return r;
}

async function main(): Promise<void> {
  const started = Date.now();
  const stageSeconds: Record<string, number> = {};
  let stageStart = Date.now();
  const endStage = (name: string): void => {
    stageSeconds[name] = (Date.now() - stageStart) / 1000;
    stageStart = Date.now();
  };
  const ctx = await createNodeGpuContext({ quiet: true, dawnFlags: ['enable-dawn-features=disable_robustness'] });
  const device = deviceReport(ctx);
  log(`adapter: ${device.adapter}; profile ${device.profile.kind} (${device.profile.reason})`);

  log('arithmetic peak…');
  const f32 = await peak(ctx, 'f32');
  const f16 = ctx.features.has('shader-f16') ? await peak(ctx, 'f16') : { skipped: 'the adapter has no shader-f16' };
  log(`  f32 ${f32.gflops.toFixed(1)} GFLOP/s${'gflops' in f16 ? `, f16 ${f16.gflops.toFixed(1)} GFLOP/s` : ''}`);
  endStage('peak');

  // Kernel timings await the queue at once (on an emulator the spinning wait costs both engines alike); the
  // training steps wait the way the trainer chooses for users (GpuContext.waits, 'measure' in Node).
  ctx.waits.scheme = 'poll';
  log('matmul…');
  const matmul = (await benchMatmul(ctx, { repeats: quick ? 2 : 5, cases: MATMUL })).map((r) => ({ ...r, fractionOfPeak: r.gflops / f32.gflops }));
  const worst = Math.min(...matmul.map((r) => r.fractionOfPeak));
  endStage('matmul');

  log('fused attention…');
  const attention = await benchAttention(ctx, { repeats: quick ? 2 : 5, shapes: ATTENTION, path: 'fused' });
  endStage('attention');

  ctx.waits.scheme = 'measure';
  log('training steps…');
  const classes = Array.from({ length: 10 }, (_, i) => String(i));
  const data = syntheticImages(STEP.cfg, STEP.batch * 2, classes.length, 5);
  const steps: StepRow[] = [];
  const skipped: string[] = [];
  for (const precision of ['f32', 'f16'] as const) {
    if (precision === 'f16' && !ctx.features.has('shader-f16')) {
      skipped.push('f16: the adapter has no shader-f16');
      continue;
    }
    const model = await seededModel(ctx, STEP.cfg, CLORA, classes, 11);
    try {
      const t = await timeTrainer(ctx, model, data, { batch: STEP.batch, steps: STEP.steps, warmup: STEP.warmup, precision, memoryBudget });
      steps.push({ precision, ...t });
      log(`  ${precision}: ${t.imagesPerSecond.toFixed(1)} images/s, ${t.msPerStep.toFixed(0)} ms/step, peak ${formatBytes(t.peakBytes)}`);
    } finally {
      model.dispose();
      ctx.pool.trim();
    }
  }

  endStage('training');
  let tfjs: TfjsRow | { skipped: string } = { skipped: '--no-tfjs' };
  if (!flag('--no-tfjs')) {
    log('tfjs-webgpu on the same LoRA step…');
    const shape: StepShape = { cfg: STEP.cfg, batch: STEP.batch, rank: 8, classes: 10 };
    const peer = await createTfjsPeer(ctx.gpu);
    ctx.waits.scheme = 'poll'; // the comparison waits for both engines the same way (bench/peer-suite.ts)
    const { step, check } = await compareTrainingStep(ctx, peer, new Timer('sleep'), shape, quick ? 1 : 3);
    tfjs = { model: step.name, engineMs: step.engine.median, tfjsMs: step.tfjs.median, speedup: step.speedup, engineLoss: check.engineLoss, tfjsLoss: check.tfjsLoss };
    log(`  engine ${step.engine.median.toFixed(0)} ms vs tfjs ${step.tfjs.median.toFixed(0)} ms (×${step.speedup.toFixed(2)})`);
    endStage('tfjs');
  }

  const result: GpuBenchResult = {
    date: new Date().toISOString(),
    command: `npm run bench:gpu -- ${args.join(' ')}`.trim(),
    quick,
    device,
    peak: { f32, f16 },
    matmul,
    matmulGoal: { fractionOfPeak: MATMUL_GOAL, met: worst >= MATMUL_GOAL },
    attention,
    training: { model: quick ? 'ViT depth 2, width 192, 32², patch 8' : 'ViT-B/16, 224²', batch: STEP.batch, adapter: 'CLoRA r8 p4 on q, v', steps, skipped },
    tfjs,
    seconds: (Date.now() - started) / 1000,
    stageSeconds,
  };
  mkdirSync(dirname(outPath), { recursive: true });
  writeFileSync(outPath, `${JSON.stringify(result, null, 2)}\n`);
  process.stdout.write(`${summary(result)}\nwrote ${outPath}\n`);
  ctx.destroy();
}

function summary(r: GpuBenchResult): string {
  const lines = [
    `adapter: ${r.device.adapter} (${r.device.profile.kind} profile)`,
    `peak: f32 ${r.peak.f32.gflops.toFixed(1)} GFLOP/s${'gflops' in r.peak.f16 ? `, f16 ${r.peak.f16.gflops.toFixed(1)} GFLOP/s` : ` (f16: ${r.peak.f16.skipped})`}`,
    ...r.matmul.map((m) => `matmul ${m.name} ${m.m}×${m.k}×${m.n}: ${m.program}, ${m.gflops.toFixed(1)} GFLOP/s, ${(100 * m.fractionOfPeak).toFixed(1)}% of peak`),
    `matmul goal ≥ ${100 * r.matmulGoal.fractionOfPeak}% of peak: ${r.matmulGoal.met ? 'met' : 'not met'}`,
    ...r.attention.map((a) => `attention ${a.name} [${a.b}·${a.h}, ${a.n}, ${a.dh}]: ${a.ms.toFixed(2)} ms, ${a.gflops.toFixed(1)} GFLOP/s`),
    ...r.training.steps.map((s) => `training ${r.training.model}, batch ${r.training.batch}, ${r.training.adapter}, ${s.precision}: ${s.imagesPerSecond.toFixed(1)} images/s, peak ${formatBytes(s.peakBytes)}, ${s.dispatchesPerStep.toFixed(0)} dispatches per step`),
    'engineMs' in r.tfjs ? `tfjs-webgpu, same LoRA step: engine ${r.tfjs.engineMs.toFixed(0)} ms vs tfjs ${r.tfjs.tfjsMs.toFixed(0)} ms (×${r.tfjs.speedup.toFixed(2)})` : `tfjs-webgpu: ${r.tfjs.skipped}`,
    `took ${r.seconds.toFixed(0)} s (${Object.entries(r.stageSeconds).map(([k, v]) => `${k} ${v.toFixed(0)}`).join(', ')})`,
  ];
  return lines.join('\n');
}

await main();
process.exit(0);
