// Optimizers over a ParameterStore: each step is one dispatch over the flat trainable buffer, reading the
// flat gradient buffer, with weight decay on the store's decay range [0, decayEnd) only.
import type { BufferRange } from '../gpu/context';
import type { ParameterStore } from '../autodiff/params';
import { adamwUpdate, sgdUpdate, type AdamWHyper } from '../kernels/optim';

/** What a checkpoint keeps of an optimizer; m and v follow the store's flat layout (empty for SGD). */
export interface OptimizerState {
  step: number;
  m: Float32Array;
  v: Float32Array;
}

export interface Optimizer {
  readonly store: ParameterStore;
  /** The learning rate used when step() is given none. */
  lr: number;
  /** Steps taken so far (PyTorch's state['step']). */
  readonly stepCount: number;
  /** Records one update (no submission, no read); `lr` overrides the default for this step (schedules). */
  step(lr?: number): void;
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
    if (this.disposed) throw new Error('This AdamW optimizer was disposed.');
    checkLr(lr);
    this.steps++;
    const s = this.store;
    adamwUpdate(s.ctx, s.paramRange, s.gradRange, this.range(this.mBuffer), this.range(this.vBuffer), s.decayEnd, this.steps, { lr, ...this.hyper });
  }

  async state(): Promise<OptimizerState> {
    if (this.disposed) throw new Error('This AdamW optimizer was disposed.');
    const step = this.steps;
    if (this.store.floats === 0) return { step, m: new Float32Array(0), v: new Float32Array(0) };
    const [m, v] = await this.store.ctx.readMany([this.range(this.mBuffer), this.range(this.vBuffer)]);
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
    this.steps++;
    const s = this.store;
    sgdUpdate(s.ctx, s.paramRange, s.gradRange, s.decayEnd, lr, this.weightDecay);
  }

  async state(): Promise<OptimizerState> {
    return { step: this.steps, m: new Float32Array(0), v: new Float32Array(0) };
  }

  loadState(state: OptimizerState): void {
    checkStep(state.step);
    if (state.m.length !== 0 || state.v.length !== 0) throw new Error('Sgd.loadState: this state holds moments (an AdamW checkpoint?); SGD keeps none.');
    this.steps = state.step;
  }

  dispose(): void {}
}
