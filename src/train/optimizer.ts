// Optimizers over a ParameterStore: each step is one dispatch over the flat trainable buffer, reading the
// flat gradient buffer, with weight decay on the store's decay range [0, decayEnd) only.
import type { BufferRange, GpuContext } from '../gpu/context';
import type { ParameterStore } from '../autodiff/params';
import { Tensor } from '../autodiff/tensor';
import { adamwUpdate, checkFiniteGradients, sgdUpdate, updateLossScale, type AdamWHyper, type LossScaleRanges } from '../kernels/optim';

/** What a checkpoint keeps of an optimizer; m and v follow the store's flat layout (empty for SGD). */
export interface OptimizerState {
  step: number;
  m: Float32Array;
  v: Float32Array;
}

export interface LossScaleOptions {
  /** Starting loss scale (default 2^15). */
  initialScale?: number;
  /** Good steps in a row before the scale doubles (default 200: fine-tuning runs are short). */
  growthInterval?: number;
  /** The scale never grows past this (default 2^24). */
  maxScale?: number;
}

/** Where dynamic loss scaling stands (read back with the metrics, never inside a step). */
export interface LossScaleState {
  scale: number;
  /** Good steps since the scale last changed. */
  goodSteps: number;
  /** Steps whose update was skipped because a gradient overflowed. */
  skippedSteps: number;
  /** Updates applied. */
  appliedSteps: number;
  /** Whether the last step overflowed (and was skipped). */
  lastOverflow: boolean;
}

/**
 * Dynamic loss scaling for mixed precision, held on the GPU: the trainer multiplies the loss by `scale`
 * (a GPU scalar) before the backward, and a loss-scaled optimizer step (see shaders/adamw.wgsl) checks the
 * gradients for inf/NaN, skips the update on overflow, unscales them otherwise, and adjusts the scale — all
 * in the step's own submission.
 */
export class LossScaler {
  readonly growthInterval: number;
  readonly maxScale: number;
  private disposed = false;

  private constructor(
    readonly ctx: GpuContext,
    /** [] f32: multiply the loss by it before the backward. */
    readonly scale: Tensor,
    private readonly counters: GPUBuffer,
    options: LossScaleOptions,
  ) {
    this.growthInterval = options.growthInterval ?? 200;
    this.maxScale = options.maxScale ?? 2 ** 24;
  }

  static async create(ctx: GpuContext, options: LossScaleOptions = {}): Promise<LossScaler> {
    const initial = options.initialScale ?? 2 ** 15;
    if (!(Number.isFinite(initial) && initial >= 1)) throw new Error(`The initial loss scale must be a finite number ≥ 1 (got ${initial}).`);
    const growth = options.growthInterval ?? 200;
    if (!Number.isInteger(growth) || growth < 1) throw new Error(`The loss-scale growth interval must be a whole number ≥ 1 (got ${growth}).`);
    const scaleBuffer = await ctx.pool.acquireChecked(4, 'loss scale');
    // New buffers start zeroed: no overflow, no steps counted.
    const counters = await ctx.pool.acquireChecked(20, 'loss-scale counters');
    const scale = new Tensor(ctx, [], scaleBuffer, 0, false);
    scale.name = 'loss scale';
    ctx.write(scale, new Float32Array([initial]));
    return new LossScaler(ctx, scale, counters, options);
  }

  get ranges(): LossScaleRanges {
    return { scale: this.scale, counters: { buffer: this.counters, byteOffset: 0, byteLength: 20 } };
  }

  /** Records the overflow check (before the update) on the flat gradients. */
  check(grads: BufferRange): void {
    checkFiniteGradients(this.ctx, grads, this.ranges);
  }

  /** Records the scale adjustment (after the update). */
  adjust(): void {
    updateLossScale(this.ctx, this.ranges, this.growthInterval, this.maxScale);
  }

  async state(): Promise<LossScaleState> {
    const [scale, raw] = await this.ctx.readMany([this.scale, this.ranges.counters]);
    const c = new Uint32Array(raw!.buffer, 0, 5);
    return { scale: scale![0]!, goodSteps: c[1]!, skippedSteps: c[2]!, appliedSteps: c[3]!, lastOverflow: c[4]! !== 0 };
  }

