// A backbone plus one fine-tuning method (clora, lora, head, full), ready for the trainer: which tensors
// train, how each adapted linear map gets its low-rank branch, the SADE term, and the native file format.
//
// LoRA runs through the same fused branch as CLoRA: a LoRA target is a CLoRA module with one space of its
// own (D = Aᵀ, U = Bᵀ) and a fixed identity core, so ΔW = s·B·A exactly; dropout acts on the r-wide
// bottleneck in both methods (the contract's "bottleneck dropout"). Files keep PEFT's A [r, a], B [b, r].
import { add, cast, scale as scaleOp } from '../autodiff/ops/elementwise';
import { ParameterStore, type ParameterSpec } from '../autodiff/params';
import type { DType, Tensor } from '../autodiff/tensor';
import type { GpuContext } from '../gpu/context';
import { ShapeError } from '../gpu/errors';
import {
  backboneDecays,
  backboneModulePath,
  backboneShapes,
  createBackboneModel,
  featureWidth,
  hasQkvBias,
  trainsInFull,
  type BackboneConfig,
  type BackboneModel,
} from '../nn/backbone';
import type { AdaptedModule, LinearAdapter } from '../nn/transformer-block';
import { Rng } from '../train/rng';
import { cloraBranch, gram, sadeSum } from './ops';
import type { AdapterSettings, Method, Target } from './settings';

export const SADE_EPS = 1e-8;

/** One low-rank module: a target of one block. */
export interface Branch {
  block: number;
  target: Target;
  module: AdaptedModule;
  /** First output column of the module that this target owns (q/k/v share qkv's output). */
  colStart: number;
  inWidth: number;
  outWidth: number;
  /** Index of this module's cores in the cores tensor. */
  coreIndex: number;
  downName: string;
  upName: string;
}

const MODULE_OF: Record<Target, AdaptedModule> = { q: 'qkv', k: 'qkv', v: 'qkv', proj: 'proj', fc1: 'fc1', fc2: 'fc2' };

/** The key path of a target as the contract's adapter keys spell it (`blocks.{i}.attn.q`, for every backbone). */
export function targetPath(block: number, target: Target): string {
  return `blocks.${block}.${target === 'fc1' || target === 'fc2' ? 'mlp' : 'attn'}.${target}`;
}

export function targetWidths(cfg: BackboneConfig, target: Target): { inWidth: number; outWidth: number; colStart: number } {
  const d = cfg.dim;
  switch (target) {
    case 'q':
      return { inWidth: d, outWidth: d, colStart: 0 };
    case 'k':
      return { inWidth: d, outWidth: d, colStart: d };
    case 'v':
      return { inWidth: d, outWidth: d, colStart: 2 * d };
    case 'proj':
      return { inWidth: d, outWidth: d, colStart: 0 };
    case 'fc1':
      return { inWidth: d, outWidth: cfg.mlpDim, colStart: 0 };
    case 'fc2':
      return { inWidth: cfg.mlpDim, outWidth: d, colStart: 0 };
  }
}

/** Branches in core order: target by target (contract order), block by block, so equal widths are contiguous. */
export function planBranches(cfg: BackboneConfig, settings: AdapterSettings): Branch[] {
  if (settings.method !== 'clora' && settings.method !== 'lora') return [];
  const branches: Branch[] = [];
  for (const target of settings.targets) {
    for (let block = 0; block < cfg.depth; block++) {
      const w = targetWidths(cfg, target);
      const path = targetPath(block, target);
      branches.push({
        block,
        target,
        module: MODULE_OF[target],
        ...w,
        coreIndex: branches.length,
        downName: settings.method === 'clora' ? `clora.down.${w.inWidth}` : `lora.down.${path}`,
        upName: settings.method === 'clora' ? `clora.up.${w.outWidth}` : `lora.up.${path}`,
      });
    }
  }
  return branches;
}

export const CORES = 'clora.cores';
const LORA_IDENTITY = 'lora.identity';

