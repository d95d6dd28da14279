// The CLoRA/LoRA training-step ratio (bench:clora-step): one model per method on the same frozen backbone,
// each step recorded exactly as the trainer records one (forward with dropout, mean cross-entropy + λ·SADE,
// backward, the inert-gradient clear, AdamW), then timed in interleaved pairs in one process so machine load
// hits both alike. Variants isolate where CLoRA's extra time goes: SADE off, and fewer spaces p (p = 1 has
// LoRA's bottleneck width r; p·r is the width CLoRA's branch runs at), and LoRA at rank p·r for scale.
import { add, scale } from '../src/autodiff/ops/elementwise';
import { crossEntropy } from '../src/autodiff/ops/loss';
import { Tape } from '../src/autodiff/tape';
import { Tensor } from '../src/autodiff/tensor';
import { createFineTuneModel, initialTensors, trainableParameterCount } from '../src/clora/model';
import { DEFAULT_ADAPTER_SETTINGS, type AdapterSettings } from '../src/clora/settings';
import type { GpuContext } from '../src/gpu/context';
import type { VitConfig } from '../src/nn/vit';
import { AdamW } from '../src/train/optimizer';
import { Rng } from '../src/train/rng';
import { spread, type Spread } from './peer-suite';

export interface StepVariant {
  /** Short name printed in tables: `lora`, `clora`, `clora no SADE`, `clora p2`, `lora r32`… */
  name: string;
  settings: AdapterSettings;
}

/** LoRA and CLoRA at the defaults (q,v, r 8; CLoRA p 4, SADE 0.1, dropout 0.1 for both), and the isolating variants. */
export function stepVariants(isolate: boolean): StepVariant[] {
  const clora: AdapterSettings = { ...DEFAULT_ADAPTER_SETTINGS };
  const lora: AdapterSettings = { ...clora, method: 'lora', spaces: 1, sadeWeight: 0 };
  const variants: StepVariant[] = [
    { name: 'lora', settings: lora },
    { name: 'clora', settings: clora },
  ];
  if (isolate) {
    variants.push(
      { name: 'clora no SADE', settings: { ...clora, sadeWeight: 0 } },
      { name: 'clora p2', settings: { ...clora, spaces: 2 } },
      { name: 'clora p1', settings: { ...clora, spaces: 1 } },
      // LoRA at CLoRA's bottleneck width p·r: the rank each CLoRA module can reach.
      { name: 'lora r32', settings: { ...lora, rank: clora.rank * clora.spaces } },
    );
  }
  return variants;
}

/** One method's training step on a fixed batch, recorded the way src/train/trainer.ts records one. */
export interface RecordedStep {
  variant: StepVariant;
  trainable: number;
  /** Records one step (no submission, no wait). */
  record(): void;
  /** Dispatches one step records. */
  dispatches: number;
  dispose(): void;
}

export async function recordedStep(
  ctx: GpuContext,
  cfg: VitConfig,
  backbone: (name: string) => Promise<Float32Array>,
  variant: StepVariant,
  batch: number,
  classes: number,
): Promise<RecordedStep> {
  const { settings } = variant;
  const names = Array.from({ length: classes }, (_, i) => `c${i}`);
  const model = await createFineTuneModel(ctx, cfg, settings, names, backbone, initialTensors(cfg, settings, classes, new Rng(4)));
  const optimizer = await AdamW.create(model.parts.trainable, { lr: 1e-3, weightDecay: 1e-4 });
  const rng = new Rng(11);
  const x = Tensor.fromData(ctx, [batch, cfg.channels, cfg.imageSize, cfg.imageSize], Float32Array.from({ length: batch * cfg.channels * cfg.imageSize ** 2 }, () => rng.uniform(-1, 1)));
  const y = Tensor.fromData(ctx, [batch], Float32Array.from({ length: batch }, (_, i) => i % classes));
  let seed = 1;
  let last: Tensor | undefined;
  const record = (): void => {
    last?.dispose();
    model.parts.trainable.zeroGrad();
    const tape = new Tape(ctx);
    let loss: Tensor | undefined;
    try {
      loss = crossEntropy(model.forward(x, { training: true, seed: seed++ }), y);
      const sade = settings.sadeWeight > 0 ? model.sade() : null;
      if (sade) loss = add(loss, scale(sade, settings.sadeWeight));
      tape.backward(loss);
    } finally {
      tape.dispose(loss ? [loss] : []);
    }
    last = loss;
    model.zeroInertGradients();
    optimizer.step();
  };
  const before = ctx.stats.dispatches;
  record();
  const dispatches = ctx.stats.dispatches - before;
  await ctx.sync();
  return {
    variant,
    trainable: trainableParameterCount(cfg, settings, classes),
    record,
    dispatches,
    dispose() {
      last?.dispose();
      x.dispose();
      y.dispose();
      optimizer.dispose();
      model.dispose();
    },
  };
}

