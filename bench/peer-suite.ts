// The comparison itself, shared by Node (bench/peer.ts) and the browser (bench/peer-browser.ts): the engine
// against tfjs-backend-webgpu on the same adapter, same shapes, interleaved samples (engine, tfjs, engine,
// tfjs…) after one warm-up each, timed from the first recorded command to the GPU being done, both engines
// waiting the same way.
import { crossEntropy } from '../src/autodiff/ops/loss';
import { Tape } from '../src/autodiff/tape';
import { Tensor } from '../src/autodiff/tensor';
import { createFineTuneModel, type FineTuneModel } from '../src/clora/model';
import type { AdapterSettings } from '../src/clora/settings';
import type { GpuContext } from '../src/gpu/context';
import { matmulInto, type MatmulGeometry } from '../src/kernels/matmul';
import { vitShapes, type VitConfig } from '../src/nn/vit';
import { AdamW } from '../src/train/optimizer';
import { Rng } from '../src/train/rng';
import { loraDown, loraUp, tf, tfjsLoraVit, type TfjsPeer } from './peer-tfjs';

/**
 * How both engines wait for the GPU. 'sleep': sleep for 85% of the case's previous sample, then wait for
 * the queue (Dawn's Node binding busy-polls while a GPU promise is pending, and on a CPU-emulated adapter
 * that spinning thread takes a core from the emulator). 'plain': await the queue at once (browsers).
 */
export type WaitScheme = 'sleep' | 'plain';

export interface Spread {
  median: number;
  min: number;
  max: number;
  samples: number[];
}

export interface Comparison {
  name: string;
  /** What the numbers measure, e.g. 'GFLOP/s' or 'ms/step'. */
  unit: string;
  higherIsBetter: boolean;
  engine: Spread;
  tfjs: Spread;
  /** Engine over tfjs for rates, tfjs time over engine time for times: > 1 means the engine is faster. */
  speedup: number;
  detail?: string;
}

export interface StepCheck {
  /** Loss of the same weights and batch before any update. */
  engineLoss: number;
  tfjsLoss: number;
  relativeDifference: number;
  /** Loss after the same number of Adam steps on the same batch (the gradients agree too). */
  engineLossAfter: number;
  tfjsLossAfter: number;
  relativeDifferenceAfter: number;
  steps: number;
}

export interface StepCounts {
  submissionsPerStep: { engine: number; tfjs: number };
  dispatchesPerStep: number;
  /** Peak bytes held during one step: engine pool accounting; tfjs tensor bytes (tf.profile). */
  peakBytes: { engine: number; tfjs: number };
  /** GPU buffer bytes each engine keeps allocated after the steps. */
  allocatedBytes: { engine: number; tfjs: number };
}

export interface PeerSuiteResult {
  matmul: Comparison[];
  step: Comparison;
  check: StepCheck;
  counts: StepCounts;
}

export interface StepShape {
  cfg: VitConfig;
  batch: number;
  rank: number;
  classes: number;
}

/** ViT-Tiny's width, heads, MLP and patch; depth and resolution reduced to fit an emulated GPU. */
export const TINY_STEP: StepShape = {
  cfg: { depth: 2, dim: 192, heads: 3, patch: 16, imageSize: 112, channels: 3, mlpDim: 768, tokens: 50, classes: 0 },
  batch: 8,
  rank: 8,
  classes: 10,
};

export interface PeerSuiteOptions {
  wait: WaitScheme;
  /** Interleaved (engine, tfjs) sample pairs per case. */
  pairs: number;
  step?: StepShape;
  /** Floating-point work per matmul sample (repeats of the product), to keep samples well above timer noise. */
  matmulFlopsPerSample?: number;
  log?: (line: string) => void;
}

const T = 197;
interface MatmulCase {
  name: string;
  g: MatmulGeometry;
}
/** The frozen projections of ViT-Tiny/ViT-Base (x·Wᵀ, weights [N, K]) and the rank-8 adapter products. */
export const MATMUL_CASES: MatmulCase[] = [
  { name: '197×192×576 (ViT-Ti qkv)', g: { batch: 1, m: T, k: 192, n: 576, transB: true, batchedB: false } },
  { name: '197×768×2304 (ViT-B qkv)', g: { batch: 1, m: T, k: 768, n: 2304, transB: true, batchedB: false } },
  { name: '197×3072×768 (ViT-B fc2)', g: { batch: 1, m: T, k: 3072, n: 768, transB: true, batchedB: false } },
  { name: '197×192×8 (x·D, rank 8)', g: { batch: 1, m: T, k: 192, n: 8, batchedB: false } },
  { name: '8×192×197 (rank 8 × K)', g: { batch: 1, m: 8, k: 192, n: T } },
  { name: '192×1576×8 (Xᵀ·G, rank 8)', g: { batch: 1, m: 192, k: 8 * T, n: 8, transA: true } },
];

