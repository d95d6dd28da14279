// `npm run bench:peer`: the engine against TensorFlow.js 4.22 on its WebGPU backend, on the same adapter, in
// Node (Dawn) and in headless Chromium: matmul GFLOP/s at ViT shapes, one LoRA training step of a
// ViT-Tiny-shaped model (checked to compute the same loss), images/s of `train` on the bundled backbone, the
// step's GPU-residency counts, the memory plan for ViT-B/16 at batch 32 in 4 GB, and the subgroup row kernels.
// Prints one table and writes bench/results/peer.json. A benchmark, not a test: on an emulated adapter
// absolute numbers mean little and ratios from interleaved runs are what count.
//
// Options: --pairs N (interleaved samples per case, default 5), --busy-wait (both engines await the GPU
// at once instead of sleeping first), --no-browser, --browser-only, --quick (fewer and smaller samples),
// --subgroups-only (just the subgroup kernels against the portable ones, in Node and unless --no-browser in
// Chromium), --profile (the engine's training step by kernel family and its dense products under each tiled
// matmul program, bench/peer-profile.ts; same places; --programs-only: just the products; --samples N),
// --loop-only (just the loop section: the training loop against the isolated step and tfjs-wasm; in Node and
// unless --no-browser in Chromium, or --browser-only).
// The loop section (bench/peer-loop.ts) runs in Node: the engine's step alone, the engine's training loop and
// TensorFlow.js's WASM backend on one small model, interleaved.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openImageBackbone } from '../src/cli/model-source';
import { createFineTuneModel, initialTensors } from '../src/clora/model';
import { DEFAULT_ADAPTER_SETTINGS, type AdapterSettings } from '../src/clora/settings';
import { copyImage, imageDims, sampleSize, type Dataset } from '../src/data/dataset';
import { adapterName, type GpuContext } from '../src/gpu/context';
import { formatBytes } from '../src/gpu/errors';
import { createNodeGpuContext } from '../src/gpu/node';
import { vitShapes, type VitConfig } from '../src/nn/vit';
import { Rng } from '../src/train/rng';
import type { MemoryPlan } from '../src/train/memory-plan';
import { Trainer } from '../src/train/trainer';
import { compareMatmulPrograms, profileStep, profileTable, programTable, type ProgramTime, type StepProfile } from './peer-profile';
import { benchSubgroupKernels, type SubgroupBench } from './peer-subgroups';
import { compareLoop, type LoopComparison } from './peer-loop';
import { createTfjsPeer, loraDown, loraUp, tf, tfjsLoraVit, type TfjsPeer } from './peer-tfjs';
import { runPeerSuite, spread, type Comparison, type PeerSuiteResult, type Spread, type WaitScheme } from './peer-suite';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const flag = (name: string): boolean => args.includes(name);
const option = (name: string, fallback: number): number => {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] !== undefined ? Number(args[i + 1]) : fallback;
};
const quick = flag('--quick');
const pairs = option('--pairs', quick ? 3 : 5);
const wait: WaitScheme = flag('--busy-wait') ? 'plain' : 'sleep';
const log = (line: string): void => void process.stderr.write(`${line}\n`);

// ---------------------------------------------------------------------------------------------------------
// `train` on the bundled backbone: the engine's Trainer against the same loop written with tfjs.

interface TrainRun {
  backbone: string;
  cfg: VitConfig;
  batch: number;
  steps: number;
  imagesPerSecond: { engine: Spread; tfjs: Spread };
  speedup: number;
  counts: StepResidency;
}

/** What one training step costs in round trips, measured over a Trainer run. */
export interface StepResidency {
  steps: number;
  logEvery: number;
  submissionsPerStep: number;
  /** Readbacks per step, all riding on report steps' own submissions (3 per report: losses, adapter, optimizer). */
  readsPerStep: number;
  /** Readbacks a step waits for before it is recorded (the trainer never does). */
  waitsInsideSteps: number;
  /** Buffer allocations per step after warm-up (pool.allocations over the second half of the run). */
  allocationsPerStepAfterWarmUp: number;
  /** Pipelines compiled on first dispatch during the run (prepare() compiles them all before step 1). */
  compiledDuringRun: number;
  /** Kernels prepare() compiled asynchronously before step 1 (the others were compiled by earlier runs). */
  compiledAhead: number;
  /** Kernel specialisations a step of this run uses. */
  kernels: number;
  /** tfjs's loop on the same model, for comparison. */
  tfjsSubmissionsPerStep: number;
}

