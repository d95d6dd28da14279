// The training loop shared by the command line and the web worker: batches with gradient accumulation,
// the schedule, metrics read back every few steps (never inside a step), pause/resume/stop, a serialisable
// state for checkpoints, and a NaN/Inf guard that stops and restores the last good state.
import { add, scale } from '../autodiff/ops/elementwise';
import { crossEntropy } from '../autodiff/ops/loss';
import { Tape } from '../autodiff/tape';
import { Tensor } from '../autodiff/tensor';
import type { FineTuneModel } from '../clora/model';
import { SettingsError } from '../clora/settings';
import { checkDataset, gatherBatch, type Dataset } from '../data/dataset';
import { augmentInto } from '../data/augment';
import { AdamW, Sgd, type Optimizer, type OptimizerState } from './optimizer';
import { Rng } from './rng';
import { learningRate } from './schedule';

export type OptimizerName = 'adamw' | 'sgd';

export interface TrainOptions {
  optimizer: OptimizerName;
  lr: number;
  weightDecay: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  /** Length of the run: whole passes over the data, or a number of optimizer steps. */
  epochs?: number;
  steps?: number;
  batchSize: number;
  /** Samples per forward/backward; gradients accumulate over the micro-batches of one batch. */
  microBatchSize?: number;
  /** Linear warm-up steps before the cosine decay; 0 keeps the rate constant. */
  warmup: number;
  labelSmoothing: number;
  seed: number;
  shuffle: boolean;
  augment?: { flip: boolean; randomResizedCrop: boolean };
  /** Read metrics back every this many steps (and at the end). */
  logEvery: number;
}

export const DEFAULT_TRAIN_OPTIONS: TrainOptions = {
  optimizer: 'adamw',
  lr: 1e-3,
  weightDecay: 1e-4,
  epochs: 10,
  batchSize: 32,
  warmup: 0,
  labelSmoothing: 0,
  seed: 0,
  shuffle: true,
  logEvery: 10,
};

export interface TrainMetrics {
  step: number;
  totalSteps: number;
  epoch: number;
  loss: number;
  crossEntropy: number;
  sade: number;
  lr: number;
  imagesPerSecond: number;
  etaSeconds: number;
}

/** Everything needed to continue a run later (a checkpoint's content). */
export interface TrainingState {
  step: number;
  rngState: number;
  /** Order of the current epoch's samples, and how far into it the run is. */
  order: number[];
  cursor: number;
  trainable: Map<string, Float32Array>;
  optimizer: OptimizerState;
  history: TrainMetrics[];
}

export class TrainingDiverged extends Error {
  override name = 'TrainingDiverged';
}

export function validateTrainOptions(o: TrainOptions, data: Dataset): void {
  if (!(Number.isFinite(o.lr) && o.lr > 0)) throw new SettingsError(`The learning rate must be greater than 0 (got ${o.lr}).`);
  if (!(Number.isFinite(o.weightDecay) && o.weightDecay >= 0)) throw new SettingsError(`The weight decay must be ≥ 0 (got ${o.weightDecay}).`);
  if (!Number.isInteger(o.batchSize) || o.batchSize < 1) throw new SettingsError(`The batch size must be a whole number ≥ 1 (got ${o.batchSize}).`);
  if (o.batchSize > data.count) throw new SettingsError(`The batch size ${o.batchSize} is larger than the data set (${data.count} images); use at most ${data.count}.`);
  if (o.microBatchSize !== undefined && (!Number.isInteger(o.microBatchSize) || o.microBatchSize < 1)) throw new SettingsError(`The micro-batch size must be a whole number ≥ 1 (got ${o.microBatchSize}).`);
  if (o.steps === undefined && o.epochs === undefined) throw new SettingsError('Give a number of epochs or of steps.');
  if (o.steps !== undefined && (!Number.isInteger(o.steps) || o.steps < 1)) throw new SettingsError(`The number of steps must be a whole number ≥ 1 (got ${o.steps}).`);
  if (o.steps === undefined && (!Number.isInteger(o.epochs) || o.epochs! < 1)) throw new SettingsError(`The number of epochs must be a whole number ≥ 1 (got ${o.epochs}).`);
  if (!Number.isInteger(o.warmup) || o.warmup < 0) throw new SettingsError(`The warm-up must be a whole number of steps ≥ 0 (got ${o.warmup}).`);
  if (!(o.labelSmoothing >= 0 && o.labelSmoothing < 1)) throw new SettingsError(`Label smoothing must be in [0, 1) (got ${o.labelSmoothing}).`);
  checkDataset(data);
}