  /** Restores a saved state (a checkpoint, the NaN guard's last good state). */
  load(state: Pick<LossScaleState, 'scale' | 'appliedSteps'> & Partial<LossScaleState>): void {
    this.ctx.write(this.scale, new Float32Array([state.scale]));
    this.ctx.write(this.ranges.counters, new Uint32Array([0, state.goodSteps ?? 0, state.skippedSteps ?? 0, state.appliedSteps, state.lastOverflow ? 1 : 0]));
  }

  /**
   * Sets the count of applied updates (an optimizer state being loaded); the scale stays, the good-step and
   * skip counts restart.
   */
  setApplied(appliedSteps: number): void {
    this.ctx.write(this.ranges.counters, new Uint32Array([0, 0, 0, appliedSteps, 0]));
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.ctx.pool.release(this.scale.buffer);
    this.ctx.pool.release(this.counters);
  }
}

export interface Optimizer {
  readonly store: ParameterStore;
  /** The learning rate used when step() is given none. */
  lr: number;
  /** Steps taken so far (PyTorch's state['step']). */
  readonly stepCount: number;
  /**
   * With loss scaling (mixed precision) the gradients are scaled: the update checks them, unscales them and
   * is skipped on overflow, all on the GPU. stepCount then counts recorded steps; state().step the applied
   * ones.
   */
  lossScaler: LossScaler | undefined;
  /** Records one update (no submission, no read); `lr` overrides the default for this step (schedules). */
  step(lr?: number): void;
  /**
   * Records the update kernels of step `t` (1-based) at rate `lr` without counting a step: the one place the
   * update's kernels are chosen, used by step() and by the memory plan's dry runs.
   */
  recordUpdate(lr: number, t: number): void;
  state(): Promise<OptimizerState>;
  loadState(state: OptimizerState): void;
  dispose(): void;
}

export interface AdamWOptions {
  lr: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
}

export interface SgdOptions {
  lr: number;
  weightDecay?: number;
}

function checkLr(lr: number): void {
  if (!(Number.isFinite(lr) && lr >= 0)) throw new Error(`The learning rate must be a finite number ≥ 0 (got ${lr}).`);
}

function checkWeightDecay(wd: number): void {
  if (!(Number.isFinite(wd) && wd >= 0)) throw new Error(`The weight decay must be a finite number ≥ 0 (got ${wd}).`);
}

function checkStep(step: number): void {
  if (!(Number.isInteger(step) && step >= 0)) throw new Error(`The optimizer state's step must be a whole number ≥ 0 (got ${step}).`);
}

/** torch.optim.AdamW (amsgrad off): decoupled weight decay, bias-corrected moments, step t from 1. */
export class AdamW implements Optimizer {
  lr: number;
  lossScaler: LossScaler | undefined;
  readonly hyper: Readonly<Omit<AdamWHyper, 'lr'>>;
  private steps = 0;
  private disposed = false;

  private constructor(
    readonly store: ParameterStore,
    options: AdamWOptions,
    private readonly mBuffer: GPUBuffer,
    private readonly vBuffer: GPUBuffer,
  ) {
    this.lr = options.lr;
    this.hyper = { beta1: options.beta1 ?? 0.9, beta2: options.beta2 ?? 0.999, eps: options.eps ?? 1e-8, weightDecay: options.weightDecay ?? 0 };
  }

  /** Allocates the two moment buffers once (zeroed, same layout as the store's trainable buffer). */
  static async create(store: ParameterStore, options: AdamWOptions): Promise<AdamW> {
    checkLr(options.lr);
    checkWeightDecay(options.weightDecay ?? 0);
    for (const [name, beta] of [['beta1', options.beta1 ?? 0.9], ['beta2', options.beta2 ?? 0.999]] as const) {
      if (!(beta >= 0 && beta < 1)) throw new Error(`AdamW: ${name} must be in [0, 1) (got ${beta}).`);
    }
    const eps = options.eps ?? 1e-8;
    if (!(eps > 0)) throw new Error(`AdamW: eps must be > 0 (got ${eps}).`);
    const pool = store.ctx.pool;
    const bytes = store.trainableBytes;
    // New buffers start zeroed (WebGPU guarantees it), which is AdamW's initial state.
    const m = await pool.acquireChecked(bytes, 'AdamW first moments');
    let v: GPUBuffer;
    try {
      v = await pool.acquireChecked(bytes, 'AdamW second moments');
    } catch (error) {
      pool.release(m);
      throw error;
    }
    return new AdamW(store, options, m, v);
  }

