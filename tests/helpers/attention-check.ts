// The attention op against the f64 reference (forward and the gradients asked for), shared by the attention
// test files: on the path the op picks by shape, or the one named.
import { attention } from '../../src/autodiff/ops/attention';
import type { AttentionPath } from '../../src/kernels/attention';
import { refOps } from '../reference/ops';
import { gpu } from './gpu';
import { checkOp, rand } from './oracle';

export type AttentionCase = [b: number, h: number, n: number, dh: number];

export async function checkAttention(qShape: AttentionCase, nk: number, opts: { scale?: number; grad?: number[]; seed?: number; path?: AttentionPath } = {}) {
  const ctx = await gpu();
  const [b, h, , dh] = qShape;
  const scale = opts.scale ?? dh ** -0.5;
  const seed = opts.seed ?? 21;
  return checkOp(ctx, {
    ref: refOps.attention,
    opts: { scale },
    inputs: [rand(qShape, seed), rand([b, h, nk, dh], seed + 1), rand([b, h, nk, dh], seed + 2)],
    grad: opts.grad ?? [0, 1, 2],
    engine: ([q, k, v]) => attention(q!, k!, v!, { scale, path: opts.path }),
  });
}
