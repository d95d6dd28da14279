// Point-MAE's classification transformer built from the autodiff ops (clora-spec §4): grouping (farthest
// point sampling, k nearest neighbours), the mini-PointNet tokenizer with BatchNorm in evaluation mode,
// position embeddings of the centres added before every block, the shared pre-norm blocks (no qkv bias,
// LayerNorm eps 1e-5), features [x_cls, max over the G tokens] and a linear head on them. Widths and depth
// are read from the weights; the head count and the grouping settings are not in them.
import { add, cast, reshape } from '../autodiff/ops/elementwise';
import { layerNorm } from '../autodiff/ops/layernorm';
import { linear } from '../autodiff/ops/matmul';
import { concatGlobal, foldBatchNorm, maxOverGroup, maxOverTokens } from '../autodiff/ops/pointnet';
import { groupPoints } from '../autodiff/ops/points';
import { concatLast, prependToken, selectToken } from '../autodiff/ops/shape';
import { checkpoint } from '../autodiff/checkpoint';
import { activeTape, type DType, type Tensor } from '../autodiff/tensor';
import { ShapeError, shapeText } from '../gpu/errors';
import { MAX_GROUP_SIZE } from '../kernels/point-grouping';
import { runBlocks, transformerBlock, type BlockSpec, type LinearAdapter, type WeightSource } from './transformer-block';

/** PyTorch's defaults, which Point-MAE keeps: LayerNorm and BatchNorm eps. */
export const POINT_LAYER_NORM_EPS = 1e-5;
export const BATCH_NORM_EPS = 1e-5;

/** Point-MAE's own settings (clora-spec §4), used when neither the file nor an option gives one. */
export const POINT_DEFAULTS = { points: 1024, groups: 64, groupSize: 32 } as const;

export interface PointConfig {
  kind: 'point';
  depth: number;
  dim: number;
  heads: number;
  mlpDim: number;
  /** Points per cloud the model is used with (data is brought to this many; the model takes any count ≥ groups). */
  points: number;
  groups: number;
  groupSize: number;
  /** Widths of the mini-PointNet: first_conv.0 out, first_conv.3 out, second_conv.0 out (128, 256, 512 in Point-MAE). */
  tokenizer: readonly [number, number, number];
  /** Hidden width of the position MLP (128 in Point-MAE). */
  positionWidth: number;
  /** Whether the blocks' qkv has a bias (Point-MAE: no). */
  qkvBias: boolean;
  /** Classes of the stored linear head on [x_cls, max] (2·dim wide); 0 when the weights have none. */
  classes: number;
}

/** Settings not in the weights (clora-spec §4): from the file's metadata, options, or the defaults. */
export interface PointSettings {
  heads?: number;
  points?: number;
  groups?: number;
  groupSize?: number;
}

const fmt = (s: readonly number[] | undefined): string => (s ? shapeText(s) : 'missing');

export const pointBlockPrefix = (i: number): string => `blocks.blocks.${i}`;

/** Point-MAE's block layout: keys `blocks.blocks.{i}.…`, LayerNorm eps 1e-5, qkv bias as the weights say. */
export function pointBlockSpec(cfg: Pick<PointConfig, 'dim' | 'heads' | 'qkvBias'>): BlockSpec {
  return { heads: cfg.heads, dim: cfg.dim, eps: POINT_LAYER_NORM_EPS, qkvBias: cfg.qkvBias, prefix: pointBlockPrefix };
}

/** Whether the weights are laid out as Point-MAE's (a reader has stripped `module.`, `base_model.`, `MAE_encoder.`). */
export function looksLikePointMae(shapes: ReadonlyMap<string, readonly number[]>): boolean {
  return shapes.has('encoder.first_conv.0.weight') || shapes.has('blocks.blocks.0.attn.qkv.weight');
}

function whole(value: number, what: string, least: number): number {
  if (!Number.isInteger(value) || value < least) throw new ShapeError(`The ${what} must be a whole number ≥ ${least} (got ${value}).`);
  return value;
}

