// The pre-norm transformer block both backbones share (timm's ViT and Point-MAE's encoder): LayerNorm,
// multi-head self-attention (qkv with or without bias, proj), residual; LayerNorm, MLP (fc1, exact GELU,
// fc2), residual. Each adaptable linear map goes through the LinearAdapter hook, where CLoRA and LoRA add their
// branches. Weights are read by key under a prefix (`blocks.{i}` in timm, `blocks.blocks.{i}` in Point-MAE).
import { checkpoint } from '../autodiff/checkpoint';
import { attention } from '../autodiff/ops/attention';
import { add, gelu } from '../autodiff/ops/elementwise';
import { layerNorm } from '../autodiff/ops/layernorm';
import { linear } from '../autodiff/ops/matmul';
import { mergeHeads, splitHeads } from '../autodiff/ops/shape';
import { activeTape, type Tensor } from '../autodiff/tensor';

/** The linear maps an adapter may add a low-rank branch to. */
export type AdaptedModule = 'qkv' | 'proj' | 'fc1' | 'fc2';

/**
 * Adds a method's branch to a frozen linear map's output (CLoRA, LoRA). `output` is x·Wᵀ + bias of module
 * `module` in block `block`; the adapter returns what the block uses instead.
 */
export interface LinearAdapter {
  adapt(block: number, module: AdaptedModule, input: Tensor, output: Tensor): Tensor;
  /** Whether `adapt` changes this module (default: assume it does). Unadapted fc1 keeps GELU fused. */
  adapts?(block: number, module: AdaptedModule): boolean;
}

/** Where weights come from: backbone tensors may be frozen, the head and others trainable. */
export type WeightSource = (name: string) => Tensor;

export interface BlockSpec {
  heads: number;
  dim: number;
  /** LayerNorm eps: timm's 1e-6, PyTorch's default 1e-5 in Point-MAE. */
  eps: number;
  /** Whether `attn.qkv` has a bias (timm: yes; Point-MAE: no). */
  qkvBias: boolean;
  /** Key prefix of block i. */
  prefix(block: number): string;
}

/** Key path of an adapted module of a block (`blocks.3.attn.qkv`, `blocks.blocks.3.mlp.fc1`). */
export function modulePath(spec: Pick<BlockSpec, 'prefix'>, block: number, module: AdaptedModule): string {
  return `${spec.prefix(block)}.${module === 'fc1' || module === 'fc2' ? 'mlp' : 'attn'}.${module}`;
}

/** Block `i` on x [B, N, dim]. */
export function transformerBlock(w: WeightSource, spec: BlockSpec, i: number, x: Tensor, adapter?: LinearAdapter): Tensor {
  const b = spec.prefix(i);
  const lin = (module: AdaptedModule, input: Tensor, opts: { fused?: boolean; bias?: boolean } = {}): Tensor => {
    const path = modulePath(spec, i, module);
    const branched = adapter !== undefined && (adapter.adapts?.(i, module) ?? true);
    const out = linear(input, w(`${path}.weight`), opts.bias === false ? undefined : w(`${path}.bias`), { gelu: opts.fused === true && !branched });
    if (!adapter || !branched) return out;
    const adapted = adapter.adapt(i, module, input, out);
    // With an adapter GELU cannot be fused into fc1's epilogue: it applies to the adapted output.
    return opts.fused ? gelu(adapted) : adapted;
  };
  const h = layerNorm(x, w(`${b}.norm1.weight`), w(`${b}.norm1.bias`), spec.eps);
  const qkv = lin('qkv', h, { bias: spec.qkvBias });
  const [q, k, v] = splitHeads(qkv, spec.heads);
  const o = mergeHeads(attention(q, k, v, { scale: (spec.dim / spec.heads) ** -0.5 }));
  const mid = add(x, lin('proj', o));
  const h2 = layerNorm(mid, w(`${b}.norm2.weight`), w(`${b}.norm2.bias`), spec.eps);
  const hidden = lin('fc1', h2, { fused: true });
  return add(mid, lin('fc2', hidden));
}

/**
 * x ← block(i, x) for i = 0 … depth − 1. While gradients are recorded and `recompute` is on, each block is
 * checkpointed (only its output kept; recomputed during the backward pass, see src/autodiff/checkpoint.ts);
 * without gradients nothing needs a block's activations after the block, so they are released as it ends.
 */
export function runBlocks(x: Tensor, depth: number, block: (i: number, x: Tensor) => Tensor, recompute: boolean): Tensor {
  const tape = activeTape(x.ctx);
  for (let i = 0; i < depth; i++) {
    if (tape && recompute) {
      x = checkpoint(x, (input) => block(i, input), `block${i}`);
      continue;
    }
    const mark = tape?.mark();
    x = block(i, x);
    if (tape && mark !== undefined && !x.requiresGrad) tape.releaseSince(mark, [x]);
  }
  return x;
}