  get stepCount(): number {
    return this.steps;
  }

  private range(buffer: GPUBuffer): BufferRange {
    return { buffer, byteOffset: 0, byteLength: this.store.floats * 4 };
  }

  step(lr = this.lr): void {
    checkLr(lr);
    this.recordUpdate(lr, this.steps + 1);
    this.steps++;
  }

  recordUpdate(lr: number, t: number): void {
    if (this.disposed) throw new Error('This AdamW optimizer was disposed.');
    const s = this.store;
    this.lossScaler?.check(s.gradRange);
    adamwUpdate(s.ctx, s.paramRange, s.gradRange, this.range(this.mBuffer), this.range(this.vBuffer), s.decayEnd, t, { lr, ...this.hyper }, this.lossScaler?.ranges);
    this.lossScaler?.adjust();
  }

  async state(): Promise<OptimizerState> {
    if (this.disposed) throw new Error('This AdamW optimizer was disposed.');
    // With loss scaling, skipped steps do not count (the GPU's count of applied updates). Both reads start
    // before any await, so inside readsWithNextSubmission they ride on the same submission.
    const scaled = this.lossScaler?.state();
    const moments = this.store.floats === 0 ? undefined : this.store.ctx.readMany([this.range(this.mBuffer), this.range(this.vBuffer)]);
    const step = scaled ? (await scaled).appliedSteps : this.steps;
    if (!moments) return { step, m: new Float32Array(0), v: new Float32Array(0) };
    const [m, v] = await moments;
    return { step, m: m!, v: v! };
  }

  loadState(state: OptimizerState): void {
    if (this.disposed) throw new Error('This AdamW optimizer was disposed.');
    checkStep(state.step);
    const floats = this.store.floats;
    if (state.m.length !== floats || state.v.length !== floats) {
      throw new Error(`AdamW.loadState: the saved moments have ${state.m.length} and ${state.v.length} floats; this model's layout has ${floats}.`);
    }
    if (floats > 0) {
      const ctx = this.store.ctx;
      ctx.write(this.range(this.mBuffer), new Float32Array(state.m));
      ctx.write(this.range(this.vBuffer), new Float32Array(state.v));
    }
    this.steps = state.step;
    this.lossScaler?.setApplied(state.step);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.store.ctx.pool.release(this.mBuffer);
    this.store.ctx.pool.release(this.vBuffer);
  }
}

/** Plain gradient descent (no momentum): p ← p − lr·(g + wd·p) on decayed tensors, p ← p − lr·g on the rest. */
export class Sgd implements Optimizer {
  lr: number;
  lossScaler: LossScaler | undefined;
  readonly weightDecay: number;
  private steps = 0;

  constructor(readonly store: ParameterStore, options: SgdOptions) {
    checkLr(options.lr);
    checkWeightDecay(options.weightDecay ?? 0);
    this.lr = options.lr;
    this.weightDecay = options.weightDecay ?? 0;
  }

  /** Async like AdamW.create, so callers build either optimizer the same way. */
  static async create(store: ParameterStore, options: SgdOptions): Promise<Sgd> {
    return new Sgd(store, options);
  }

  get stepCount(): number {
    return this.steps;
  }

  step(lr = this.lr): void {
    checkLr(lr);
    this.recordUpdate(lr);
    this.steps++;
  }

  recordUpdate(lr: number): void {
    const s = this.store;
    this.lossScaler?.check(s.gradRange);
    sgdUpdate(s.ctx, s.paramRange, s.gradRange, s.decayEnd, lr, this.weightDecay, this.lossScaler?.ranges);
    this.lossScaler?.adjust();
  }

  async state(): Promise<OptimizerState> {
    const step = this.lossScaler ? (await this.lossScaler.state()).appliedSteps : this.steps;
    return { step, m: new Float32Array(0), v: new Float32Array(0) };
  }

  loadState(state: OptimizerState): void {
    checkStep(state.step);
    if (state.m.length !== 0 || state.v.length !== 0) throw new Error('Sgd.loadState: this state holds moments (an AdamW checkpoint?); SGD keeps none.');
    this.steps = state.step;
    this.lossScaler?.setApplied(state.step);
  }

  dispose(): void {}
}