/**
 * Trainable tensors of the method, in the engine's internal layout (banks [p,a,r] / [p,r,b], cores [m,p,r,r]);
 * `full` trains every backbone tensor except BatchNorm's running statistics. The head reads the features.
 */
export function trainableShapes(cfg: BackboneConfig, settings: AdapterSettings, classes: number): Map<string, number[]> {
  const shapes = new Map<string, number[]>();
  const { rank: r, spaces: p } = settings;
  const branches = planBranches(cfg, settings);
  if (settings.method === 'clora') {
    for (const b of branches) {
      shapes.set(b.downName, [p, b.inWidth, r]);
      shapes.set(b.upName, [p, r, b.outWidth]);
    }
    shapes.set(CORES, [branches.length, p, r, r]);
  } else if (settings.method === 'lora') {
    for (const b of branches) {
      shapes.set(b.downName, [1, b.inWidth, r]);
      shapes.set(b.upName, [1, r, b.outWidth]);
    }
  } else if (settings.method === 'full') {
    for (const [name, shape] of backboneShapes(cfg)) if (trainsInFull(cfg, name)) shapes.set(name, shape);
  }
  shapes.set('head.weight', [classes, featureWidth(cfg)]);
  shapes.set('head.bias', [classes]);
  return shapes;
}

/** §1's parameter count: banks + m·p·r² (+ head); LoRA m·(a+b)·r (+ head). */
export function trainableParameterCount(cfg: BackboneConfig, settings: AdapterSettings, classes: number): number {
  let n = 0;
  for (const [name, shape] of trainableShapes(cfg, settings, classes)) if (name !== LORA_IDENTITY) n += shape.reduce((a, b) => a * b, 1);
  return n;
}

/** The method's initialisation (§1): D ~ U(±1/√a), U = 0, Q = I; LoRA A Kaiming-uniform, B = 0; head trunc-normal(0.02), bias 0. */
export function initialTensors(cfg: BackboneConfig, settings: AdapterSettings, classes: number, rng: Rng): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  const backbone = backboneShapes(cfg);
  for (const [name, shape] of trainableShapes(cfg, settings, classes)) {
    if (backbone.has(name)) continue; // `full` starts from the backbone's own weights

    const n = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    if (name.startsWith('clora.down.') || name.startsWith('lora.down.')) {
      // PEFT's kaiming_uniform_(a=√5) on A [r, a] has the same bound 1/√a as CLoRA's D init.
      const bound = 1 / Math.sqrt(shape[1]!);
      for (let i = 0; i < n; i++) data[i] = rng.uniform(-bound, bound);
    } else if (name === CORES) {
      const [m, p, r] = shape as [number, number, number, number];
      for (let j = 0; j < m * p; j++) for (let i = 0; i < r; i++) data[j * r * r + i * r + i] = 1;
    } else if (name === 'head.weight') {
      for (let i = 0; i < n; i++) data[i] = rng.truncatedNormal(0.02);
    }
    out.set(name, data);
  }
  return out;
}

export interface FineTuneModelParts {
  cfg: BackboneConfig;
  settings: AdapterSettings;
  classes: string[];
  /** Backbone tensors that do not train (absent when every one does: `full` on a ViT). */
  frozen: ParameterStore | undefined;
  /** Everything that trains, in one flat buffer. */
  trainable: ParameterStore;
  /** LoRA's fixed identity cores (absent otherwise). */
  identity: ParameterStore | undefined;
}

export class FineTuneModel implements LinearAdapter {
  readonly backbone: BackboneModel;
  readonly branches: Branch[];
  private byModule = new Map<string, Branch[]>();
  /** True while the branches are folded into the frozen weights (src/clora/merge.ts). */
  merged = false;
  /** Set per forward: dropout active and its seed. */
  private training = false;
  private seed = 0;