const now = (): number => performance.now();
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export function spread(samples: number[]): Spread {
  const sorted = [...samples].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { median, min: sorted[0]!, max: sorted.at(-1)!, samples };
}

/**
 * Times one sample: record and submit, then wait for the GPU under the shared scheme. With 'sleep', the
 * sleep is 80% of the fastest sample seen so far for this case (the warm-up, which compiles, does not
 * count), so one slow sample does not stretch the next ones.
 */
export class Timer {
  private fastest = new Map<string, number>();
  constructor(readonly scheme: WaitScheme) {}

  async sample(key: string, device: GPUDevice, record: () => void, submit: () => void, warmUp = false): Promise<number> {
    const start = now();
    record();
    submit();
    const fastest = this.fastest.get(key);
    if (this.scheme === 'sleep' && fastest !== undefined) {
      const delay = start + 0.8 * fastest - now();
      if (delay > 1) await sleep(delay);
    }
    await device.queue.onSubmittedWorkDone();
    const ms = now() - start;
    if (!warmUp) this.fastest.set(key, Math.min(ms, fastest ?? Infinity));
    return ms;
  }
}

function randomArray(n: number, rng: Rng, amplitude = 1): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.uniform(-amplitude, amplitude);
  return a;
}

async function compareMatmul(ctx: GpuContext, peer: TfjsPeer, timer: Timer, c: MatmulCase, pairs: number, flopsPerSample: number): Promise<Comparison> {
  const { g } = c;
  const rng = new Rng(11);
  const aShape = g.transA ? [g.k, g.m] : [g.m, g.k];
  const bShape = g.transB ? [g.n, g.k] : [g.k, g.n];
  const aData = randomArray(g.m * g.k, rng);
  const bData = randomArray(g.k * g.n, rng);
  const a = Tensor.fromData(ctx, aShape, aData);
  const b = Tensor.fromData(ctx, bShape, bData);
  const out = Tensor.empty(ctx, [g.m, g.n]);
  const ta = tf.tensor2d(aData, aShape as [number, number]);
  const tb = tf.tensor2d(bData, bShape as [number, number]);
  const flops = 2 * g.m * g.k * g.n;
  const repeats = Math.max(1, Math.min(64, Math.round(flopsPerSample / flops)));
  let program = '';
  const engineRun = (): void => {
    for (let i = 0; i < repeats; i++) program = matmulInto(ctx, a, b, out, g).program;
  };
  const tfjsRun = (): void => {
    for (let i = 0; i < repeats; i++) tf.matMul(ta, tb, g.transA ?? false, g.transB ?? false).dispose();
  };
  const engineFlush = (): void => ctx.flush();
  // Warm-up: compiles and fills both buffer pools; then one untimed sample each seeds the wait estimate.
  for (const warmUp of [true, false]) {
    await timer.sample(`e:${c.name}`, ctx.device, engineRun, engineFlush, warmUp);
    await timer.sample(`t:${c.name}`, peer.device, tfjsRun, peer.flush, warmUp);
  }
  const e: number[] = [];
  const t: number[] = [];
  for (let i = 0; i < pairs; i++) {
    e.push((flops * repeats) / (await timer.sample(`e:${c.name}`, ctx.device, engineRun, engineFlush)) / 1e6);
    t.push((flops * repeats) / (await timer.sample(`t:${c.name}`, peer.device, tfjsRun, peer.flush)) / 1e6);
  }
  // Same product on both: a sanity check that the timed work is the work compared.
  const [mine] = await ctx.readMany([out]);
  const theirs = await tf.matMul(ta, tb, g.transA ?? false, g.transB ?? false).data();
  let err = 0;
  let scale = 0;
  for (let i = 0; i < theirs.length; i++) {
    err = Math.max(err, Math.abs(mine![i]! - theirs[i]!));
    scale = Math.max(scale, Math.abs(theirs[i]!));
  }
  if (err > 1e-3 * scale) throw new Error(`matmul ${c.name}: the engine and tfjs disagree (max |Δ| ${err} against max |C| ${scale}).`);
  for (const x of [a, b, out]) x.dispose();
  ta.dispose();
  tb.dispose();
  const engine = spread(e);
  const tfjs = spread(t);
  return { name: `matmul ${c.name}`, unit: 'GFLOP/s', higherIsBetter: true, engine, tfjs, speedup: engine.median / tfjs.median, detail: `${program}, ×${repeats} per sample` };
}

