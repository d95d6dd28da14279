// bench:peer's loop section: on one small model (ViT depth 4, width 192, 3 heads, 32² images with patch 4,
// 65 tokens; LoRA r8 on q, v and a new head; batch 8; Adam), side by side and interleaved:
//   - the engine's step alone (engineLoraStep), awaiting the queue at once and sleeping first;
//   - the engine's training loop (the Trainer, which `clora train` and the web worker run) on the same model
//     and batch size, waiting the way GpuContext.waits chooses;
//   - TensorFlow.js on its WASM backend (SIMD; threads where the page is cross-origin isolated, one thread in
//     Node) running the same step, what a machine without a GPU could use instead.
// Targets: the loop within 10% of the best isolated step; the loop faster than tfjs-wasm.
import * as tf from '@tensorflow/tfjs';
import { getThreadsCount, setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { crossEntropy } from '../src/autodiff/ops/loss';
import { createFineTuneModel } from '../src/clora/model';
import type { AdapterSettings } from '../src/clora/settings';
import type { GpuContext } from '../src/gpu/context';
import type { VitConfig } from '../src/nn/vit';
import { engineLoraStep, seededLoraWeights, spread, Timer, type Spread, type StepShape } from './peer-suite';
import { tfjsLoraVit } from './peer-tfjs';
import { syntheticImages, timeTrainer } from './train-step';

const CFG: VitConfig = { depth: 4, dim: 192, heads: 3, patch: 4, imageSize: 32, channels: 3, mlpDim: 768, tokens: 65, classes: 0 };
export const LOOP_STEP: StepShape = { cfg: CFG, batch: 8, rank: 8, classes: 10 };
const LORA: AdapterSettings = { method: 'lora', rank: 8, spaces: 1, targets: ['q', 'v'], scale: 1, sadeWeight: 0, dropout: 0 };

export interface LoopComparison {
  model: string;
  /** Milliseconds per step. */
  isolatedAwait: Spread;
  isolatedSleep: Spread;
  loop: Spread;
  /** How the loop waited on this adapter: what GpuContext.waits measured per submission, by scheme. */
  loopWaits: { poll?: number; sleep?: number };
  tfjsWasm: Spread;
  tfjsWasmThreads: number;
  /** Loop time over the best isolated median: the target is ≤ 1.10. */
  loopOverBestStep: number;
  /** tfjs-wasm time over the loop's: > 1 means the engine's loop is faster. */
  loopVsWasm: number;
  /** Same weights and batch: the loss before any step, engine vs tfjs-wasm. */
  engineLoss: number;
  wasmLoss: number;
}

export interface LoopOptions {
  pairs: number;
  /** Trainer steps per loop sample (after 2 warm-up steps). */
  loopSteps: number;
  /** Where the tfjs-wasm binaries are served from (a folder path in Node, a URL in the browser). */
  wasmPaths: string;
  log?: (line: string) => void;
}

/** Runs `work` with tfjs on its WASM backend, then gives the WebGPU backend back (if one was active). */
async function onWasm<T>(work: () => Promise<T>): Promise<T> {
  const previous = tf.getBackend();
  if (!(await tf.setBackend('wasm'))) throw new Error('tfjs could not start its WASM backend.');
  try {
    return await work();
  } finally {
    if (previous && previous !== 'wasm') await tf.setBackend(previous);
  }
}

export async function compareLoop(ctx: GpuContext, o: LoopOptions): Promise<LoopComparison> {
  const log = o.log ?? (() => undefined);
  const shape = LOOP_STEP;
  const lr = 1e-3;
  const weights = seededLoraWeights(CFG, shape.rank, shape.classes, 5);
  const engine = await engineLoraStep(ctx, shape, weights, lr);
  const classes = Array.from({ length: shape.classes }, (_, i) => String(i));
  const start = new Map([...weights].filter(([name]) => name.startsWith('lora.') || name.startsWith('head.')));
  const loopModel = await createFineTuneModel(ctx, CFG, LORA, classes, async (name) => weights.get(name)!, start);
  const data = syntheticImages(CFG, 64, shape.classes, 3);

  setWasmPaths(o.wasmPaths);
  const wasm = await onWasm(async () => {
    const model = tfjsLoraVit(CFG, shape.classes, weights, { scale: 1, lr });
    const x = tf.tensor4d(engine.pixelData, [shape.batch, 3, CFG.imageSize, CFG.imageSize]);
    const y = tf.tensor1d(engine.labelData);
    const loss = model.loss(x, y);
    const value = (await loss.data())[0]!;
    loss.dispose();
    return { model, x, y, loss: value, threads: getThreadsCount() };
  });
  const engineLoss = crossEntropy(engine.model.forward(engine.x, { training: false }), engine.y);
  const [engineLossValue] = await ctx.readMany([engineLoss]);
  engineLoss.dispose();

  const plain = new Timer('plain');
  const sleep = new Timer('sleep');
  const step = (): void => engine.step();
  const flush = (): void => ctx.flush();
  const wasmStep = (): Promise<number> =>
    onWasm(async () => {
      const t0 = performance.now();
      const loss = wasm.model.step(wasm.x, wasm.y);
      await loss.data();
      loss.dispose();
      return performance.now() - t0;
    });
  const loopSample = async (): Promise<number> => (await timeTrainer(ctx, loopModel, data, { batch: shape.batch, steps: o.loopSteps, warmup: 2, logEvery: 10 })).msPerStep;

  // Warm-up: compiles, fills the pools, seeds the waits' estimates.
  for (const warmUp of [true, false]) {
    await plain.sample('step', ctx.device, step, flush, warmUp);
    await sleep.sample('step', ctx.device, step, flush, warmUp);
  }
  await wasmStep();
  const samples = { isolatedAwait: [] as number[], isolatedSleep: [] as number[], loop: [] as number[], tfjsWasm: [] as number[] };
  for (let i = 0; i < o.pairs; i++) {
    samples.isolatedAwait.push(await plain.sample('step', ctx.device, step, flush));
    samples.isolatedSleep.push(await sleep.sample('step', ctx.device, step, flush));
    samples.loop.push(await loopSample());
    samples.tfjsWasm.push(await wasmStep());
    log(`  round ${i + 1}: step awaited ${samples.isolatedAwait.at(-1)!.toFixed(0)}, step sleeping first ${samples.isolatedSleep.at(-1)!.toFixed(0)}, loop ${samples.loop.at(-1)!.toFixed(0)}, tfjs-wasm ${samples.tfjsWasm.at(-1)!.toFixed(0)} ms`);
  }
  const loopWaits = ctx.waits.measured;
  await onWasm(async () => {
    wasm.model.dispose();
    wasm.x.dispose();
    wasm.y.dispose();
  });
  loopModel.dispose();
  engine.dispose();
  const result = {
    isolatedAwait: spread(samples.isolatedAwait),
    isolatedSleep: spread(samples.isolatedSleep),
    loop: spread(samples.loop),
    tfjsWasm: spread(samples.tfjsWasm),
  };
  const { depth, dim, heads, imageSize, patch, tokens } = CFG;
  return {
    model: `ViT depth ${depth}, width ${dim}, ${heads} heads, ${imageSize}² patch ${patch} (${tokens} tokens), batch ${shape.batch}, LoRA r${shape.rank} q,v + head, Adam`,
    ...result,
    loopWaits,
    tfjsWasmThreads: wasm.threads,
    loopOverBestStep: result.loop.median / Math.min(result.isolatedAwait.median, result.isolatedSleep.median),
    loopVsWasm: result.tfjsWasm.median / result.loop.median,
    engineLoss: engineLossValue![0]!,
    wasmLoss: wasm.loss,
  };
}