/**
 * Reads depth and every width from Point-MAE weight shapes and checks that every tensor the model needs is
 * there with the right shape (BatchNorm's `num_batches_tracked` is not needed and ignored). The grouping
 * settings and heads come from the caller, defaulting to §4's (1024 points, 64 groups of 32, dim/64 heads).
 */
export function pointConfigFromShapes(shapes: ReadonlyMap<string, readonly number[]>, settings: PointSettings = {}): PointConfig {
  const need = (name: string): readonly number[] => {
    const s = shapes.get(name);
    if (!s) throw new ShapeError(`These weights are not a Point-MAE point transformer: the tensor "${name}" is missing.`);
    return s;
  };
  const first = need('encoder.first_conv.0.weight');
  const c1 = first[0]!;
  const c2 = need('encoder.first_conv.3.weight')[0]!;
  const c3 = need('encoder.second_conv.0.weight')[0]!;
  const last = need('encoder.second_conv.3.weight');
  const dim = last[0]!;
  if (last.length !== 3) throw new ShapeError(`"encoder.second_conv.3.weight" should be [dim, ${c3}, 1]; found ${fmt(last)}.`);
  if (!shapes.has('cls_token') || !shapes.has('cls_pos')) {
    throw new ShapeError('These Point-MAE weights have no "cls_token" and "cls_pos": they look like a pre-training checkpoint (pretrain.pth). Use a fine-tuned checkpoint, or weights that include the class token and its position.');
  }
  const positionWidth = need('pos_embed.0.weight')[0]!;
  let depth = 0;
  while (shapes.has(`${pointBlockPrefix(depth)}.attn.qkv.weight`)) depth++;
  if (depth === 0) throw new ShapeError('These weights are not a Point-MAE point transformer: no "blocks.blocks.0.attn.qkv.weight" tensor.');
  const mlpDim = need(`${pointBlockPrefix(0)}.mlp.fc1.weight`)[0]!;
  const qkvBias = shapes.has(`${pointBlockPrefix(0)}.attn.qkv.bias`);
  const head = shapes.get('head.weight');
  const classes = head ? head[0]! : 0;
  const heads = whole(settings.heads ?? Math.max(1, Math.floor(dim / 64)), 'number of attention heads', 1);
  if (dim % heads !== 0) throw new ShapeError(`${heads} attention heads do not divide the width ${dim}.`);
  const points = whole(settings.points ?? POINT_DEFAULTS.points, 'number of points', 1);
  const groups = whole(settings.groups ?? POINT_DEFAULTS.groups, 'number of groups', 1);
  const groupSize = whole(settings.groupSize ?? POINT_DEFAULTS.groupSize, 'group size', 1);
  if (groups > points) throw new ShapeError(`${groups} groups cannot be chosen from ${points} points: use at most ${points} groups or more points.`);
  if (groupSize > points) throw new ShapeError(`Groups of ${groupSize} points cannot be taken from ${points} points: use a group size of at most ${points}.`);
  if (groupSize > MAX_GROUP_SIZE) throw new ShapeError(`Groups of ${groupSize} points are over the supported ${MAX_GROUP_SIZE}.`);
  const cfg: PointConfig = { kind: 'point', depth, dim, heads, mlpDim, points, groups, groupSize, tokenizer: [c1, c2, c3], positionWidth, qkvBias, classes };
  const problems: string[] = [];
  for (const [name, shape] of pointShapes(cfg)) {
    const found = shapes.get(name);
    if (!found || found.length !== shape.length || found.some((d, i) => d !== shape[i])) problems.push(`"${name}": expected ${fmt(shape)}, found ${fmt(found)}`);
  }
  if (problems.length) throw new ShapeError(`These weights do not fit a Point-MAE transformer of width ${dim} and depth ${depth}: ${problems.slice(0, 6).join('; ')}${problems.length > 6 ? ` (and ${problems.length - 6} more)` : ''}.`);
  return cfg;
}

const BATCH_NORM_PARTS = ['weight', 'bias', 'running_mean', 'running_var'] as const;