export class Trainer {
  readonly totalSteps: number;
  readonly stepsPerEpoch: number;
  history: TrainMetrics[] = [];
  private step = 0;
  private rng: Rng;
  private order: number[] = [];
  private cursor = 0;
  private pauseRequested = false;
  private stopRequested = false;
  private pending: { step: number; parts: Tensor[]; sade: Tensor | null; lr: number; images: number }[] = [];
  private lastGood: { trainable: Map<string, Float32Array>; optimizer: OptimizerState; step: number } | undefined;
  private clock = { start: 0, images: 0 };

  private constructor(
    readonly model: FineTuneModel,
    readonly data: Dataset,
    readonly options: TrainOptions,
    readonly optimizer: Optimizer,
  ) {
    this.stepsPerEpoch = Math.ceil(data.count / options.batchSize);
    this.totalSteps = options.steps ?? this.stepsPerEpoch * options.epochs!;
    this.rng = new Rng(options.seed);
    this.newEpoch();
  }

  static async create(model: FineTuneModel, data: Dataset, options: TrainOptions): Promise<Trainer> {
    validateTrainOptions(options, data);
    const store = model.parts.trainable;
    const optimizer: Optimizer =
      options.optimizer === 'adamw'
        ? await AdamW.create(store, { lr: options.lr, beta1: options.beta1, beta2: options.beta2, eps: options.eps, weightDecay: options.weightDecay })
        : await Sgd.create(store, { lr: options.lr, weightDecay: options.weightDecay });
    return new Trainer(model, data, options, optimizer);
  }

  get currentStep(): number {
    return this.step;
  }

  get done(): boolean {
    return this.step >= this.totalSteps;
  }

  pause(): void {
    this.pauseRequested = true;
  }

  stop(): void {
    this.stopRequested = true;
  }

  private newEpoch(): void {
    this.order = Array.from({ length: this.data.count }, (_, i) => i);
    if (this.options.shuffle) this.rng.shuffle(this.order);
    this.cursor = 0;
  }

  /** The next batch's sample indices; batches do not straddle epochs (the last one may be smaller). */
  private nextBatch(): number[] {
    if (this.cursor >= this.order.length) this.newEpoch();
    const batch = this.order.slice(this.cursor, this.cursor + this.options.batchSize);
    this.cursor += batch.length;
    return batch;
  }

  /** Records one optimizer step; no GPU read. */
  private trainStep(): void {
    const { model, data, options } = this;
    const ctx = model.ctx;
    const batch = this.nextBatch();
    const micro = options.microBatchSize ?? batch.length;
    const lr = learningRate(this.step + 1, this.totalSteps, options.lr, options.warmup);
    const per = data.imageShape[0] * data.imageShape[1] * data.imageShape[2];
    model.parts.trainable.zeroGrad();
    const parts: Tensor[] = [];
    let sadeTerm: Tensor | null = null;
    for (let start = 0; start < batch.length; start += micro) {
      const indices = batch.slice(start, start + micro);
      const pixels = new Float32Array(indices.length * per);
      const labels = new Float32Array(indices.length);
      if (options.augment && (options.augment.flip || options.augment.randomResizedCrop)) augmentInto(data, indices, pixels, labels, this.rng, options.augment);
      else gatherBatch(data, indices, pixels, labels);
      const tape = new Tape(ctx);
      const x = Tensor.fromData(ctx, [indices.length, ...data.imageShape], pixels);
      const y = Tensor.fromData(ctx, [indices.length], labels);
      const logits = model.forward(x, { training: true, seed: this.rng.fork() });
      // Mean cross-entropy over the whole batch = Σ over micro-batches of (size/batch) · their mean.
      let loss = scale(crossEntropy(logits, y, { labelSmoothing: options.labelSmoothing }), indices.length / batch.length);
      parts.push(loss);
      if (start === 0 && model.parts.settings.sadeWeight > 0) {
        const sade = model.sade();
        if (sade) {
          sadeTerm = sade;
          loss = add(loss, scale(sade, model.parts.settings.sadeWeight));
        }
      }
      tape.backward(loss);
      tape.dispose(sadeTerm && start === 0 ? [...parts.slice(-1), sadeTerm] : parts.slice(-1));
    }
    model.zeroInertGradients();
    this.optimizer.step(lr);
    ctx.flush();
    this.step++;
    this.clock.images += batch.length;
    this.pending.push({ step: this.step, parts, sade: sadeTerm, lr, images: batch.length });
  }

