// timm's VisionTransformer built from the autodiff ops (see clora-spec §2.1): patch embedding, class token
// and position embedding, pre-norm blocks of multi-head attention and a GELU MLP, a final LayerNorm and a
// linear head on the class token. Everything shape-related is read from the weights.
import { cast, reshape } from '../autodiff/ops/elementwise';
import { layerNorm } from '../autodiff/ops/layernorm';
import { linear } from '../autodiff/ops/matmul';
import { clsPos, patchify, selectToken } from '../autodiff/ops/shape';
import type { DType, Tensor } from '../autodiff/tensor';
import { ShapeError, shapeText } from '../gpu/errors';
import { runBlocks, transformerBlock, type BlockSpec, type LinearAdapter, type WeightSource } from './transformer-block';

export const LAYER_NORM_EPS = 1e-6;

export interface VitConfig {
  /** The backbone union's tag (src/nn/backbone.ts); absent means a ViT. */
  kind?: 'vit';
  depth: number;
  dim: number;
  heads: number;
  patch: number;
  /** Input height and width the position embedding was made for. */
  imageSize: number;
  channels: number;
  mlpDim: number;
  /** 1 + number of patches. */
  tokens: number;
  /** Classes of the stored head; 0 when the weights have no head. */
  classes: number;
}

const fmt = (s: readonly number[] | undefined): string => (s ? shapeText(s) : 'missing');

/**
 * Reads depth, width, patch size, image size, token count and MLP width from timm weight shapes and checks
 * that every tensor a ViT needs is there with the right shape. Heads come from the caller (known-model
 * table, `__metadata__.num_heads`, an option), default dim/64 and at least 1.
 */
export function vitConfigFromShapes(shapes: ReadonlyMap<string, readonly number[]>, heads?: number): VitConfig {
  const need = (name: string): readonly number[] => {
    const s = shapes.get(name);
    if (!s) throw new ShapeError(`These weights are not a timm ViT: the tensor "${name}" is missing.`);
    return s;
  };
  const proj = need('patch_embed.proj.weight');
  if (proj.length !== 4 || proj[2] !== proj[3]) throw new ShapeError(`"patch_embed.proj.weight" should be [dim, channels, P, P]; found ${fmt(proj)}.`);
  const [dim, channels, patch] = proj as [number, number, number, number];
  const pos = need('pos_embed');
  if (pos.length !== 3 || pos[0] !== 1 || pos[2] !== dim) throw new ShapeError(`"pos_embed" should be [1, tokens, ${dim}]; found ${fmt(pos)}.`);
  const tokens = pos[1]!;
  const grid = Math.round(Math.sqrt(tokens - 1));
  if (grid * grid !== tokens - 1) throw new ShapeError(`"pos_embed" has ${tokens} tokens: 1 class token plus a square grid of patches was expected.`);
  let depth = 0;
  while (shapes.has(`blocks.${depth}.attn.qkv.weight`)) depth++;
  if (depth === 0) throw new ShapeError('These weights are not a timm ViT: no "blocks.0.attn.qkv.weight" tensor.');
  const mlpDim = need('blocks.0.mlp.fc1.weight')[0]!;
  const head = shapes.get('head.weight');
  const classes = head ? head[0]! : 0;
  const h = heads ?? Math.max(1, Math.floor(dim / 64));
  if (!Number.isInteger(h) || h < 1 || dim % h !== 0) throw new ShapeError(`${h} attention heads do not divide the width ${dim}.`);
  const cfg: VitConfig = { depth, dim, heads: h, patch, imageSize: grid * patch, channels, mlpDim, tokens, classes };
  const expected = vitShapes(cfg);
  const problems: string[] = [];
  for (const [name, shape] of expected) {
    const found = shapes.get(name);
    if (!found || found.length !== shape.length || found.some((d, i) => d !== shape[i])) problems.push(`"${name}": expected ${fmt(shape)}, found ${fmt(found)}`);
  }
  if (problems.length) throw new ShapeError(`These weights do not fit a ViT of width ${dim} and depth ${depth}: ${problems.slice(0, 6).join('; ')}${problems.length > 6 ? ` (and ${problems.length - 6} more)` : ''}.`);
  return cfg;
}