/**
 * Per step over `steps` recorded steps, submitted together and waited for: wall milliseconds, and the CPU
 * milliseconds this process spent meanwhile (all its threads). On an emulated adapter the GPU's work runs on
 * this process's threads, so CPU time is the step's work whatever else loads the machine (the wait is the
 * context's, which sleeps there rather than spinning); on a real GPU it is only the recording and the
 * waiting, and wall time is the figure.
 */
async function timeSteps(ctx: GpuContext, step: RecordedStep, steps: number): Promise<{ wall: number; cpu: number }> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < steps; i++) {
    step.record();
    ctx.flush();
  }
  await ctx.sync();
  const wall = (performance.now() - t0) / steps;
  const c = process.cpuUsage(c0);
  return { wall, cpu: (c.user + c.system) / 1000 / steps };
}

export interface VariantTime {
  name: string;
  trainable: number;
  dispatches: number;
  /** Wall ms per step over the rounds. */
  ms: Spread;
  /** Median over rounds of this variant's wall ms / LoRA's in the same round. */
  ratio: number;
  /** The process's CPU ms per step over the rounds (see timeSteps). */
  cpuMs: Spread;
  /** Median over rounds of this variant's CPU ms / LoRA's in the same round. */
  cpuRatio: number;
  /** This variant's fastest CPU ms over LoRA's fastest: the samples least disturbed by other load. */
  cpuFastestRatio: number;
}

/**
 * Interleaved rounds: each round times every variant once (`steps` steps each, in an order that rotates per
 * round so neither method always runs first after a pause), after one untimed warm-up round. The ratio to
 * LoRA is taken within each round, then the median over rounds.
 */
export async function interleave(ctx: GpuContext, steps: RecordedStep[], opts: { rounds: number; stepsPerSample: number; log?: (line: string) => void }): Promise<VariantTime[]> {
  const lora = steps.findIndex((s) => s.variant.name === 'lora');
  if (lora < 0) throw new Error('interleave: a LoRA step is the baseline and must be among the steps.');
  for (const s of steps) await timeSteps(ctx, s, 1);
  const wall = steps.map(() => [] as number[]);
  const cpu = steps.map(() => [] as number[]);
  for (let round = 0; round < opts.rounds; round++) {
    for (let k = 0; k < steps.length; k++) {
      const i = (k + round) % steps.length;
      const t = await timeSteps(ctx, steps[i]!, opts.stepsPerSample);
      wall[i]!.push(t.wall);
      cpu[i]!.push(t.cpu);
    }
    opts.log?.(`round ${round + 1}/${opts.rounds}: ${steps.map((s, i) => `${s.variant.name} ${wall[i]!.at(-1)!.toFixed(1)} ms (CPU ${cpu[i]!.at(-1)!.toFixed(1)})`).join(', ')}`);
  }
  const ratio = (of: number[][], i: number): number => spread(of[i]!.map((ms, round) => ms / of[lora]![round]!)).median;
  return steps.map((s, i) => ({
    name: s.variant.name,
    trainable: s.trainable,
    dispatches: s.dispatches,
    ms: spread(wall[i]!),
    ratio: ratio(wall, i),
    cpuMs: spread(cpu[i]!),
    cpuRatio: ratio(cpu, i),
    cpuFastestRatio: Math.min(...cpu[i]!) / Math.min(...cpu[lora]!),
  }));
}