function syntheticData(cfg: VitConfig, count: number, classes: number, seed: number): Dataset {
  const rng = new Rng(seed);
  const per = cfg.channels * cfg.imageSize * cfg.imageSize;
  const pixels = new Float32Array(count * per);
  for (let i = 0; i < pixels.length; i++) pixels[i] = rng.uniform(-1, 1);
  return {
    classes: Array.from({ length: classes }, (_, i) => String(i)),
    sampleShape: [cfg.channels, cfg.imageSize, cfg.imageSize],
    count,
    inputs: pixels,
    labels: Int32Array.from({ length: count }, (_, i) => i % classes),
    skipped: [],
  };
}

async function compareTrain(ctx: GpuContext, peer: TfjsPeer): Promise<TrainRun> {
  const bundled = join(root, 'public/models/vit-mnist.safetensors');
  const path = existsSync(bundled) ? bundled : join(root, 'tests/fixtures/train/backbone.safetensors');
  const backbone = await openImageBackbone(path);
  const cfg = backbone.cfg;
  const classes = 10;
  const batch = 32;
  const steps = quick ? 12 : 30;
  const logEvery = 10;
  const data = syntheticData(cfg, 256, classes, 3);
  const settings: AdapterSettings = { ...DEFAULT_ADAPTER_SETTINGS, method: 'lora', rank: 8, targets: ['q', 'v'], dropout: 0, sadeWeight: 0 };
  const start = initialTensors(cfg, settings, classes, new Rng(4));
  const model = await createFineTuneModel(ctx, cfg, settings, data.classes, backbone.read, start);
  const weights = new Map<string, Float32Array>();
  for (const name of model.parts.frozen!.names()) weights.set(name, await backbone.read(name));
  for (let i = 0; i < cfg.depth; i++) {
    for (const t of ['q', 'v'] as const) {
      weights.set(loraDown(i, t), start.get(loraDown(i, t))!);
      weights.set(loraUp(i, t), start.get(loraUp(i, t))!);
    }
  }
  weights.set('head.weight', start.get('head.weight')!);
  weights.set('head.bias', start.get('head.bias')!);
  const peerModel = tfjsLoraVit(cfg, classes, weights, { scale: settings.scale, lr: 1e-3 });
  const options = { optimizer: 'adamw' as const, lr: 1e-3, weightDecay: 0, steps, batchSize: batch, warmup: 0, labelSmoothing: 0, seed: 0, shuffle: true, logEvery };

  // The engine: a fresh Trainer per sample (same model), timed from run() to its last metrics. The first
  // (warm-up) sample's prepare() compiles the pipelines; later ones find them compiled.
  let residency: StepResidency | undefined;
  let compiledAhead = 0;
  let kernels = 0;
  const engineSample = async (measure: boolean): Promise<number> => {
    const trainer = await Trainer.create(model, data, options);
    const prepared = await trainer.prepare();
    compiledAhead = Math.max(compiledAhead, prepared.compiledAhead);
    kernels = prepared.kernels;
    const compiled = ctx.pipelines.compiledOnDispatch;
    const before = { ...ctx.stats };
    let allocationsMid = 0;
    const t0 = performance.now();
    await trainer.run((m) => {
      if (m.step === logEvery) allocationsMid = ctx.pool.allocations;
    });
    const seconds = (performance.now() - t0) / 1000;
    if (measure) {
      residency = {
        steps,
        logEvery,
        submissionsPerStep: (ctx.stats.submissions - before.submissions - 2) / steps,
        readsPerStep: (ctx.stats.reads - before.reads - 2) / steps,
        waitsInsideSteps: 0,
        allocationsPerStepAfterWarmUp: (ctx.pool.allocations - allocationsMid) / (steps - logEvery),
        compiledDuringRun: ctx.pipelines.compiledOnDispatch - compiled,
        compiledAhead,
        kernels,
        tfjsSubmissionsPerStep: 0,
      };
    }
    trainer.dispose();
    return (steps * batch) / seconds;
  };

  // tfjs: the same loop by hand (batch upload, step, loss read every logEvery steps), waiting the way the
  // engine's trainer does on this adapter: sleep for most of the expected time, then read.
  let msPerStep = 0;
  const tfjsSample = async (): Promise<number> => {
    const per = sampleSize(data);
    const rng = new Rng(9);
    const order = rng.shuffle(Array.from({ length: data.count }, (_, i) => i));
    const submissionsBefore = peer.submissions();
    const t0 = performance.now();
    let since = performance.now();
    let pending = 0;
    for (let s = 0; s < steps; s++) {
      const idx = order.slice((s * batch) % data.count, ((s * batch) % data.count) + batch);
      const pixels = new Float32Array(idx.length * per);
      const labels = new Float32Array(idx.length);
      idx.forEach((j, k) => {
        copyImage(data, j, pixels, k * per);
        labels[k] = data.labels[j]!;
      });
      const x = tf.tensor4d(pixels, [idx.length, ...imageDims(data)]);
      const y = tf.tensor1d(labels);
      const loss = peerModel.step(x, y);
      x.dispose();
      y.dispose();
      pending++;
      if ((s + 1) % logEvery === 0 || s + 1 === steps) {
        peer.flush();
        const expected = since + 0.85 * msPerStep * pending - performance.now();
        if (wait === 'sleep' && msPerStep > 0 && expected > 1) await new Promise((r) => setTimeout(r, expected));
        await loss.data();
        msPerStep = (performance.now() - since) / pending;
        since = performance.now();
        pending = 0;
      }
      loss.dispose();
    }
    const seconds = (performance.now() - t0) / 1000;
    if (residency) residency.tfjsSubmissionsPerStep = (peer.submissions() - submissionsBefore) / steps;
    return (steps * batch) / seconds;
  };

  await engineSample(false);
  await tfjsSample();
  const e: number[] = [];
  const t: number[] = [];
  const trainPairs = Math.max(2, Math.min(pairs, 3));
  for (let i = 0; i < trainPairs; i++) {
    e.push(await engineSample(i === 0));
    t.push(await tfjsSample());
  }
  peerModel.dispose();
  model.dispose();
  await backbone.close();
  const engine = spread(e);
  const tfjs = spread(t);
  return {
    backbone: path.slice(root.length + 1),
    cfg,
    batch,
    steps,
    imagesPerSecond: { engine, tfjs },
    speedup: engine.median / tfjs.median,
    counts: residency!,
  };
}

