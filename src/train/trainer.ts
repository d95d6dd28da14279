// The training loop shared by the command line and the web worker: batches with gradient accumulation,
// the schedule, metrics read back every few steps (never inside a step), pause/resume/stop, a serialisable
// state for checkpoints, and a NaN/Inf guard that stops and restores the last good state.
import { add, mul, scale } from '../autodiff/ops/elementwise';
import { crossEntropy } from '../autodiff/ops/loss';
import { Tape } from '../autodiff/tape';
import { Tensor } from '../autodiff/tensor';
import type { FineTuneModel } from '../clora/model';
import type { DryRunResult } from '../gpu/context';
import { kernelKey, type KernelSpec } from '../gpu/pipelines';
import { SettingsError } from '../clora/settings';
import { checkDataset, countText, type Dataset } from '../data/dataset';
import type { PointAugmentOptions } from '../data/points/augment';
import { planMemory, type MemoryPlan } from './memory-plan';
import { AdamW, LossScaler, Sgd, type LossScaleOptions, type LossScaleState, type Optimizer, type OptimizerState } from './optimizer';
import { BatchSampler, type ImageAugment } from './batches';
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
  /**
   * Training-time augmentation of each batch: images (random resized crop, horizontal flip) or point clouds
   * (Point-MAE's scale and translate per axis; optionally rotation about the up axis and jitter).
   */
  augment?: ImageAugment | PointAugmentOptions;
  /** Read metrics back every this many steps (and at the end). */
  logEvery: number;
  /**
   * GPU memory a step may use, in bytes, when the trainer picks the micro-batch (WebGPU does not tell how
   * much memory a device has). Default DEFAULT_MEMORY_BUDGET (memory-plan.ts).
   */
  memoryBudget?: number;
  /** Activation checkpointing per block: true, false, or 'auto' (default: when that is what fits). */
  recompute?: boolean | 'auto';
  /**
   * 'f16': mixed precision — the backbone's activations (and those kept for the backward) are f16, the
   * weights, the adapter, the head and every parameter gradient stay f32, and dynamic loss scaling guards
   * the f16 gradients. Needs the adapter's `shader-f16` feature. Default 'f32'.
   */
  precision?: Precision;
  /** Dynamic loss scaling in f16 mode (initial scale 2^15, doubling after 200 good steps). */
  lossScale?: LossScaleOptions;
}

export type Precision = 'f32' | 'f16';

/** Refuses f16 training on an adapter without `shader-f16` (SettingsError, with what to do). */
export function checkPrecision(precision: Precision, features: ReadonlySet<string>): void {
  if (precision !== 'f32' && precision !== 'f16') throw new SettingsError(`The precision must be f32 or f16 (got ${String(precision)}).`);
  if (precision === 'f16' && !features.has('shader-f16')) {
    throw new SettingsError("f16 training needs a GPU whose WebGPU adapter offers the 'shader-f16' feature, and this one does not; train with f32 precision instead.");
  }
}

/** What preparing a run did before step 1. */
export interface PreparedRun {
  plan: MemoryPlan;
  /** Kernel specialisations one step uses (each micro-batch size included). */
  kernels: number;
  /** Of those, compiled (asynchronously) by prepare(). */
  compiledAhead: number;
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
  /** f16 mode: the loss scale after this report's last step, and the steps skipped so far on overflow. */
  lossScale?: number;
  skippedSteps?: number;
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
  if (o.batchSize > data.count) throw new SettingsError(`The batch size ${o.batchSize} is larger than the data set (${countText(data, data.count)}); use at most ${data.count}.`);
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
  private readonly sampler: BatchSampler;
  private pauseRequested = false;
  private stopRequested = false;
  private pending: { step: number; parts: Tensor[]; sade: Tensor | null; lr: number; images: number }[] = [];
  private lastGood: { trainable: Map<string, Float32Array>; optimizer: OptimizerState; step: number; lossScale?: LossScaleState } | undefined;
  private clock = { start: 0, images: 0 };
  private prepared: PreparedRun | undefined;
  private microBatch: number;
  /** A report whose read rides on a step's submission and is not processed yet. */
  private inFlight: Promise<void> | undefined;

