// Floating-point operations of one training step and of inference, counted from the shapes alone (no GPU):
// what the accuracy tables report beside trainable parameters.
//
// Conventions. A multiply-add is 2 FLOPs. Counted: every matrix product — the linear maps (the tokenizer's
// kernel-1 convolutions, the position MLP, the patch embedding, q/k/v, proj, fc1, fc2, the head), attention's
// two products (Q·Kᵀ and P·V), the low-rank branches, and SADE's Gram matrices and r×r products. Not counted:
// element-wise work (norms, activations, softmax, residual adds, biases, dropout, max over a group), the
// grouping (farthest point sampling and nearest neighbours: comparisons), the loss, the optimizer update and any
// recomputation (activation checkpointing) — none of which a method changes much.
//
// Backward. A product Y = X·W costs one product of its size for dX when X needs a gradient (something before
// it trains) and one for dW when W trains; attention costs four products of its forward's sizes when its input
// needs a gradient. So `head` pays only for the head's weight gradient, LoRA and CLoRA carry gradients back
// through the frozen blocks from the first adapted module on, and `full` pays for every weight.
//
// CLoRA's branch on a target a → b with p spaces of rank r: X·D_h, ·Q_h, ·U_h for each h (clora-spec §1);
// LoRA's: X·Aᵀ then ·Bᵀ. CLoRA's targets within one qkv read the same input through the same banks, and the
// engine projects that input once for all of them (src/clora/model.ts `adapt`): X·D, its input gradient and
// the down bank's gradient are counted once per qkv, the cores and up products once per target. SADE is computed once per step on the weights alone (no samples): the Gram matrix of
// each bank in use ((p·r)² · width, its gradient one product of that size) and, for every module and each of
// the p² ordered pairs of components (norms included), tr(Q_hᵀ·G^D_hk·Q_k·G^U_kh): 2r³ + r² multiply-adds,
// backward twice that. Per sample, it is divided over the batch.
//
// Inference after merging is the frozen backbone's forward plus the head: the same for every method, since
// merging folds each branch into its frozen weight (src/clora/merge.ts).
import { featureWidth, isPointConfig, type BackboneConfig } from '../nn/backbone';
import type { AdapterSettings, Target } from './settings';

export interface TrainingFlops {
  /** One sample's forward pass, branches included. */
  forward: number;
  /** One sample's backward pass. */
  backward: number;
  /** SADE's forward and backward, once per step (0 without SADE). */
  sadePerStep: number;
}

class Count {
  forward = 0;
  backward = 0;

  /** rows × inWidth times inWidth × outWidth, with its backward products. */
  product(rows: number, inWidth: number, outWidth: number, grads: { input: boolean; weight: boolean }): void {
    const flops = 2 * rows * inWidth * outWidth;
    this.forward += flops;
    if (grads.input) this.backward += flops;
    if (grads.weight) this.backward += flops;
  }

  /** Multi-head attention over `tokens` tokens of width `dim` (heads split the width, so their count drops out). */
  attention(tokens: number, dim: number, inputGrad: boolean): void {
    const flops = 2 * 2 * tokens * tokens * dim;
    this.forward += flops;
    if (inputGrad) this.backward += 2 * flops;
  }
}

type Branches = Pick<AdapterSettings, 'method' | 'rank' | 'spaces' | 'targets'>;

/** The low-rank branch of one target: X [rows, a] → [rows, b]; `projected`: CLoRA's X·D is already counted for this input. */
function branch(c: Count, s: Branches, rows: number, a: number, b: number, inputGrad: boolean, projected: boolean): void {
  const { rank: r, spaces: p } = s;
  if (s.method === 'lora') {
    c.product(rows, a, r, { input: inputGrad, weight: true });
    c.product(rows, r, b, { input: true, weight: true });
  } else {
    if (!projected) c.product(rows, a, p * r, { input: inputGrad, weight: true });
    c.product(rows * p, r, r, { input: true, weight: true });
    c.product(rows, p * r, b, { input: true, weight: true });
  }
}

