// Attention's two paths on the same shapes: the flash-style fused kernels and the products path (scores and
// probabilities through the tiled matmul and the row softmax with its scale folded in), each against the f64
// reference with gradients; and the choice by shape.
import { describe, expect, it } from 'vitest';
import { attention } from '../../src/autodiff/ops/attention';
import { profileFor } from '../../src/gpu/profile';
import { selectAttentionPath, type AttentionPath } from '../../src/kernels/attention';
import { Tape } from '../../src/autodiff/tape';
import { Tensor } from '../../src/autodiff/tensor';
import { gpu } from '../helpers/gpu';
import { checkAttention, type AttentionCase } from '../helpers/attention-check';
import { rand } from '../helpers/oracle';

type Case = AttentionCase;
const check = (path: AttentionPath, qShape: Case, nk: number, opts: { scale?: number; grad?: number[]; seed?: number } = {}) => checkAttention(qShape, nk, { ...opts, path });

describe('attention by products (scores through the tiled matmul) against the f64 reference', () => {
  const cases: Case[] = [[1, 1, 1, 3], [1, 2, 7, 5], [2, 1, 33, 8], [1, 2, 50, 16], [1, 1, 17, 64], [1, 1, 197, 3]];
  for (const c of cases) {
    it(`forward and dq, dk, dv at [B, H, N, Dh] = ${JSON.stringify(c)}`, async () => {
      await check('products', c, c[2]);
    });
  }

  it('cross-attention lengths, a large scale, and gradients only where needed', async () => {
    await check('products', [2, 1, 7, 5], 40);
    await check('products', [1, 1, 40, 5], 7, { seed: 5 });
    await check('products', [1, 1, 33, 8], 33, { scale: 4, seed: 41 });
    await check('products', [1, 1, 17, 5], 17, { grad: [0] });
    await check('products', [1, 1, 17, 5], 17, { grad: [1] });
    await check('products', [1, 1, 17, 5], 17, { grad: [2] });
  });

  it('the fused kernels still hold at the short shapes the products path now takes', async () => {
    await check('fused', [1, 2, 7, 5], 7);
    await check('fused', [1, 1, 17, 64], 17);
  });

  it('releases the probabilities when no gradient is recorded, and everything with the tape', async () => {
    const ctx = await gpu();
    const q = Tensor.fromData(ctx, [1, 1, 7, 3], rand([1, 1, 7, 3], 1).data);
    const before = ctx.pool.inUseBytes;
    attention(q, q, q, { scale: 0.5, path: 'products' }).dispose();
    expect(ctx.pool.inUseBytes).toBe(before);
    const tape = new Tape(ctx);
    q.requiresGrad = true;
    tape.backward(attention(q, q, q, { scale: 0.5, path: 'products' }));
    tape.dispose();
    expect(ctx.pool.inUseBytes).toBe(before);
    q.dispose();
  });

  it('on emulators takes the products path up to Nk = 2·Dh (ViT at 112², 50 tokens) and the fused kernels past it (224², 197); GPUs always the fused kernels', () => {
    const emulated = profileFor('emulated', 16384);
    expect(selectAttentionPath(50, 64, emulated)).toBe('products');
    expect(selectAttentionPath(128, 64, emulated)).toBe('products');
    expect(selectAttentionPath(129, 64, emulated)).toBe('fused');
    expect(selectAttentionPath(197, 64, emulated)).toBe('fused');
    for (const kind of ['integrated', 'discrete'] as const) expect(selectAttentionPath(50, 64, profileFor(kind, 32768))).toBe('fused');
  });
});