  private constructor(
    readonly model: FineTuneModel,
    readonly data: Dataset,
    readonly options: TrainOptions,
    readonly optimizer: Optimizer,
    /** f16 mode's dynamic loss scale (undefined in f32). */
    readonly lossScaler: LossScaler | undefined,
  ) {
    this.stepsPerEpoch = Math.ceil(data.count / options.batchSize);
    this.totalSteps = options.steps ?? this.stepsPerEpoch * options.epochs!;
    this.microBatch = options.microBatchSize ?? options.batchSize;
    this.sampler = new BatchSampler(model.ctx, data, options);
  }

  static async create(model: FineTuneModel, data: Dataset, options: TrainOptions): Promise<Trainer> {
    validateTrainOptions(options, data);
    const precision = options.precision ?? 'f32';
    checkPrecision(precision, model.ctx.features);
    const store = model.parts.trainable;
    const optimizer: Optimizer =
      options.optimizer === 'adamw'
        ? await AdamW.create(store, { lr: options.lr, beta1: options.beta1, beta2: options.beta2, eps: options.eps, weightDecay: options.weightDecay })
        : await Sgd.create(store, { lr: options.lr, weightDecay: options.weightDecay });
    let scaler: LossScaler | undefined;
    if (precision === 'f16') {
      try {
        scaler = await LossScaler.create(model.ctx, options.lossScale);
      } catch (error) {
        optimizer.dispose();
        throw error;
      }
      optimizer.lossScaler = scaler;
    }
    model.precision = precision;
    return new Trainer(model, data, options, optimizer, scaler);
  }

  get currentStep(): number {
    return this.step;
  }

  /** The plan and warm-up done by prepare(), once it has run. */
  get preparation(): PreparedRun | undefined {
    return this.prepared;
  }

  /** Samples per forward/backward (the plan's choice unless the options fix it). */
  get microBatchSize(): number {
    return this.microBatch;
  }

  /**
   * Gets the run ready without running anything: picks the micro-batch and whether to recompute
   * activations from recorded-but-not-run steps (planMemory), then compiles, asynchronously, every pipeline
   * a step will use, so step 1 compiles nothing. run() calls it; calling it earlier moves the compile wait.
   */
  async prepare(): Promise<PreparedRun> {
    if (this.prepared) return this.prepared;
    const plan = this.planMemory();
    this.usePlan(plan);
    const specs = new Map<string, KernelSpec>();
    for (const [size, first] of this.microBatchShapes()) {
      for (const spec of this.dryStep(size, first).specs) specs.set(kernelKey(spec), spec);
    }
    const pipelines = this.model.ctx.pipelines;
    const before = pipelines.compiled;
    await pipelines.prepare([...specs.values()]);
    this.prepared = { plan, kernels: specs.size, compiledAhead: pipelines.compiled - before };
    return this.prepared;
  }

  /** Trains with this plan's micro-batch and activation recomputation (prepare() applies planMemory()'s). */
  usePlan(plan: Pick<MemoryPlan, 'microBatchSize' | 'recompute'>): void {
    this.microBatch = Math.min(plan.microBatchSize, this.options.batchSize);
    this.model.recompute = plan.recompute;
  }

  /**
   * Chooses the micro-batch and activation checkpointing so that one step fits `memoryBudget` and the
   * device's buffer limits (memory-plan.ts), measuring each candidate by recording one step and discarding
   * it (GpuContext.dryRun): nothing runs and nothing is allocated.
   */
  planMemory(): MemoryPlan {
    const { options } = this;
    const request = { batchSize: options.batchSize, budgetBytes: options.memoryBudget, microBatchSize: options.microBatchSize, recompute: options.recompute };
    return planMemory(request, (micro, recompute) => {
      const saved = this.model.recompute;
      this.model.recompute = recompute;
      try {
        return this.dryStep(micro, true);
      } finally {
        this.model.recompute = saved;
      }
    });
  }