/** Backbone, LoRA factors and head from a seed, at the scales a trained ViT has (activations stay O(1)). */
export function seededLoraWeights(cfg: VitConfig, rank: number, classes: number, seed: number): Map<string, Float32Array> {
  const rng = new Rng(seed);
  const weights = new Map<string, Float32Array>();
  for (const [name, shape] of vitShapes({ ...cfg, classes: 0 })) {
    const n = shape.reduce((a, b) => a * b, 1);
    if (/norm\d?\.weight$/.test(name)) weights.set(name, Float32Array.from({ length: n }, () => 1 + rng.uniform(-0.1, 0.1)));
    else if (name.endsWith('.bias')) weights.set(name, randomArray(n, rng, 0.02));
    else if (name === 'cls_token' || name === 'pos_embed') weights.set(name, randomArray(n, rng, 0.05));
    else weights.set(name, randomArray(n, rng, Math.sqrt(3 / shape.slice(1).reduce((a, b) => a * b, 1))));
  }
  for (let i = 0; i < cfg.depth; i++) {
    for (const target of ['q', 'v'] as const) {
      weights.set(loraDown(i, target), randomArray(cfg.dim * rank, rng, 1 / Math.sqrt(cfg.dim)));
      // Non-zero (unlike a fresh adapter) so the branch shows in the loss being compared.
      weights.set(loraUp(i, target), randomArray(rank * cfg.dim, rng, 0.05));
    }
  }
  weights.set('head.weight', randomArray(classes * cfg.dim, rng, 0.02));
  weights.set('head.bias', new Float32Array(classes));
  return weights;
}

const LORA: Omit<AdapterSettings, 'rank'> = { method: 'lora', spaces: 1, targets: ['q', 'v'], scale: 1, sadeWeight: 0, dropout: 0 };

/** The engine's side of the step comparison: the LoRA model on `weights`, a seeded batch, and one training step. */
export interface EngineLoraStep {
  model: FineTuneModel;
  x: Tensor;
  y: Tensor;
  pixelData: Float32Array;
  labelData: Float32Array;
  /** Records forward, backward and the AdamW update (submitted with the next flush). */
  step(): void;
  dispose(): void;
}

export async function engineLoraStep(ctx: GpuContext, shape: StepShape, weights: Map<string, Float32Array>, lr: number): Promise<EngineLoraStep> {
  const { cfg, batch, rank, classes } = shape;
  const classNames = Array.from({ length: classes }, (_, i) => String(i));
  const start = new Map([...weights].filter(([name]) => name.startsWith('lora.') || name.startsWith('head.')));
  const model = await createFineTuneModel(ctx, cfg, { ...LORA, rank }, classNames, async (name) => weights.get(name)!, start);
  const optimizer = await AdamW.create(model.parts.trainable, { lr, weightDecay: 0 });
  const rng = new Rng(21);
  const pixelData = randomArray(batch * 3 * cfg.imageSize * cfg.imageSize, rng);
  const labelData = Float32Array.from({ length: batch }, (_, i) => i % classes);
  const x = Tensor.fromData(ctx, [batch, 3, cfg.imageSize, cfg.imageSize], pixelData);
  const y = Tensor.fromData(ctx, [batch], labelData);
  let lastLoss: Tensor | undefined;
  return {
    model,
    x,
    y,
    pixelData,
    labelData,
    step() {
      lastLoss?.dispose();
      model.parts.trainable.zeroGrad();
      const tape = new Tape(ctx);
      const loss = crossEntropy(model.forward(x, { training: true, seed: 0 }), y);
      tape.backward(loss);
      tape.dispose([loss]);
      optimizer.step();
      lastLoss = loss;
    },
    dispose() {
      lastLoss?.dispose();
      x.dispose();
      y.dispose();
      optimizer.dispose();
      model.dispose();
    },
  };
}