/** Every timm key of a ViT with this configuration and its shape, in timm's order. */
export function vitShapes(cfg: VitConfig): Map<string, number[]> {
  const { dim: d, mlpDim: m } = cfg;
  const shapes = new Map<string, number[]>([
    ['cls_token', [1, 1, d]],
    ['pos_embed', [1, cfg.tokens, d]],
    ['patch_embed.proj.weight', [d, cfg.channels, cfg.patch, cfg.patch]],
    ['patch_embed.proj.bias', [d]],
  ]);
  for (let i = 0; i < cfg.depth; i++) {
    const b = `blocks.${i}`;
    shapes.set(`${b}.norm1.weight`, [d]).set(`${b}.norm1.bias`, [d]);
    shapes.set(`${b}.attn.qkv.weight`, [3 * d, d]).set(`${b}.attn.qkv.bias`, [3 * d]);
    shapes.set(`${b}.attn.proj.weight`, [d, d]).set(`${b}.attn.proj.bias`, [d]);
    shapes.set(`${b}.norm2.weight`, [d]).set(`${b}.norm2.bias`, [d]);
    shapes.set(`${b}.mlp.fc1.weight`, [m, d]).set(`${b}.mlp.fc1.bias`, [m]);
    shapes.set(`${b}.mlp.fc2.weight`, [d, m]).set(`${b}.mlp.fc2.bias`, [d]);
  }
  shapes.set('norm.weight', [d]).set('norm.bias', [d]);
  if (cfg.classes > 0) shapes.set('head.weight', [cfg.classes, d]).set('head.bias', [cfg.classes]);
  return shapes;
}

/** timm's block layout: keys `blocks.{i}.…`, LayerNorm eps 1e-6, qkv with a bias. */
export function vitBlockSpec(cfg: Pick<VitConfig, 'dim' | 'heads'>): BlockSpec {
  return { heads: cfg.heads, dim: cfg.dim, eps: LAYER_NORM_EPS, qkvBias: true, prefix: (i) => `blocks.${i}` };
}

/** timm's weight-decay rule as the contract states it: tensors with ≥ 2 dimensions except cls_token and pos_embed. */
export function decays(name: string, shape: readonly number[]): boolean {
  return shape.length >= 2 && name !== 'cls_token' && name !== 'pos_embed';
}

export class VisionTransformer {
  /**
   * Activation checkpointing: while gradients are recorded, keep only each block's output and recompute the
   * block during the backward pass (one more forward per block, a fraction of the memory; see
   * src/autodiff/checkpoint.ts). The trainer's memory plan turns it on when that is what fits.
   */
  recomputeBlocks = false;
  /**
   * Element type of the activations between the blocks' ops (and kept for their backward): 'f16' is mixed
   * precision (the adapter offers `shader-f16`): the tokens are cast to f16 after the position embedding
   * and back to f32 before the final norm; weights stay f32 and the kernels compute in f32.
   */
  activations: DType = 'f32';

  constructor(
    readonly cfg: VitConfig,
    private readonly weight: WeightSource,
  ) {}

  /** Class-token features after the final norm: [B, dim]. */
  features(pixels: Tensor, adapter?: LinearAdapter): Tensor {
    const { cfg, weight: w } = this;
    if (pixels.rank !== 4 || pixels.shape[1] !== cfg.channels || pixels.shape[2] !== cfg.imageSize || pixels.shape[3] !== cfg.imageSize) {
      throw new ShapeError(`The model takes images of shape [N, ${cfg.channels}, ${cfg.imageSize}, ${cfg.imageSize}]; got ${fmt(pixels.shape)}.`);
    }
    const patchWeight = reshape(w('patch_embed.proj.weight'), [cfg.dim, cfg.channels * cfg.patch * cfg.patch]);
    let x = linear(patchify(pixels, cfg.patch), patchWeight, w('patch_embed.proj.bias'));
    x = clsPos(x, w('cls_token'), w('pos_embed'));
    x = cast(x, this.activations);
    const spec = vitBlockSpec(cfg);
    x = runBlocks(x, cfg.depth, (i, input) => transformerBlock(w, spec, i, input, adapter), this.recomputeBlocks);
    x = layerNorm(cast(x, 'f32'), w('norm.weight'), w('norm.bias'), LAYER_NORM_EPS);
    return selectToken(x, 0);
  }

  /** Logits [B, classes] through `head.weight` / `head.bias` of the weight source. */
  forward(pixels: Tensor, adapter?: LinearAdapter): Tensor {
    return linear(this.features(pixels, adapter), this.weight('head.weight'), this.weight('head.bias'));
  }
}