  /** Distinct (micro-batch size, first of its batch) pairs a run will record: full and short batches. */
  private microBatchShapes(): [number, boolean][] {
    const batch = this.options.batchSize;
    const micro = this.microBatch;
    const last = this.data.count - (this.stepsPerEpoch - 1) * batch;
    const shapes = new Map<string, [number, boolean]>();
    for (const size of new Set([batch, last])) {
      for (let start = 0; start < size; start += micro) {
        const n = Math.min(micro, size - start);
        shapes.set(`${n}:${start === 0}`, [n, start === 0]);
      }
    }
    return [...shapes.values()];
  }

  /**
   * Records one micro-batch's forward and backward and the optimizer update without running them: which
   * kernels they use, and the step's peak memory. Leaves no trace (no RNG draw, no optimizer step).
   */
  private dryStep(micro: number, first: boolean): DryRunResult<void> {
    return this.model.ctx.dryRun(() => this.recordPlannedStep(micro, first, true));
  }

  /**
   * Peak GPU bytes of one step of the current plan, measured by recording it for real (every buffer
   * allocated) and discarding it unrun — for models an emulated GPU cannot run in reasonable time. The
   * buffers it allocated are destroyed afterwards. Compare with the plan's dry-run figure.
   */
  measureStepPeak(): number {
    const ctx = this.model.ctx;
    ctx.flush();
    const savedPeak = ctx.pool.peakInUseBytes;
    ctx.pool.resetPeak();
    try {
      // The update allocates nothing: left out.
      this.recordPlannedStep(this.microBatch, true, false);
      return ctx.pool.peakInUseBytes;
    } finally {
      ctx.discard();
      ctx.pool.trim();
      ctx.pool.peakInUseBytes = Math.max(savedPeak, ctx.pool.peakInUseBytes);
    }
  }

  private recordPlannedStep(micro: number, first: boolean, update: boolean): void {
    const { model, data } = this;
    const ctx = model.ctx;
    const store = model.parts.trainable;
    store.zeroGrad();
    const x = Tensor.empty(ctx, [micro, ...data.sampleShape]);
    const y = Tensor.empty(ctx, [micro]);
    try {
      const { part, sade } = this.recordMicroBatch(x, y, this.options.batchSize, first, 0);
      part.dispose();
      sade?.dispose();
    } finally {
      x.dispose();
      y.dispose();
    }
    model.zeroInertGradients();
    // The optimizer's own kernels (dry runs never run them); recordUpdate counts no step.
    if (update) this.optimizer.recordUpdate(this.options.lr, 1);
  }