export async function compareTrainingStep(ctx: GpuContext, peer: TfjsPeer, timer: Timer, shape: StepShape, pairs: number): Promise<{ step: Comparison; check: StepCheck; counts: StepCounts }> {
  const { cfg, batch, rank, classes } = shape;
  const lr = 1e-3;
  const weights = seededLoraWeights(cfg, rank, classes, 5);
  const engine = await engineLoraStep(ctx, shape, weights, lr);
  const { model, x, y, pixelData, labelData } = engine;
  const peerModel = tfjsLoraVit(cfg, classes, weights, { scale: LORA.scale, lr });
  const tx = tf.tensor4d(pixelData, [batch, 3, cfg.imageSize, cfg.imageSize]);
  const ty = tf.tensor1d(labelData);

  const engineLoss = async (): Promise<number> => {
    const loss = crossEntropy(model.forward(x, { training: false }), y);
    const [v] = await ctx.readMany([loss]);
    loss.dispose();
    return v![0]!;
  };
  const tfjsLoss = async (): Promise<number> => {
    const loss = peerModel.loss(tx, ty);
    const v = (await loss.data())[0]!;
    loss.dispose();
    return v;
  };
  const before = { engine: await engineLoss(), tfjs: await tfjsLoss() };

  const engineStep = (): void => engine.step();
  let lastPeerLoss: tf.Scalar | undefined;
  const tfjsStep = (): void => {
    lastPeerLoss?.dispose();
    lastPeerLoss = peerModel.step(tx, ty);
  };
  const engineFlush = (): void => ctx.flush();

  // Warm-up (compiles), one untimed sample each for the wait estimate, then interleaved samples; both take
  // the same number of steps on the same batch.
  for (const warmUp of [true, false]) {
    await timer.sample('e:step', ctx.device, engineStep, engineFlush, warmUp);
    await timer.sample('t:step', peer.device, tfjsStep, peer.flush, warmUp);
  }
  const e: number[] = [];
  const t: number[] = [];
  const submissionsBefore = { engine: ctx.stats.submissions, tfjs: peer.submissions() };
  const dispatchesBefore = ctx.stats.dispatches;
  for (let i = 0; i < pairs; i++) {
    e.push(await timer.sample('e:step', ctx.device, engineStep, engineFlush));
    t.push(await timer.sample('t:step', peer.device, tfjsStep, peer.flush));
  }
  const submissionsPerStep = { engine: (ctx.stats.submissions - submissionsBefore.engine) / pairs, tfjs: (peer.submissions() - submissionsBefore.tfjs) / pairs };
  const dispatchesPerStep = (ctx.stats.dispatches - dispatchesBefore) / pairs;

  // Peak memory of one more step each (both then have taken pairs + 3 steps).
  ctx.pool.resetPeak();
  engineStep();
  ctx.flush();
  await ctx.device.queue.onSubmittedWorkDone();
  const enginePeak = ctx.pool.peakInUseBytes;
  const profile = await tf.profile(() => {
    tfjsStep();
  });
  peer.flush();
  await peer.device.queue.onSubmittedWorkDone();
  const steps = pairs + 3;
  const after = { engine: await engineLoss(), tfjs: await tfjsLoss() };
  const rel = (a: number, b: number): number => Math.abs(a - b) / Math.max(Math.abs(b), 1e-12);
  const check: StepCheck = {
    engineLoss: before.engine,
    tfjsLoss: before.tfjs,
    relativeDifference: rel(before.engine, before.tfjs),
    engineLossAfter: after.engine,
    tfjsLossAfter: after.tfjs,
    relativeDifferenceAfter: rel(after.engine, after.tfjs),
    steps,
  };
  const counts: StepCounts = {
    submissionsPerStep,
    dispatchesPerStep,
    peakBytes: { engine: enginePeak, tfjs: profile.peakBytes },
    allocatedBytes: { engine: ctx.pool.allocatedBytes, tfjs: (peer.backend.memory() as { numBytesAllocatedInGPU: number }).numBytesAllocatedInGPU },
  };
  lastPeerLoss?.dispose();
  tx.dispose();
  ty.dispose();
  peerModel.dispose();
  engine.dispose();
  const engineTimes = spread(e);
  const tfjs = spread(t);
  const { depth, imageSize, dim, heads, patch } = cfg;
  return {
    step: {
      name: `train step: ViT depth ${depth}, ${imageSize}², width ${dim}, ${heads} heads, patch ${patch}, batch ${batch}, LoRA r${rank} q,v + head`,
      unit: 'ms/step',
      higherIsBetter: false,
      engine: engineTimes,
      tfjs,
      speedup: tfjs.median / engineTimes.median,
    },
    check,
    counts,
  };
}

export async function runPeerSuite(ctx: GpuContext, peer: TfjsPeer, options: PeerSuiteOptions): Promise<PeerSuiteResult> {
  const log = options.log ?? (() => undefined);
  const timer = new Timer(options.wait);
  const matmul: Comparison[] = [];
  for (const c of MATMUL_CASES) {
    const r = await compareMatmul(ctx, peer, timer, c, options.pairs, options.matmulFlopsPerSample ?? 4e8);
    log(`${r.name}: engine ${r.engine.median.toFixed(2)} vs tfjs ${r.tfjs.median.toFixed(2)} GFLOP/s (×${r.speedup.toFixed(2)})`);
    matmul.push(r);
  }
  const { step, check, counts } = await compareTrainingStep(ctx, peer, timer, options.step ?? TINY_STEP, options.pairs);
  log(`${step.name}: engine ${step.engine.median.toFixed(0)} vs tfjs ${step.tfjs.median.toFixed(0)} ms (×${step.speedup.toFixed(2)}); loss ${check.engineLoss.toFixed(5)} vs ${check.tfjsLoss.toFixed(5)}`);
  return { matmul, step, check, counts };
}