  constructor(readonly parts: FineTuneModelParts) {
    const { cfg, settings, frozen, trainable } = parts;
    this.branches = planBranches(cfg, settings);
    for (const b of this.branches) {
      const key = `${b.block}:${b.module}`;
      const list = this.byModule.get(key) ?? [];
      list.push(b);
      this.byModule.set(key, list);
    }
    this.backbone = createBackboneModel({ ...cfg, classes: parts.classes.length }, (name) => (trainable.has(name) ? trainable.get(name) : frozen!.get(name)));
  }

  get method(): Method {
    return this.parts.settings.method;
  }

  /** Activation checkpointing per block while training (see VisionTransformer.recomputeBlocks). */
  get recompute(): boolean {
    return this.backbone.recomputeBlocks;
  }

  set recompute(on: boolean) {
    this.backbone.recomputeBlocks = on;
  }

  get ctx(): GpuContext {
    return this.parts.trainable.ctx;
  }

  /** Activation element type of the backbone ('f16': mixed precision; see VisionTransformer.activations). */
  get precision(): DType {
    return this.backbone.activations;
  }

  set precision(dtype: DType) {
    if (dtype === 'f16' && !this.ctx.features.has('shader-f16')) throw new Error("f16 activations need the adapter's shader-f16 feature.");
    this.backbone.activations = dtype;
  }

  /** Logits [B, classes] of a batch of samples (images or point clouds); `training` turns the bottleneck dropout on with masks drawn from `seed`. */
  forward(inputs: Tensor, opts: { training: boolean; seed?: number } = { training: false }): Tensor {
    this.training = opts.training;
    this.seed = opts.seed ?? 0;
    return this.backbone.forward(inputs, this.branches.length && !this.merged ? this : undefined);
  }

  adapts(block: number, module: AdaptedModule): boolean {
    return this.byModule.has(`${block}:${module}`);
  }

  adapt(block: number, module: AdaptedModule, input: Tensor, output: Tensor): Tensor {
    const list = this.byModule.get(`${block}:${module}`);
    if (!list) return output;
    const { trainable, identity, settings } = this.parts;
    const cores = settings.method === 'clora' ? trainable.get(CORES) : identity!.get(LORA_IDENTITY);
    // The branch kernels are f32 only: with f16 activations the branch runs on f32 copies and its result
    // goes back to f16 (casts are no-ops in f32).
    const x = cast(input, 'f32');
    let out = cast(output, 'f32');
    for (const b of list) {
      out = cloraBranch(x, trainable.get(b.downName), cores, b.coreIndex, trainable.get(b.upName), out, {
        colStart: b.colStart,
        scale: settings.scale,
        dropout: this.training ? settings.dropout : 0,
        seed: (this.seed ^ Math.imul(b.coreIndex + 1, 0x9e3779b1)) >>> 0,
      });
    }
    if (output.dtype === 'f32') return out;
    const result = cast(out, output.dtype);
    // The f32 copy of the output is read by nothing after this cast (neither the branch's backward nor the
    // cast's needs it): release it now instead of holding it to the end of the step. Work recorded later
    // that reuses its buffer runs after the cast.
    (out.base ?? out).dispose();
    return result;
  }

  /**
   * The key rows [d, 2d) of every qkv bias shift all scores of a softmax row equally, so their exact
   * gradient is zero; in f32 it comes out as rounding noise that AdamW would amplify to ±lr. Only `full`
   * trains these biases; this clears their gradient so the update matches exact arithmetic. Point-MAE's
   * blocks have no qkv bias: nothing to clear there.
   */
  zeroInertGradients(): void {
    const { cfg, settings } = this.parts;
    if (settings.method !== 'full' || !hasQkvBias(cfg)) return;
    const store = this.parts.trainable;
    const d = cfg.dim;
    for (let i = 0; i < cfg.depth; i++) {
      const slot = store.slotOf(`${backboneModulePath(cfg, i, 'qkv')}.bias`);
      this.ctx.clear({ buffer: store.gradRange.buffer, byteOffset: (slot.offset + d) * 4, byteLength: d * 4 });
    }
  }

