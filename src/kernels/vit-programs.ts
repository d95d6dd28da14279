// Which programs a device profile picks for one ViT training step: the pure choice functions of matmul,
// attention and the CLoRA branch applied to a ViT's shapes. `clora device` prints it; a test pins it for
// ViT-B/16 on every profile.
import type { DeviceProfile } from '../gpu/profile';
import { attentionTile, selectAttentionPath, type AttentionKernel } from './attention';
import { selectBranchPrograms } from './clora';
import { selectMatmulProgram, type MatmulGeometry } from './matmul';

export interface VitStepShape {
  dim: number;
  mlpDim: number;
  heads: number;
  /** Tokens per image (class token included): 197 for ViT-B/16 at 224². */
  tokens: number;
  batch: number;
  /** The adapter's bottleneck p·r (LoRA r8: 8; CLoRA r8 p4: 32). */
  bottleneck: number;
  classes: number;
}

export interface ProgramChoice {
  /** What is computed, e.g. "qkv forward" or "attention backward dK, dV". */
  work: string;
  /** The shape in words: M×K×N for products, [B·H, N, Dh] for attention, P for the branch. */
  shape: string;
  program: string;
}

function matmulRow(work: string, g: MatmulGeometry, profile: DeviceProfile): ProgramChoice {
  const plan = selectMatmulProgram(g, profile);
  const split = plan.kChunks !== undefined && plan.kChunks > 1 ? `, ${plan.kChunks} K chunks` : '';
  return { work, shape: `${g.m}×${g.k}×${g.n}`, program: `${plan.program}${split}` };
}

/** The programs of one training step (frozen backbone, adapter on q and v, new head) on a device. */
export function vitStepPrograms(s: VitStepShape, profile: DeviceProfile): ProgramChoice[] {
  const T = s.batch * s.tokens;
  const d = s.dim;
  const dh = d / s.heads;
  // x·Wᵀ (weights [out, in]) forward; dY·W for the input gradient (frozen weights need no dW).
  const linear = (name: string, inW: number, outW: number): ProgramChoice[] => [
    matmulRow(`${name} forward`, { batch: 1, m: T, k: inW, n: outW, transB: true, batchedB: false }, profile),
    matmulRow(`${name} backward dX`, { batch: 1, m: T, k: outW, n: inW, batchedB: false }, profile),
  ];
  const path = selectAttentionPath(s.tokens, dh, profile);
  const tile = (kernel: AttentionKernel, what: string): ProgramChoice => {
    const t = attentionTile(kernel, dh, profile);
    return { work: `attention ${what}`, shape: `[${s.batch * s.heads}, ${s.tokens}, ${dh}]`, program: `${kernel} ${t.rows} rows × ${t.tile}` };
  };
  const attention: ProgramChoice[] =
    path === 'fused'
      ? [tile('forward', 'forward'), tile('backward_dkdv', 'backward dK, dV'), tile('backward_dq', 'backward dQ')]
      : [{ work: 'attention', shape: `[${s.batch * s.heads}, ${s.tokens}, ${dh}]`, program: 'products (scores through the tiled matmul)' }];
  const branch = selectBranchPrograms(s.bottleneck, profile);
  return [
    ...linear('qkv', d, 3 * d),
    ...attention,
    ...linear('proj', d, d),
    ...linear('fc1', d, s.mlpDim),
    ...linear('fc2', s.mlpDim, d),
    { work: 'adapter X·D, core', shape: `${T}×${d}×${s.bottleneck}`, program: branch.lowrankIn === 'tiled' ? 'lowrank_in' : `lowrank_in_${branch.lowrankIn}` },
    { work: 'adapter W·U', shape: `${T}×${s.bottleneck}×${d}`, program: `lowrank_out${branch.lowrankOut === 'rows' ? '_rows' : ''}` },
    { work: 'adapter bank gradients', shape: `${s.bottleneck}×${T}×${d}`, program: `weight_grad${branch.weightGrad === 'rows' ? '_rows' : ''}` },
    matmulRow('head forward', { batch: 1, m: s.batch, k: d, n: s.classes, transB: true, batchedB: false }, profile),
    matmulRow('head weight gradient', { batch: 1, m: s.classes, k: s.batch, n: d, transA: true }, profile),
  ];
}