  /**
   * Forward, loss and backward of one micro-batch on its own tape (gradients accumulate into the flat
   * gradient buffer). Returns the loss part (its share of the batch mean) and, for the first micro-batch, the
   * SADE term, both kept alive for the metrics.
   */
  private recordMicroBatch(x: Tensor, y: Tensor, batchLength: number, first: boolean, seed: number): { part: Tensor; sade: Tensor | null } {
    const { model, options } = this;
    const tape = new Tape(model.ctx);
    let part: Tensor | undefined;
    let sade: Tensor | null = null;
    try {
      const logits = model.forward(x, { training: true, seed });
      // Mean cross-entropy over the whole batch = Σ over micro-batches of (size/batch) · their mean.
      part = scale(crossEntropy(logits, y, { labelSmoothing: options.labelSmoothing }), x.shape[0]! / batchLength);
      let loss = part;
      if (first && model.parts.settings.sadeWeight > 0) {
        sade = model.sade();
        if (sade) loss = add(loss, scale(sade, model.parts.settings.sadeWeight));
      }
      // Mixed precision: the backward starts from loss × the GPU-held loss scale, so small f16 activation
      // gradients do not flush to zero; the optimizer unscales the f32 parameter gradients.
      tape.backward(this.lossScaler ? mul(loss, this.lossScaler.scale) : loss);
    } finally {
      tape.dispose(part ? (sade ? [part, sade] : [part]) : []);
    }
    return { part, sade };
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

  /**
   * Records one optimizer step as ONE queue submission, with no GPU read: its micro-batches are already
   * uploaded (drawn ahead after the previous step, or now: a queue write issued after the step's commands
   * would have to flush them), then the forward and backward passes, the update, and — when `report` is
   * given — the copies that read the metrics back, which ride on the same submission (see startReport()).
   */
  private trainStep(report?: () => void): void {
    const { model, options } = this;
    const ctx = model.ctx;
    const batch = this.sampler.take(this.microBatch);
    const lr = learningRate(this.step + 1, this.totalSteps, options.lr, options.warmup);
    model.parts.trainable.zeroGrad();
    const parts: Tensor[] = [];
    let sadeTerm: Tensor | null = null;
    batch.micro.forEach(({ x, y, seed }, i) => {
      const { part, sade } = this.recordMicroBatch(x, y, batch.size, i === 0, seed);
      parts.push(part);
      if (sade) sadeTerm = sade;
      // Their buffers are reused only by work recorded later, which runs after this micro-batch.
      x.dispose();
      y.dispose();
    });
    model.zeroInertGradients();
    this.optimizer.step(lr);
    this.step++;
    this.clock.images += batch.size;
    this.pending.push({ step: this.step, parts, sade: sadeTerm, lr, images: batch.size });
    report?.();
    ctx.flush();
  }

  /**
   * Starts reading back the losses recorded since the last report, and a snapshot of the adapter and the
   * optimizer for the NaN guard, as copies recorded into the current step's submission; returns the
   * processing of the results, which the caller awaits later (the next steps are recorded meanwhile).
   * Throws TrainingDiverged (after restoring the last good state) on NaN/Inf.
   */
  private startReport(onMetrics?: (m: TrainMetrics) => void): Promise<void> {
    const pending = this.pending;
    this.pending = [];
    if (pending.length === 0) return Promise.resolve();
    const ctx = this.model.ctx;
    const tensors = pending.flatMap((p) => [...p.parts, ...(p.sade ? [p.sade] : [])]);
    const reads = ctx.readsWithNextSubmission(() =>
      Promise.all([ctx.readMany(tensors), this.model.parts.trainable.readAll(), this.optimizer.state(), this.lossScaler?.state()] as const),
    );
    // The copies are recorded: later work that reuses these buffers runs after them.
    tensors.forEach((t) => t.dispose());
    const images = this.clock.images;
    const step = this.step;
    const done = reads.then(([values, trainable, optimizer, lossScale]) => {
      let k = 0;
      const elapsed = (performance.now() - this.clock.start) / 1000;
      const rate = images / Math.max(elapsed, 1e-9);
      for (const p of pending) {
        let ce = 0;
        for (let i = 0; i < p.parts.length; i++) ce += values[k++]![0]!;
        const sade = p.sade ? values[k++]![0]! : 0;
        const loss = ce + this.model.parts.settings.sadeWeight * sade;
        if (!Number.isFinite(loss)) return this.diverged(p.step, loss);
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
          ...(lossScale ? { lossScale: lossScale.scale, skippedSteps: lossScale.skippedSteps } : {}),
        };
        this.history.push(metrics);
        onMetrics?.(metrics);
      }
      this.lastGood = { trainable, optimizer, step, lossScale };
      return undefined;
    });
    // Awaited later; until then a failure must not count as unhandled.
    done.catch(() => undefined);
    return done;
  }