  /** L_SADE (unweighted): mean over modules and pairs h<k of c²; null when it is identically zero. */
  sade(): Tensor | null {
    const { settings, trainable } = this.parts;
    const p = settings.spaces;
    if (settings.method !== 'clora' || p < 2 || this.branches.length === 0) return null;
    const cores = trainable.get(CORES);
    const grams = new Map<string, Tensor>();
    const gramOf = (name: string, kind: 'down' | 'up'): Tensor => {
      const hit = grams.get(name);
      if (hit) return hit;
      const g = gram(trainable.get(name), kind);
      grams.set(name, g);
      return g;
    };
    let total: Tensor | null = null;
    for (let first = 0; first < this.branches.length; ) {
      const b = this.branches[first]!;
      let count = 1;
      while (first + count < this.branches.length && this.branches[first + count]!.downName === b.downName && this.branches[first + count]!.upName === b.upName) count++;
      const part = sadeSum(cores, first, count, gramOf(b.downName, 'down'), gramOf(b.upName, 'up'), SADE_EPS);
      total = total ? add(total, part) : part;
      first += count;
    }
    return scaleOp(total!, 1 / ((this.branches.length * p * (p - 1)) / 2));
  }

  dispose(): void {
    this.parts.frozen?.dispose();
    this.parts.trainable.dispose();
    this.parts.identity?.dispose();
  }
}

/** Specs of the trainable store, with the contract's decay rule. */
export function trainableSpecs(cfg: BackboneConfig, settings: AdapterSettings, classes: number): ParameterSpec[] {
  return [...trainableShapes(cfg, settings, classes)].map(([name, shape]) => ({ name, shape, decay: backboneDecays(cfg, name, shape) }));
}

/**
 * Builds the stores and uploads the given tensors: what trains from `start` (for `full`, backbone tensors
 * `start` lacks from `readBackbone`), what stays frozen from `readBackbone` unless `start` holds it (a `full`
 * adapter file carries its BatchNorm statistics).
 */
export async function createFineTuneModel(
  ctx: GpuContext,
  cfg: BackboneConfig,
  settings: AdapterSettings,
  classes: string[],
  readBackbone: (name: string) => Promise<Float32Array>,
  start: Map<string, Float32Array>,
): Promise<FineTuneModel> {
  if (classes.length < 2) throw new ShapeError(`Training needs at least two classes (got ${classes.length}).`);
  const backbone = backboneShapes(cfg);
  const trains = trainableShapes(cfg, settings, classes.length);
  const frozenSpecs = [...backbone].filter(([name]) => !trains.has(name)).map(([name, shape]) => ({ name, shape, decay: false, requiresGrad: false }));
  const frozen = frozenSpecs.length ? await ParameterStore.create(ctx, frozenSpecs) : undefined;
  let trainable: ParameterStore | undefined;
  let identity: ParameterStore | undefined;
  try {
    if (frozen) for (const { name } of frozenSpecs) frozen.upload(name, start.get(name) ?? (await readBackbone(name)));
    trainable = await ParameterStore.create(ctx, trainableSpecs(cfg, settings, classes.length));
    for (const name of trainable.names()) {
      const given = start.get(name) ?? (settings.method === 'full' && backbone.has(name) ? await readBackbone(name) : undefined);
      if (!given) throw new Error(`Internal: no starting value for "${name}".`);
      trainable.upload(name, given);
    }
    if (settings.method === 'lora') {
      const m = planBranches(cfg, settings).length;
      const r = settings.rank;
      identity = await ParameterStore.create(ctx, [{ name: LORA_IDENTITY, shape: [m, 1, r, r], decay: false, requiresGrad: false }]);
      const eye = new Float32Array(m * r * r);
      for (let j = 0; j < m; j++) for (let i = 0; i < r; i++) eye[j * r * r + i * r + i] = 1;
      identity.upload(LORA_IDENTITY, eye);
    }
  } catch (error) {
    frozen?.dispose();
    trainable?.dispose();
    identity?.dispose();
    throw error;
  }
  return new FineTuneModel({ cfg, settings, classes, frozen, trainable, identity });
}


