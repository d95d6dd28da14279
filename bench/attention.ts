// Fused attention timings at timm ViT shapes (batch 1, 197 tokens, head dim 64): forward, and forward plus
// backward for q, k, v. Wall clock after ctx.sync(), median of `repeats` runs after one warm-up run (which
// compiles the pipelines and fills the buffer pool). A benchmark, not a test.
import { attention } from '../src/autodiff/ops/attention';
import { Tape } from '../src/autodiff/tape';
import type { GpuContext } from '../src/gpu/context';
import type { AttentionPath } from '../src/kernels/attention';
import { medianMs, randomTensor } from './timing';

export interface AttentionBenchResult {
  name: string;
  b: number;
  h: number;
  n: number;
  dh: number;
  ms: number;
  gflops: number;
}

export interface AttentionShape {
  model: string;
  b: number;
  h: number;
  n: number;
  dh: number;
}

export const ATTENTION_SHAPES: AttentionShape[] = [
  { model: 'vit-tiny', b: 1, h: 3, n: 197, dh: 64 },
  { model: 'vit-base', b: 1, h: 12, n: 197, dh: 64 },
];

// Nominal FLOPs per B·H·N²·Dh: the forward is two N×N×Dh products (q·kᵀ and P·v, 2 FLOPs per multiply-add);
// the backward five (the recomputed q·kᵀ, dO·vᵀ, Pᵀ·dO, dS·k, dSᵀ·q). The dQ pass recomputes q·kᵀ and dO·vᵀ
// a second time; that extra work is not counted.
const FORWARD_FLOPS = 4;
const BACKWARD_FLOPS = 10;

/** `path` forces the fused kernels or the products (default: the device's choice by length). */
export async function benchAttention(ctx: GpuContext, opts: { repeats?: number; shapes?: AttentionShape[]; path?: AttentionPath } = {}): Promise<AttentionBenchResult[]> {
  const repeats = Math.max(1, opts.repeats ?? 10);
  const results: AttentionBenchResult[] = [];
  const path = opts.path;
  for (const { model, b, h, n, dh } of opts.shapes ?? ATTENTION_SHAPES) {
    const shape = [b, h, n, dh];
    const q = randomTensor(ctx, shape, 1);
    const k = randomTensor(ctx, shape, 2);
    const v = randomTensor(ctx, shape, 3);
    const scale = dh ** -0.5;
    const unit = b * h * n * n * dh;

    const forwardMs = await medianMs(ctx, repeats, () => attention(q, k, v, { scale, path }).dispose());
    results.push({ name: `${model} fwd`, b, h, n, dh, ms: forwardMs, gflops: (FORWARD_FLOPS * unit) / forwardMs / 1e6 });

    for (const t of [q, k, v]) t.requiresGrad = true;
    const trainMs = await medianMs(ctx, repeats, () => {
      const tape = new Tape(ctx);
      try {
        tape.backward(attention(q, k, v, { scale, path }));
      } finally {
        tape.dispose(); // releases the output, the logsumexp and the gradients
        for (const t of [q, k, v]) t.grad = null;
      }
    });
    results.push({ name: `${model} fwd+bwd`, b, h, n, dh, ms: trainMs, gflops: ((FORWARD_FLOPS + BACKWARD_FLOPS) * unit) / trainMs / 1e6 });
    for (const t of [q, k, v]) t.dispose();
  }
  return results;
}
