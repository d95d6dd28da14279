import { f32, type BufferRange, type GpuContext } from '../gpu/context';
import { grid1d } from './grid';
import { rowThreads } from './layernorm';
import { sumAxis } from './reduce';
import { fixedSubgroupSize } from './subgroups';

// Launchers for shaders/softmax_xent.wgsl. logits and grad are [N, C]; labels, rowLoss [N]; loss [1].
const WG = 256;

/**
 * Per-row smoothed cross-entropy into `rowLoss`, their mean into `loss` (on the GPU), and, when `grad` is
 * given, (softmax − target)/N from the same pass. Labels outside [0, C) count as ignored rows (see the shader).
 */
export function crossEntropyForward(
  ctx: GpuContext,
  logits: BufferRange,
  labels: BufferRange,
  rowLoss: BufferRange,
  loss: BufferRange,
  grad: BufferRange | null,
  N: number,
  C: number,
  labelSmoothing: number,
): void {
  const entry = grad ? 'loss_and_grad' : 'loss_only';
  const buffers = grad ? [logits, labels, rowLoss, grad] : [logits, labels, rowLoss];
  const params = [N, C, f32(labelSmoothing), f32(1 / N)];
  const sg = fixedSubgroupSize(ctx);
  if (sg > 0) {
    // shaders/softmax_xent_subgroup.wgsl: one row per one-subgroup workgroup, subgroupMax / subgroupAdd, no barriers.
    ctx.dispatch({ shader: 'softmax_xent_subgroup', entry, defines: { SG: sg } }, params, buffers, grid1d(N, 1));
  } else {
    const threads = rowThreads(C);
    ctx.dispatch({ shader: 'softmax_xent', entry, defines: { ROW_THREADS: threads } }, params, buffers, grid1d(N, WG / threads));
  }
  sumAxis(ctx, rowLoss, loss, 1, N, 1, 1 / N);
}