/** Every Point-MAE key of a model with this configuration and its shape (BatchNorm running statistics included). */
export function pointShapes(cfg: PointConfig): Map<string, number[]> {
  const { dim: d, mlpDim: m } = cfg;
  const [c1, c2, c3] = cfg.tokenizer;
  const shapes = new Map<string, number[]>([
    ['cls_token', [1, 1, d]],
    ['cls_pos', [1, 1, d]],
    ['encoder.first_conv.0.weight', [c1, 3, 1]],
    ['encoder.first_conv.0.bias', [c1]],
  ]);
  for (const p of BATCH_NORM_PARTS) shapes.set(`encoder.first_conv.1.${p}`, [c1]);
  shapes.set('encoder.first_conv.3.weight', [c2, c1, 1]).set('encoder.first_conv.3.bias', [c2]);
  shapes.set('encoder.second_conv.0.weight', [c3, 2 * c2, 1]).set('encoder.second_conv.0.bias', [c3]);
  for (const p of BATCH_NORM_PARTS) shapes.set(`encoder.second_conv.1.${p}`, [c3]);
  shapes.set('encoder.second_conv.3.weight', [d, c3, 1]).set('encoder.second_conv.3.bias', [d]);
  shapes.set('pos_embed.0.weight', [cfg.positionWidth, 3]).set('pos_embed.0.bias', [cfg.positionWidth]);
  shapes.set('pos_embed.2.weight', [d, cfg.positionWidth]).set('pos_embed.2.bias', [d]);
  for (let i = 0; i < cfg.depth; i++) {
    const b = pointBlockPrefix(i);
    shapes.set(`${b}.norm1.weight`, [d]).set(`${b}.norm1.bias`, [d]);
    shapes.set(`${b}.attn.qkv.weight`, [3 * d, d]);
    if (cfg.qkvBias) shapes.set(`${b}.attn.qkv.bias`, [3 * d]);
    shapes.set(`${b}.attn.proj.weight`, [d, d]).set(`${b}.attn.proj.bias`, [d]);
    shapes.set(`${b}.norm2.weight`, [d]).set(`${b}.norm2.bias`, [d]);
    shapes.set(`${b}.mlp.fc1.weight`, [m, d]).set(`${b}.mlp.fc1.bias`, [m]);
    shapes.set(`${b}.mlp.fc2.weight`, [d, m]).set(`${b}.mlp.fc2.bias`, [d]);
  }
  shapes.set('norm.weight', [d]).set('norm.bias', [d]);
  if (cfg.classes > 0) shapes.set('head.weight', [cfg.classes, 2 * d]).set('head.bias', [cfg.classes]);
  return shapes;
}

/** BatchNorm's running statistics: part of the backbone, never trained (clora-spec §4). */
export function isRunningStatistic(name: string): boolean {
  return /\.running_(mean|var)$/.test(name);
}

/** §4's weight-decay rule: trainable tensors with ≥ 2 dimensions except cls_token and cls_pos. */
export function pointDecays(name: string, shape: readonly number[]): boolean {
  return shape.length >= 2 && name !== 'cls_token' && name !== 'cls_pos';
}

export class PointTransformer {
  /**
   * Activation checkpointing while gradients are recorded: each block, and the tokenizer, keep only their
   * output and are recomputed during the backward pass (see VisionTransformer.recomputeBlocks).
   */
  recomputeBlocks = false;
  /**
   * Element type of the blocks' activations: 'f16' is mixed precision (cast after the tokens and positions
   * are made, back to f32 before the final norm). The grouping and the tokenizer run in f32.
   */
  activations: DType = 'f32';

  constructor(
    readonly cfg: PointConfig,
    private readonly weight: WeightSource,
  ) {}