/** The stem (tokens and positions from the input) and the tokens through the blocks; returns the token count. */
function stem(c: Count, cfg: BackboneConfig, trains: boolean): number {
  if (!isPointConfig(cfg)) {
    c.product(cfg.tokens - 1, cfg.channels * cfg.patch * cfg.patch, cfg.dim, { input: false, weight: trains });
    return cfg.tokens;
  }
  const [c1, c2, c3] = cfg.tokenizer;
  const rows = cfg.groups * cfg.groupSize;
  const later = { input: trains, weight: trains };
  c.product(rows, 3, c1, { input: false, weight: trains });
  c.product(rows, c1, c2, later);
  c.product(rows, 2 * c2, c3, later);
  c.product(rows, c3, cfg.dim, later);
  c.product(cfg.groups, 3, cfg.positionWidth, { input: false, weight: trains });
  c.product(cfg.groups, cfg.positionWidth, cfg.dim, later);
  return cfg.groups + 1;
}

/** Forward and backward of one sample through the whole model, for a method (null: the merged model, inference only). */
function countModel(cfg: BackboneConfig, classes: number, s: Branches | null): Count {
  const c = new Count();
  const full = s?.method === 'full';
  const adapted = (t: Target): boolean => (s?.method === 'clora' || s?.method === 'lora') && s.targets.includes(t);
  const withBranch = (rows: number, a: number, b: number, t: Target, inputGrad: boolean, projected = false): boolean => {
    if (!adapted(t)) return false;
    branch(c, s!, rows, a, b, inputGrad, projected);
    return true;
  };
  const T = stem(c, cfg, full);
  const d = cfg.dim;
  const m = cfg.mlpDim;
  // Whether the residual stream needs a gradient: from the start in `full`, else from the first branch on.
  let stream = full;
  for (let i = 0; i < cfg.depth; i++) {
    c.product(T, d, 3 * d, { input: stream, weight: full });
    let grad = stream || full;
    let projected = false;
    for (const t of ['q', 'k', 'v'] as const) {
      const has = withBranch(T, d, d, t, stream, projected);
      projected ||= has;
      grad = has || grad;
    }
    c.attention(T, d, grad);
    c.product(T, d, d, { input: grad, weight: full });
    grad = withBranch(T, d, d, 'proj', grad) || grad || full;
    stream = stream || grad;
    c.product(T, d, m, { input: stream, weight: full });
    grad = withBranch(T, d, m, 'fc1', stream) || stream || full;
    c.product(T, m, d, { input: grad, weight: full });
    grad = withBranch(T, m, d, 'fc2', grad) || grad || full;
    stream = stream || grad;
  }
  c.product(1, featureWidth(cfg), classes, { input: stream, weight: s !== null });
  return c;
}

/** SADE's forward and backward FLOPs for one step (0 unless CLoRA with p ≥ 2 and a SADE weight). */
function sadeFlops(cfg: BackboneConfig, s: AdapterSettings): number {
  const { rank: r, spaces: p } = s;
  if (s.method !== 'clora' || p < 2 || s.sadeWeight <= 0 || s.targets.length === 0) return 0;
  const widths: Record<Target, [number, number]> = { q: [cfg.dim, cfg.dim], k: [cfg.dim, cfg.dim], v: [cfg.dim, cfg.dim], proj: [cfg.dim, cfg.dim], fc1: [cfg.dim, cfg.mlpDim], fc2: [cfg.mlpDim, cfg.dim] };
  const downs = new Set(s.targets.map((t) => widths[t][0]));
  const ups = new Set(s.targets.map((t) => widths[t][1]));
  let gramWidths = 0;
  for (const w of downs) gramWidths += w;
  for (const w of ups) gramWidths += w;
  const grams = 2 * (p * r) ** 2 * gramWidths;
  const modules = s.targets.length * cfg.depth;
  const terms = 2 * modules * p * p * (2 * r ** 3 + r ** 2);
  return 2 * grams + 3 * terms;
}

/** FLOPs of training on one sample (forward and backward) and of SADE per step, for a method on a backbone. */
export function trainingFlops(cfg: BackboneConfig, settings: AdapterSettings, classes: number): TrainingFlops {
  const c = countModel(cfg, classes, settings);
  return { forward: c.forward, backward: c.backward, sadePerStep: sadeFlops(cfg, settings) };
}

/** Training FLOPs per sample at this batch size: forward + backward, SADE's per-step cost shared by the batch. */
export function trainingFlopsPerSample(cfg: BackboneConfig, settings: AdapterSettings, classes: number, batchSize: number): number {
  const t = trainingFlops(cfg, settings, classes);
  return t.forward + t.backward + t.sadePerStep / batchSize;
}

/** FLOPs of one sample's inference after merging: the backbone's forward and the head, whatever the method. */
export function inferenceFlops(cfg: BackboneConfig, classes: number): number {
  return countModel(cfg, classes, null).forward;
}