// ---------------------------------------------------------------------------------------------------------
// ViT-B/16 at batch 32 within 4 GB: the trainer's plan, and the peak of that step recorded for real.

interface MemoryRun {
  model: string;
  batch: number;
  budgetBytes: number;
  plan: MemoryPlan;
  measuredPeakBytes: number;
  /** The whole batch at once with activations recomputed, for comparison. */
  recompute: { plan: MemoryPlan; measuredPeakBytes: number };
  note: string;
}

const VIT_B: VitConfig = { depth: 12, dim: 768, heads: 12, patch: 16, imageSize: 224, channels: 3, mlpDim: 3072, tokens: 197, classes: 0 };

async function planVitB(ctx: GpuContext): Promise<MemoryRun> {
  const budget = 4 * 1024 ** 3;
  const classes = 10;
  const data = syntheticData(VIT_B, 32, classes, 1);
  const settings: AdapterSettings = { ...DEFAULT_ADAPTER_SETTINGS };
  const start = initialTensors(VIT_B, settings, classes, new Rng(2));
  // Values do not change memory: zeros stand in for the pretrained weights.
  const model = await createFineTuneModel(ctx, VIT_B, settings, data.classes, async (name) => new Float32Array(shapeSize(name)), start);
  const trainOptions = { optimizer: 'adamw' as const, lr: 1e-3, weightDecay: 1e-4, steps: 1, batchSize: 32, warmup: 0, labelSmoothing: 0, seed: 0, shuffle: false, logEvery: 1, memoryBudget: budget };
  const trainer = await Trainer.create(model, data, trainOptions);
  const plan = trainer.planMemory();
  // Apply the plan as prepare() would, without compiling: then record that step for real and discard it.
  trainer.usePlan(plan);
  const measured = trainer.measureStepPeak();
  trainer.dispose();
  // The other way to fit: the whole batch at once, recomputing each block's activations in the backward.
  const whole = await Trainer.create(model, data, { ...trainOptions, microBatchSize: 32, recompute: true });
  const recomputePlan = whole.planMemory();
  whole.usePlan(recomputePlan);
  const recomputeMeasured = whole.measureStepPeak();
  whole.dispose();
  model.dispose();
  ctx.pool.trim();
  return {
    model: 'ViT-B/16, 224², CLoRA r8 p4 on q,v, AdamW',
    batch: 32,
    budgetBytes: budget,
    plan,
    measuredPeakBytes: measured,
    recompute: { plan: recomputePlan, measuredPeakBytes: recomputeMeasured },
    note: 'measured by recording the planned step with every buffer allocated and discarding it unrun (an emulated GPU would need minutes per ViT-B step)',
  };

  function shapeSize(name: string): number {
    return vitShapes(VIT_B).get(name)!.reduce((a, b) => a * b, 1);
  }
}

