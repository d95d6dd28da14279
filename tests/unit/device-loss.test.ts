// The GPU device lost at the worst moments, in Node on Dawn (the trainer and GpuContext the web worker uses):
// while a step is being recorded, while its submission runs, while a checkpoint's state is read back, and
// during evaluation. Each ends, without hanging, in a DeviceLostError that says what happened and what to
// do; no state is produced from incomplete reads; and a fresh device resumed from the last complete state
// takes exactly the steps the uninterrupted run took.
import { describe, expect, it } from 'vitest';
import type { GpuContext } from '../../src/gpu/context';
import { DeviceLostError } from '../../src/gpu/errors';
import { predictLogits } from '../../src/train/predict';
import { Trainer, type TrainingState, type TrainOptions } from '../../src/train/trainer';
import { freshGpu } from '../helpers/gpu';
import { tinyDataset, tinyModel } from '../helpers/tiny-model';

const OPTIONS: TrainOptions = { optimizer: 'adamw', lr: 5e-3, weightDecay: 1e-4, steps: 8, batchSize: 6, warmup: 2, labelSmoothing: 0.1, seed: 9, shuffle: true, logEvery: 2, augment: { flip: true, randomResizedCrop: true } };
const CHECKPOINT_STEP = 4;
const data = tinyDataset(18, 21);

async function setup() {
  const ctx = await freshGpu();
  const model = await tinyModel(ctx, { dropout: 0.1 });
  const trainer = await Trainer.create(model, data, OPTIONS);
  return { ctx, model, trainer };
}

/** The uninterrupted run: its losses by step and its final adapter. */
let reference: Promise<{ losses: Map<number, number>; final: Map<string, Float32Array> }> | undefined;
function referenceRun() {
  reference ??= (async () => {
    const { ctx, model, trainer } = await setup();
    const losses = new Map<number, number>();
    await trainer.run((m) => losses.set(m.step, m.loss));
    const final = await model.parts.trainable.readAll();
    ctx.destroy();
    return { losses, final };
  })();
  return reference;
}

/** Trains to the checkpoint step and saves its state, as the app does at a checkpoint. */
async function trainToCheckpoint() {
  const run = await setup();
  expect(await run.trainer.run(undefined, (step) => step === CHECKPOINT_STEP)).toBe('paused');
  const saved = await run.trainer.state();
  expect(saved.step).toBe(CHECKPOINT_STEP);
  return { ...run, saved };
}

/** Calls `lose` once, the `nth` time `method` of the context is called (after the original call returns). */
function loseOn(ctx: GpuContext, method: 'dispatch' | 'flush' | 'readMany', nth: number): { fired: () => boolean } {
  let calls = 0;
  let fired = false;
  const original = (ctx[method] as (...args: unknown[]) => unknown).bind(ctx);
  (ctx as unknown as Record<string, unknown>)[method] = (...args: unknown[]) => {
    const result = original(...args);
    if (++calls === nth && !fired) {
      fired = true;
      ctx.device.destroy(); // what a driver reset or an unplugged GPU does
    }
    return result;
  };
  return { fired: () => fired };
}

async function failure(work: Promise<unknown>): Promise<unknown> {
  return work.then(
    () => undefined,
    (e: unknown) => e,
  );
}

function expectLoss(error: unknown): void {
  expect(error).toBeInstanceOf(DeviceLostError);
  expect((error as Error).message).toMatch(/^The GPU device was lost \(destroyed.*\)\. Work since the last checkpoint is gone; reload or resume from the last checkpoint\.$/);
}

/** A fresh device, the saved state loaded, trained to the end: the same steps as the uninterrupted run. */
async function expectResumeMatches(saved: TrainingState): Promise<void> {
  const { losses: expected, final } = await referenceRun();
  const fresh = await setup();
  fresh.trainer.loadState(saved);
  const losses = new Map<number, number>();
  expect(await fresh.trainer.run((m) => losses.set(m.step, m.loss))).toBe('done');
  expect([...losses.keys()]).toEqual([...expected.keys()].filter((s) => s > CHECKPOINT_STEP));
  for (const [step, loss] of losses) expect(loss, `loss at step ${step}`).toBeCloseTo(expected.get(step)!, 5);
  const after = await fresh.model.parts.trainable.readAll();
  for (const [name, values] of final) expect([...after.get(name)!], name).toEqual([...values]);
  fresh.ctx.destroy();
}

describe('device loss', () => {
  it('while a step is being recorded: the run fails with DeviceLostError, the saved state stays whole, and a fresh device resumes it exactly', async () => {
    const run = await trainToCheckpoint();
    const savedCopy = structuredClone(run.saved);
    // Part-way through recording the second step after the checkpoint (its dispatches are counted).
    const dispatchesPerStep = 40;
    const loss = loseOn(run.ctx, 'dispatch', dispatchesPerStep + 7);
    const started = Date.now();
    const error = await failure(run.trainer.run());
    expect(loss.fired()).toBe(true);
    expectLoss(error);
    expect(run.trainer.currentStep).toBeLessThan(OPTIONS.steps!);
    expect(Date.now() - started).toBeLessThan(60_000);
    // Nothing more can be read from the lost device: a checkpoint now would fail, not come out partial.
    expectLoss(await failure(run.trainer.state()));
    expect(run.saved).toEqual(savedCopy);
    await expectResumeMatches(run.saved);
  });

  it('while a step runs on the GPU: the run fails with DeviceLostError and the last complete state resumes exactly', async () => {
    const run = await trainToCheckpoint();
    // Right after the step's single submission, while its work is queued or running.
    const loss = loseOn(run.ctx, 'flush', 2);
    expectLoss(await failure(run.trainer.run()));
    expect(loss.fired()).toBe(true);
    expectLoss(await failure(run.trainer.state()));
    await expectResumeMatches(run.saved);
  });

  it('while a checkpoint is being read back: no state comes out, and the previous one resumes exactly', async () => {
    const run = await trainToCheckpoint();
    expect(await run.trainer.run(undefined, (step) => step === CHECKPOINT_STEP + 2)).toBe('paused');
    // state() reads the adapter, then the optimizer moments: the device goes after the first read starts.
    loseOn(run.ctx, 'readMany', 1);
    expectLoss(await failure(run.trainer.state()));
    await expectResumeMatches(run.saved);
  });

  it('during evaluation: predictions fail with DeviceLostError instead of returning partial logits', async () => {
    const run = await trainToCheckpoint();
    const validation = tinyDataset(40, 22);
    // Chunks of 16: the device goes while the second chunk's logits are being read.
    loseOn(run.ctx, 'readMany', 2);
    const error = await failure(predictLogits(run.model, validation.inputs as Float32Array, validation.count, validation.sampleShape, 16));
    expectLoss(error);
    expect(() => run.ctx.flush()).toThrow(DeviceLostError);
    await expectResumeMatches(run.saved);
  });
});