  /** Reads the losses recorded since the last report; throws TrainingDiverged (after restoring) on NaN/Inf. */
  private async report(onMetrics?: (m: TrainMetrics) => void): Promise<void> {
    if (this.pending.length === 0) return;
    const pending = this.pending;
    this.pending = [];
    const tensors = pending.flatMap((p) => [...p.parts, ...(p.sade ? [p.sade] : [])]);
    const values = await this.model.ctx.readMany(tensors);
    tensors.forEach((t) => t.dispose());
    let k = 0;
    const elapsed = (performance.now() - this.clock.start) / 1000;
    const rate = this.clock.images / Math.max(elapsed, 1e-9);
    for (const p of pending) {
      let ce = 0;
      for (let i = 0; i < p.parts.length; i++) ce += values[k++]![0]!;
      const sade = p.sade ? values[k++]![0]! : 0;
      const loss = ce + this.model.parts.settings.sadeWeight * sade;
      if (!Number.isFinite(loss)) {
        await this.restoreLastGood();
        throw new TrainingDiverged(
          `Training diverged at step ${p.step}: the loss became ${loss}. The adapter was restored to step ${this.lastGood?.step ?? 0}; lower the learning rate and resume.`,
        );
      }
      const remainingImages = (this.totalSteps - p.step) * this.options.batchSize;
      const metrics: TrainMetrics = {
        step: p.step,
        totalSteps: this.totalSteps,
        epoch: p.step / this.stepsPerEpoch,
        loss,
        crossEntropy: ce,
        sade,
        lr: p.lr,
        imagesPerSecond: rate,
        etaSeconds: remainingImages / Math.max(rate, 1e-9),
      };
      this.history.push(metrics);
      onMetrics?.(metrics);
    }
    this.lastGood = { trainable: await this.model.parts.trainable.readAll(), optimizer: await this.optimizer.state(), step: this.step };
  }

  private async restoreLastGood(): Promise<void> {
    const good = this.lastGood;
    const store = this.model.parts.trainable;
    if (!good) return;
    for (const [name, data] of good.trainable) store.upload(name, data);
    this.optimizer.loadState(good.optimizer);
    this.step = good.step;
  }

  /**
   * Trains until done, paused or stopped. Metrics are read back every `logEvery` steps; the step itself never
   * waits for the GPU. Resolves with why it returned; call again after a pause to continue.
   */
  async run(onMetrics?: (m: TrainMetrics) => void): Promise<'done' | 'paused' | 'stopped'> {
    this.pauseRequested = false;
    this.clock = { start: performance.now(), images: 0 };
    if (!this.lastGood) this.lastGood = { trainable: await this.model.parts.trainable.readAll(), optimizer: await this.optimizer.state(), step: this.step };
    while (!this.done) {
      if (this.stopRequested || this.pauseRequested) break;
      this.trainStep();
      if (this.step % this.options.logEvery === 0 || this.done) await this.report(onMetrics);
    }
    await this.report(onMetrics);
    if (this.stopRequested) return 'stopped';
    return this.done ? 'done' : 'paused';
  }

  /** A snapshot to save in a checkpoint (reads the adapter and the optimizer moments back). */
  async state(): Promise<TrainingState> {
    return {
      step: this.step,
      rngState: this.rng.state,
      order: [...this.order],
      cursor: this.cursor,
      trainable: await this.model.parts.trainable.readAll(),
      optimizer: await this.optimizer.state(),
      history: [...this.history],
    };
  }

  loadState(state: TrainingState): void {
    const store = this.model.parts.trainable;
    for (const [name, data] of state.trainable) store.upload(name, data);
    this.optimizer.loadState(state.optimizer);
    this.step = state.step;
    this.rng = new Rng(state.rngState);
    this.order = [...state.order];
    this.cursor = state.cursor;
    this.history = [...state.history];
    this.lastGood = undefined;
  }

  dispose(): void {
    for (const p of this.pending) p.parts.forEach((t) => t.dispose());
    this.pending = [];
    this.optimizer.dispose();
  }
}
