// The backbones the adapters, the trainer and the command line work with, as one union: timm's ViT
// (clora-spec §2.1) and Point-MAE's point transformer (§4). Both share the transformer block, so an adapter
// sees the same targets in both; what differs — keys, input, feature width, weight decay, what `full`
// trains — is answered here. Which kind a weights file holds is src/nn/backbone-meta.ts's question.
import type { DType, Tensor } from '../autodiff/tensor';
import { ShapeError, shapeText } from '../gpu/errors';
import { isRunningStatistic, pointBlockSpec, pointDecays, pointShapes, PointTransformer, type PointConfig } from './point-transformer';
import { modulePath, type AdaptedModule, type LinearAdapter, type WeightSource } from './transformer-block';
import { decays as vitDecays, VisionTransformer, vitBlockSpec, vitShapes, type VitConfig } from './vit';

export type BackboneConfig = VitConfig | PointConfig;

export const isPointConfig = (cfg: BackboneConfig): cfg is PointConfig => cfg.kind === 'point';

/** What both models offer: logits through a head, activation checkpointing, the blocks' activation type. */
export interface BackboneModel {
  recomputeBlocks: boolean;
  activations: DType;
  /** The features the head reads, [B, featureWidth] (quick mode caches them). */
  features(input: Tensor, adapter?: LinearAdapter): Tensor;
  forward(input: Tensor, adapter?: LinearAdapter): Tensor;
}

export function createBackboneModel(cfg: BackboneConfig, weights: WeightSource): BackboneModel {
  return isPointConfig(cfg) ? new PointTransformer(cfg, weights) : new VisionTransformer(cfg, weights);
}

/** Every backbone tensor and its shape, without the head. */
export function backboneShapes(cfg: BackboneConfig): Map<string, number[]> {
  return isPointConfig(cfg) ? pointShapes({ ...cfg, classes: 0 }) : vitShapes({ ...cfg, classes: 0 });
}

/** The weight-decay rule: ≥ 2 dimensions, except the class token and its position (pos_embed / cls_pos). */
export function backboneDecays(cfg: BackboneConfig, name: string, shape: readonly number[]): boolean {
  return isPointConfig(cfg) ? pointDecays(name, shape) : vitDecays(name, shape);
}

/** Whether `full` fine-tuning trains this backbone tensor (BatchNorm's running statistics stay fixed). */
export function trainsInFull(cfg: BackboneConfig, name: string): boolean {
  return !(isPointConfig(cfg) && isRunningStatistic(name));
}

/** Width of the features the head reads: the class token (ViT) or [x_cls, max over tokens] (points). */
export function featureWidth(cfg: BackboneConfig): number {
  return isPointConfig(cfg) ? 2 * cfg.dim : cfg.dim;
}

/** Tokens per sample through the blocks: class token + patches, or class token + groups. */
function tokenCount(cfg: BackboneConfig): number {
  return isPointConfig(cfg) ? cfg.groups + 1 : cfg.tokens;
}

/**
 * Floats of the largest activation one sample makes in a forward pass: the blocks' tokens (MLP-wide rows
 * counted a quarter, as attention and the other rows dominate), or for points the tokenizer's per-point
 * features (K rows per group, up to the 512-wide concatenation's output).
 */
export function activationFloatsPerSample(cfg: BackboneConfig): number {
  const blocks = tokenCount(cfg) * Math.max(cfg.dim, cfg.mlpDim / 4);
  if (!isPointConfig(cfg)) return blocks;
  const [, c2, c3] = cfg.tokenizer;
  return Math.max(blocks, cfg.groups * cfg.groupSize * Math.max(2 * c2, c3));
}

/** Whether the blocks' qkv has a bias. */
export function hasQkvBias(cfg: BackboneConfig): boolean {
  return isPointConfig(cfg) ? cfg.qkvBias : true;
}

/** The backbone's own key of an adapted module (`blocks.3.attn.qkv`, `blocks.blocks.3.attn.qkv`). */
export function backboneModulePath(cfg: BackboneConfig, block: number, module: AdaptedModule): string {
  return modulePath(isPointConfig(cfg) ? pointBlockSpec(cfg) : vitBlockSpec(cfg), block, module);
}

/** One sample's shape: [3, H, W] or [P, 3] (P the configured point count). */
export function sampleShapeOf(cfg: BackboneConfig): number[] {
  return isPointConfig(cfg) ? [cfg.points, 3] : [cfg.channels, cfg.imageSize, cfg.imageSize];
}

/**
 * Refuses samples the model cannot take, with what it takes. A point model takes clouds of any size that has
 * enough points for its groups; a ViT takes exactly its image shape.
 */
export function checkSampleShape(cfg: BackboneConfig, shape: readonly number[], where = 'The data'): void {
  const text = shapeText(shape);
  if (isPointConfig(cfg)) {
    const least = Math.max(cfg.groups, cfg.groupSize);
    if (shape.length !== 2 || shape[1] !== 3) throw new ShapeError(`${where} holds samples of shape ${text}; this point backbone takes point clouds [P, 3].`);
    if (shape[0]! < least) throw new ShapeError(`${where} holds clouds of ${shape[0]} points; this backbone makes ${cfg.groups} groups of ${cfg.groupSize} and needs at least ${least} points per cloud.`);
    return;
  }
  const want = sampleShapeOf(cfg);
  if (shape.length !== 3 || shape.some((d, i) => d !== want[i])) throw new ShapeError(`${where} holds samples of shape ${text}; the model takes ${shapeText(want)}.`);
}