  /** One mini-PointNet per group: neighbourhoods [B, G, K, 3] → tokens [B, G, dim]. */
  tokenize(neighbourhood: Tensor): Tensor {
    const w = this.weight;
    const [B, G, K] = neighbourhood.shape as [number, number, number, number];
    const [c1, c2, c3] = this.cfg.tokenizer;
    const rows = B * G;
    const conv = (name: string, outWidth: number, inWidth: number): Tensor => reshape(w(`${name}.weight`), [outWidth, inWidth]);
    const batchNorm = (name: string) => ({ weight: w(`${name}.weight`), bias: w(`${name}.bias`), runningMean: w(`${name}.running_mean`), runningVar: w(`${name}.running_var`) });
    // Conv1d(k=1) → BatchNorm(eval) → ReLU is one linear map with ReLU fused into its epilogue.
    const first = foldBatchNorm(conv('encoder.first_conv.0', c1, 3), w('encoder.first_conv.0.bias'), batchNorm('encoder.first_conv.1'), BATCH_NORM_EPS);
    let h = linear(reshape(neighbourhood, [rows * K, 3]), first.weight, first.bias, { relu: true });
    h = reshape(linear(h, conv('encoder.first_conv.3', c2, c1), w('encoder.first_conv.3.bias')), [rows, K, c2]);
    h = concatGlobal(maxOverGroup(h), h);
    const second = foldBatchNorm(conv('encoder.second_conv.0', c3, 2 * c2), w('encoder.second_conv.0.bias'), batchNorm('encoder.second_conv.1'), BATCH_NORM_EPS);
    h = linear(reshape(h, [rows * K, 2 * c2]), second.weight, second.bias, { relu: true });
    h = linear(h, conv('encoder.second_conv.3', this.cfg.dim, c3), w('encoder.second_conv.3.bias'));
    return reshape(maxOverGroup(reshape(h, [rows, K, this.cfg.dim])), [B, G, this.cfg.dim]);
  }

  /** Features f = [x_cls, max over the G tokens] after the final norm: [B, 2·dim]. */
  features(points: Tensor, adapter?: LinearAdapter): Tensor {
    const { cfg, weight: w } = this;
    if (points.rank !== 3 || points.shape[2] !== 3) throw new ShapeError(`The model takes point clouds of shape [N, P, 3]; got ${fmt(points.shape)}.`);
    const P = points.shape[1]!;
    if (P < cfg.groups || P < cfg.groupSize) throw new ShapeError(`Clouds of ${P} points are too small for ${cfg.groups} groups of ${cfg.groupSize}: give at least ${Math.max(cfg.groups, cfg.groupSize)} points per cloud.`);
    const tape = activeTape(points.ctx);
    const mark = tape?.mark();
    const { neighbourhood, centres } = groupPoints(points, cfg.groups, cfg.groupSize);
    const tokens = tape && this.recomputeBlocks ? checkpoint(neighbourhood, (n) => this.tokenize(n), 'tokenizer') : this.tokenize(neighbourhood);
    const positions = linear(linear(centres, w('pos_embed.0.weight'), w('pos_embed.0.bias'), { gelu: true }), w('pos_embed.2.weight'), w('pos_embed.2.bias'));
    let x = cast(prependToken(tokens, w('cls_token')), this.activations);
    const pos = cast(prependToken(positions, w('cls_pos')), this.activations);
    // With a frozen tokenizer nothing needs its activations any more (the largest of the step: K per token).
    if (tape && mark !== undefined && !x.requiresGrad && !pos.requiresGrad) tape.releaseSince(mark, [x, pos]);
    const spec = pointBlockSpec(cfg);
    x = runBlocks(x, cfg.depth, (i, input) => transformerBlock(w, spec, i, add(input, pos), adapter), this.recomputeBlocks);
    x = layerNorm(cast(x, 'f32'), w('norm.weight'), w('norm.bias'), POINT_LAYER_NORM_EPS);
    return concatLast([selectToken(x, 0), maxOverTokens(x, 1)]);
  }

  /** Logits [B, classes] through `head.weight` [classes, 2·dim] / `head.bias` of the weight source. */
  forward(points: Tensor, adapter?: LinearAdapter): Tensor {
    return linear(this.features(points, adapter), this.weight('head.weight'), this.weight('head.bias'));
  }
}