// ---------------------------------------------------------------------------------------------------------
// Headless Chromium: the same suite on the page's own WebGPU.

interface BrowserRun {
  adapter: string;
  tfjsAdapter: string;
  features: string[];
  wait: WaitScheme;
  suite: PeerSuiteResult;
  subgroups?: SubgroupBench;
  loop?: LoopComparison;
  crossOriginIsolated?: boolean;
}

/** Chromium (or the page's server) could not be started: the Node results still stand. */
class BrowserUnavailable extends Error {}

/**
 * Opens bench/peer.html?`query` in headless Chromium and waits for the result the page leaves in
 * window.peerResult; throws with the page's own failure and console problems.
 */
async function pageResult<T>(query: string, timeoutMs: number): Promise<T> {
  const { startBrowserEnv, watchPage } = await import('../tests/e2e/browser');
  let env: Awaited<ReturnType<typeof startBrowserEnv>>;
  try {
    // Cross-origin isolated, so tfjs-wasm may use threads (SharedArrayBuffer).
    env = await startBrowserEnv({ headers: { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' } });
  } catch (error) {
    throw new BrowserUnavailable(error instanceof Error ? error.message : String(error));
  }
  try {
    const page = await env.browser.newPage();
    const problems = watchPage(page);
    page.on('console', (m) => {
      if (m.type() === 'log') log(`  [chromium] ${m.text()}`);
    });
    await page.goto(`${env.baseUrl}/bench/peer.html?${query}`);
    await page.waitForFunction(() => (window as { peerResult?: unknown }).peerResult !== undefined, undefined, { timeout: timeoutMs, polling: 1000 });
    const result = await page.evaluate(() => (window as unknown as { peerResult: unknown }).peerResult as T | { failure: string });
    if (typeof result === 'object' && result !== null && 'failure' in result) throw new Error(`The page failed: ${result.failure}\n${problems.join('\n')}`);
    return result as T;
  } finally {
    await env.close();
  }
}

async function runInChromium(): Promise<BrowserRun | { skipped: string }> {
  const browserPairs = Math.max(2, Math.min(pairs, 3));
  try {
    return await pageResult<BrowserRun>(`pairs=${browserPairs}${quick ? '&quick=1' : ''}`, 1_800_000);
  } catch (error) {
    // No Chromium here: the Node table still stands; the reason is printed in its place.
    if (error instanceof BrowserUnavailable) return { skipped: error.message };
    throw error;
  }
}

// ---------------------------------------------------------------------------------------------------------
// The table.

const TARGETS = { matmulSpeedup: 1.5, stepSpeedup: 2 };

function fmtSpread(s: Spread, digits: number): string {
  return `${s.median.toFixed(digits)} [${s.min.toFixed(digits)}–${s.max.toFixed(digits)}]`;
}

function comparisonRows(c: Comparison[]): string[] {
  return c.map((r) => {
    const digits = r.unit === 'GFLOP/s' ? 2 : 0;
    const isMatmul = r.name.startsWith('matmul');
    const vitShape = isMatmul && !r.name.includes('rank 8');
    const target = isMatmul ? (vitShape ? `≥ ×${TARGETS.matmulSpeedup}` : '—') : `≥ ×${TARGETS.stepSpeedup}`;
    const verdict = target === '—' ? '' : r.speedup >= (isMatmul ? TARGETS.matmulSpeedup : TARGETS.stepSpeedup) ? 'met' : 'MISSED';
    return `| ${r.name} | ${r.unit} | ${fmtSpread(r.engine, digits)} | ${fmtSpread(r.tfjs, digits)} | ×${r.speedup.toFixed(2)} | ${target} ${verdict} |`;
  });
}

function suiteTable(title: string, adapter: string, tfjsAdapter: string, s: PeerSuiteResult, extra: string[] = []): string[] {
  const same = adapter === tfjsAdapter ? 'both engines' : `engine; tfjs got ${tfjsAdapter}`;
  return [
    `### ${title}`,
    '',
    `Adapter: **${adapter}** (${same}; tfjs's device comes from a second adapter of the same WebGPU instance).`,
    '',
    '| case | unit | engine median [min–max] | tfjs median [min–max] | engine vs tfjs | target |',
    '|---|---|---|---|---|---|',
    ...comparisonRows([...s.matmul, s.step]),
    ...extra,
    '',
    `Same loss from the same weights and batch: engine ${s.check.engineLoss.toFixed(6)}, tfjs ${s.check.tfjsLoss.toFixed(6)} ` +
      `(relative difference ${s.check.relativeDifference.toExponential(1)}); after ${s.check.steps} Adam steps each ${s.check.engineLossAfter.toFixed(6)} vs ` +
      `${s.check.tfjsLossAfter.toFixed(6)} (${s.check.relativeDifferenceAfter.toExponential(1)}).`,
    `Per training step: queue submissions engine ${s.counts.submissionsPerStep.engine} vs tfjs ${s.counts.submissionsPerStep.tfjs.toFixed(0)}; ` +
      `engine dispatches ${s.counts.dispatchesPerStep.toFixed(0)}; peak bytes engine ${formatBytes(s.counts.peakBytes.engine)} (pool) vs tfjs ${formatBytes(s.counts.peakBytes.tfjs)} (tensors, tf.profile); ` +
      `GPU buffers kept engine ${formatBytes(s.counts.allocatedBytes.engine)} vs tfjs ${formatBytes(s.counts.allocatedBytes.tfjs)}.`,
    '',
  ];
}

/** --subgroups-only: the subgroup-kernel rows alone, in Node and Chromium; prints them and writes nothing. */
async function subgroupsOnly(): Promise<void> {
  const rowsOf = (title: string, b: SubgroupBench): string[] => [
    `### ${title}: subgroup kernels (size ${b.subgroupSize || 'none'}) against the portable ones`,
    '',
    '| case | unit | subgroups median [min–max] | portable median [min–max] | speedup |',
    '|---|---|---|---|---|',
    ...b.rows.map((r) => `| ${r.name} | ${r.unit} | ${fmtSpread(r.engine, 3)} | ${fmtSpread(r.other, 3)} | ×${r.speedup.toFixed(2)} |`),
    '',
  ];
  const lines: string[] = [];
  if (!flag('--browser-only')) {
    const ctx = await createNodeGpuContext({ quiet: true });
    log(`Node: ${adapterName(ctx.adapter)}`);
    lines.push(...rowsOf(`Node (${adapterName(ctx.adapter)})`, await benchSubgroupKernels(ctx, { pairs, wait })));
    ctx.destroy();
  }
  if (!flag('--no-browser')) {
    const result = await pageResult<{ adapter: string; subgroups: SubgroupBench }>(`pairs=${pairs}&only=subgroups`, 600_000);
    lines.push(...rowsOf(`Headless Chromium (${result.adapter})`, result.subgroups));
  }
  process.stdout.write(`\n${lines.join('\n')}\n`);
}

/** --profile: the step by kernel family, in Node and Chromium; prints it and writes nothing. */
async function profileOnly(): Promise<void> {
  const lines: string[] = [];
  const samples = option('--samples', 3);
  if (!flag('--browser-only')) {
    const ctx = await createNodeGpuContext({ quiet: true });
    if (!flag('--programs-only')) lines.push(...profileTable('Node (Dawn)', await profileStep(ctx, adapterName(ctx.adapter), { samples, log })));
    lines.push(...programTable('Node (Dawn)', await compareMatmulPrograms(ctx, { samples, log })));
    ctx.destroy();
  }
  if (!flag('--no-browser')) {
    const result = await pageResult<{ profile?: StepProfile; programs: ProgramTime[] }>(`samples=${samples}&only=profile${flag('--programs-only') ? '&programs=1' : ''}`, 1_200_000);
    if (result.profile) lines.push(...profileTable('Headless Chromium', result.profile));
    lines.push(...programTable('Headless Chromium', result.programs));
  }
  process.stdout.write(`\n${lines.join('\n')}\n`);
}

const WASM_PATHS = join(root, 'node_modules/@tensorflow/tfjs-backend-wasm/dist/');
const LOOP_TARGETS = { loopOverBestStep: 1.1, loopVsWasm: 1 };

/** The loop section's table: the isolated step both ways, the loop, tfjs-wasm. */
function loopTable(title: string, loop: LoopComparison): string[] {
  const ms = (s: Spread): string => fmtSpread(s, 0);
  const best = Math.min(loop.isolatedAwait.median, loop.isolatedSleep.median);
  const waits = Object.entries(loop.loopWaits).map(([k, v]) => `${k} ${v.toFixed(0)} ms`).join(', ');
  return [
    `### The training loop and its step (${title}): ${loop.model}`,
    '',
    '| case | ms per step, median [min–max] | vs the best isolated step |',
    '|---|---|---|',
    `| engine step alone, awaiting the queue at once | ${ms(loop.isolatedAwait)} | ×${(loop.isolatedAwait.median / best).toFixed(2)} |`,
    `| engine step alone, sleeping first | ${ms(loop.isolatedSleep)} | ×${(loop.isolatedSleep.median / best).toFixed(2)} |`,
    `| engine training loop (\`clora train\`, the worker) | ${ms(loop.loop)} | ×${loop.loopOverBestStep.toFixed(2)} (target ≤ ×${LOOP_TARGETS.loopOverBestStep}: ${loop.loopOverBestStep <= LOOP_TARGETS.loopOverBestStep ? 'met' : 'MISSED'}) |`,
    `| TensorFlow.js WASM backend (SIMD, ${loop.tfjsWasmThreads} thread${loop.tfjsWasmThreads === 1 ? '' : 's'}) | ${ms(loop.tfjsWasm)} | the loop ×${loop.loopVsWasm.toFixed(2)} as fast (target > 1: ${loop.loopVsWasm > LOOP_TARGETS.loopVsWasm ? 'met' : 'MISSED'}) |`,
    '',
    `The loop's waits, measured per submission: ${waits || 'none'}. Same weights and batch, loss before any step: engine ${loop.engineLoss.toFixed(6)}, tfjs-wasm ${loop.wasmLoss.toFixed(6)}.`,
    '',
  ];
}

/** The training loop against the isolated step and tfjs-wasm (Node), with its table. */
async function loopSection(ctx: GpuContext): Promise<{ loop: LoopComparison; lines: string[] }> {
  log('the training loop against the isolated step and tfjs-wasm…');
  // The loop waits the way users get it (GpuContext.waits: measured in Node).
  ctx.waits.scheme = 'measure';
  const loop = await compareLoop(ctx, { pairs: Math.max(2, Math.min(pairs, 4)), loopSteps: quick ? 6 : 20, wasmPaths: WASM_PATHS, log });
  ctx.waits.scheme = 'poll';
  return { loop, lines: loopTable('Node', loop) };
}

async function loopOnly(): Promise<void> {
  const lines: string[] = [];
  if (!flag('--browser-only')) {
    const ctx = await createNodeGpuContext({ quiet: true });
    log(`Node: ${adapterName(ctx.adapter)}`);
    lines.push(...(await loopSection(ctx)).lines);
    ctx.destroy();
  }
  if (!flag('--no-browser')) {
    log('headless Chromium: the training loop against the isolated step and tfjs-wasm…');
    const result = await pageResult<{ loop: LoopComparison; crossOriginIsolated: boolean }>(`pairs=${pairs}&only=loop${quick ? '&quick=1' : ''}`, 1_800_000);
    lines.push('', ...loopTable(`headless Chromium, ${result.crossOriginIsolated ? 'cross-origin isolated' : 'not cross-origin isolated'}`, result.loop));
  }
  process.stdout.write(`\n${lines.join('\n')}\n`);
}

async function main(): Promise<void> {
  if (flag('--subgroups-only')) return subgroupsOnly();
  if (flag('--profile')) return profileOnly();
  if (flag('--loop-only')) return loopOnly();
  const started = Date.now();
  const results: Record<string, unknown> = { date: new Date().toISOString(), command: `npm run bench:peer -- ${args.join(' ')}`.trim(), pairs, wait };
  const lines: string[] = [];

  if (!flag('--browser-only')) {
    const ctx = await createNodeGpuContext({ quiet: true });
    // The suite and the tfjs loop do their own waiting; the Trainer sleeps first the way the tfjs loop does
    // (or both await at once with --busy-wait).
    const peer = await createTfjsPeer(ctx.gpu);
    const adapter = adapterName(ctx.adapter);
    log(`Node: ${adapter}; features ${[...ctx.features].join(', ')}`);
    ctx.waits.scheme = 'poll';
    const suite = await runPeerSuite(ctx, peer, { wait, pairs, matmulFlopsPerSample: quick ? 1e8 : 4e8, log });
    ctx.waits.scheme = wait === 'sleep' ? 'sleep' : 'poll';
    log('train on the bundled backbone…');
    const train = await compareTrain(ctx, peer);
    log(`  engine ${train.imagesPerSecond.engine.median.toFixed(1)} vs tfjs ${train.imagesPerSecond.tfjs.median.toFixed(1)} images/s`);
    ctx.waits.scheme = 'poll';
    log('subgroup row kernels…');
    const subgroups = await benchSubgroupKernels(ctx, { pairs, wait });
    log('ViT-B/16 memory plan…');
    const memory = await planVitB(ctx);
    const { loop, lines: loopLines } = await loopSection(ctx);
    results.node = { adapter, tfjsAdapter: peer.adapter, features: [...ctx.features], suite, train, subgroups, memory, loop };

    const trainRow: Comparison = {
      name: `train (${train.backbone}: depth ${train.cfg.depth}, width ${train.cfg.dim}, ${train.cfg.imageSize}²), LoRA r8 q,v, batch ${train.batch}, ${train.steps} steps`,
      unit: 'images/s',
      higherIsBetter: true,
      engine: train.imagesPerSecond.engine,
      tfjs: train.imagesPerSecond.tfjs,
      speedup: train.speedup,
    };
    const extra = [
      `| ${trainRow.name} | images/s | ${fmtSpread(trainRow.engine, 1)} | ${fmtSpread(trainRow.tfjs, 1)} | ×${trainRow.speedup.toFixed(2)} | — |`,
      ...subgroups.rows.map((r) => `| ${r.name} | ${r.unit} | ${fmtSpread(r.engine, 2)} | ${fmtSpread(r.other, 2)} | ×${r.speedup.toFixed(2)} | — |`),
    ];
    lines.push(...suiteTable('Node (Dawn)', adapter, peer.adapter, suite, extra));
    const c = train.counts;
    lines.push(
      '### A step that stays on the GPU (Node, `train` above)',
      '',
      '| count | measured | target |',
      '|---|---|---|',
      `| queue submissions per step | ${c.submissionsPerStep.toFixed(2)} (tfjs: ${c.tfjsSubmissionsPerStep.toFixed(1)}) | 1 |`,
      `| GPU→CPU reads a step waits for | ${c.waitsInsideSteps} | 0 |`,
      `| readbacks per step (every ${c.logEvery} steps and at the end: losses, adapter, optimizer, riding on that step's submission) | ${c.readsPerStep.toFixed(2)} | 3 per report |`,
      `| buffer allocations per step after warm-up | ${c.allocationsPerStepAfterWarmUp} | 0 |`,
      `| pipelines compiled during the run (prepare(): ${c.kernels} kernels a step uses, ${c.compiledAhead} compiled asynchronously before step 1, the rest by the runs above) | ${c.compiledDuringRun} | 0 |`,
      '',
      `### Memory: ${memory.model}, batch ${memory.batch}, budget ${formatBytes(memory.budgetBytes)}`,
      '',
      `Plan: micro-batch ${memory.plan.microBatchSize}, ${memory.plan.recompute ? 'recomputing' : 'keeping'} activations; planned peak ${formatBytes(memory.plan.plannedPeakBytes)}, ` +
        `measured peak ${formatBytes(memory.measuredPeakBytes)} (${memory.note}). Fixed bytes ${formatBytes(memory.plan.fixedBytes)}; per sample ` +
        `${formatBytes(memory.plan.bytesPerSample.keep)} keeping activations, ${formatBytes(memory.plan.bytesPerSample.recompute)} recomputing them.`,
      '',
      '| micro-batch | activations | planned peak (dry run) | measured peak (recorded, not run) | within budget |',
      '|---|---|---|---|---|',
      ...memory.plan.tried
        .filter((t) => t.microBatchSize > 2 || t.microBatchSize === memory.plan.microBatchSize)
        .map((t) => `| ${t.microBatchSize} | ${t.recompute ? 'recomputed' : 'kept'} | ${formatBytes(t.peakBytes)} | ${t.microBatchSize === memory.plan.microBatchSize && t.recompute === memory.plan.recompute ? formatBytes(memory.measuredPeakBytes) : ''} | ${t.fits ? 'yes' : 'no'} |`),
      `| 32 | recomputed | ${formatBytes(memory.recompute.plan.plannedPeakBytes)} | ${formatBytes(memory.recompute.measuredPeakBytes)} | ${memory.recompute.plan.fits ? 'yes' : 'no'} |`,
      '',
      'The planner takes the first that fits: the whole batch keeping activations, else the largest micro-batch ≥ 8 keeping them, else recomputation (the last row: the whole batch in one pass for about a third more compute).',
      '',
      ...loopLines,
    );
    ctx.destroy();
  }

  if (!flag('--no-browser')) {
    log('headless Chromium…');
    const browser = await runInChromium();
    results.browser = browser;
    if ('skipped' in browser) lines.push(`### Headless Chromium`, '', `Skipped: ${browser.skipped}`, '');
    else {
      const extra = browser.subgroups ? browser.subgroups.rows.map((r) => `| ${r.name} | ${r.unit} | ${fmtSpread(r.engine, 2)} | ${fmtSpread(r.other, 2)} | ×${r.speedup.toFixed(2)} | — |`) : [];
      lines.push(...suiteTable('Headless Chromium', browser.adapter, browser.tfjsAdapter, browser.suite, extra));
      if (browser.loop) lines.push(...loopTable(`headless Chromium, ${browser.crossOriginIsolated ? 'cross-origin isolated' : 'not cross-origin isolated'}`, browser.loop));
    }
  }

  const waitNote =
    wait === 'sleep'
      ? 'In Node both engines wait the same way: after submitting, sleep for 80% of the fastest earlier sample of the case, then await the queue (Dawn busy-polls while a GPU promise is pending, which starves a CPU-emulated adapter); in `train` both loops sleep for 85% of the expected time before reading. In Chromium both await the queue at once.'
      : 'Both engines await the GPU at once (--busy-wait).';
  lines.push(`Interleaved samples (engine, tfjs, engine, …) after a warm-up each: ${pairs} pairs per case (the browser ${Math.max(2, Math.min(pairs, 3))}). ${waitNote}`);
  lines.push(`Run took ${((Date.now() - started) / 1000).toFixed(0)} s.`);
  const table = lines.join('\n');
  results.table = table;
  process.stdout.write(`\n${table}\n`);
  const out = join(root, 'bench/results/peer.json');
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`);
  log(`wrote ${out.slice(root.length + 1)}`);
}

await main();
process.exit(0);