  private async diverged(step: number, loss: number): Promise<never> {
    for (const p of this.pending) p.parts.forEach((t) => t.dispose());
    for (const p of this.pending) p.sade?.dispose();
    this.pending = [];
    await this.restoreLastGood();
    throw new TrainingDiverged(
      `Training diverged at step ${step}: the loss became ${loss}. The adapter was restored to step ${this.lastGood?.step ?? 0}; lower the learning rate and resume.`,
    );
  }

  /** Waits for the report in flight, if any (rethrows TrainingDiverged). */
  private async settleReport(): Promise<void> {
    const inFlight = this.inFlight;
    this.inFlight = undefined;
    if (inFlight) await inFlight;
  }

  private async restoreLastGood(): Promise<void> {
    const good = this.lastGood;
    const store = this.model.parts.trainable;
    if (!good) return;
    for (const [name, data] of good.trainable) store.upload(name, data);
    this.optimizer.loadState(good.optimizer);
    if (good.lossScale) this.lossScaler?.load(good.lossScale);
    this.step = good.step;
  }

  /** f16 mode: where the loss scale stands (reads it back; undefined in f32). */
  async lossScaleState(): Promise<LossScaleState | undefined> {
    return this.lossScaler?.state();
  }

  /**
   * Trains until done, paused or stopped. The first call prepares the run (prepare()). Metrics are read back
   * every `logEvery` steps with the step's own submission, and processed while the next steps are recorded:
   * no step waits for the GPU, and at most one report is in flight. Resolves with why it returned; call
   * again after a pause to continue. `pauseAfter(step)` returning true pauses right after that step (a
   * checkpoint or an evaluation due there), so what is saved is exactly that step.
   */
  async run(onMetrics?: (m: TrainMetrics) => void, pauseAfter?: (step: number) => boolean): Promise<'done' | 'paused' | 'stopped'> {
    this.pauseRequested = false;
    const firstStep = this.step;
    await this.prepare();
    this.clock = { start: performance.now(), images: 0 };
    if (!this.lastGood) {
      this.lastGood = { trainable: await this.model.parts.trainable.readAll(), optimizer: await this.optimizer.state(), step: this.step, lossScale: await this.lossScaler?.state() };
    }
    try {
      while (!this.done) {
        if (this.stopRequested || this.pauseRequested) break;
        if (this.step > firstStep && pauseAfter?.(this.step)) break;
        const reportNow = (this.step + 1) % this.options.logEvery === 0 || this.step + 1 >= this.totalSteps || pauseAfter?.(this.step + 1) === true;
        if (reportNow) {
          // Bounds the work queued ahead of the GPU to about two report intervals, and lets other tasks
          // (pause and stop requests, a worker's messages) run between steps.
          await this.settleReport();
          await new Promise((resolve) => setTimeout(resolve, 0));
          if (this.stopRequested || this.pauseRequested) break;
        }
        this.trainStep(reportNow ? () => (this.inFlight = this.startReport(onMetrics)) : undefined);
        // The next batch is gathered and its upload queued while the GPU runs this step.
        if (!this.done && !this.stopRequested && !pauseAfter?.(this.step)) this.sampler.prefetch(this.microBatch);
      }
      await this.settleReport();
      if (this.pending.length > 0) {
        this.inFlight = this.startReport(onMetrics);
        this.model.ctx.flush();
        await this.settleReport();
      }
    } catch (error) {
      this.inFlight = undefined;
      throw error;
    }
    if (this.stopRequested) return 'stopped';
    return this.done ? 'done' : 'paused';
  }

  /** A snapshot to save in a checkpoint (reads the adapter and the optimizer moments back). */
  async state(): Promise<TrainingState> {
    return {
      step: this.step,
      ...this.sampler.state,
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
    this.sampler.load(state);
    this.history = [...state.history];
    this.lastGood = undefined;
  }

  dispose(): void {
    for (const p of this.pending) p.parts.forEach((t) => t.dispose());
    for (const p of this.pending) p.sade?.dispose();
    this.pending = [];
    this.sampler.dispose();
    this.optimizer.dispose();
    this.lossScaler?.dispose();
  }
}
