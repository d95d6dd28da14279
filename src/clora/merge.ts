// Merging an adapter into the frozen weights on the GPU (clora-spec §1: W ← W + s·ΔW_jᵀ), and undoing it.
// Per low-rank module: one batched product P_h = D_h·Q_h, one batched product U_hᵀ·P_hᵀ, a sum over the p
// spaces and one scaled add into the module's rows of W: a copy and four dispatches, no CPU round trip. After merging,
// inference costs exactly the frozen backbone's FLOPs.
import { Tape } from '../autodiff/tape';
import { Tensor } from '../autodiff/tensor';
import { addAt } from '../kernels/elementwise';
import { matmulInto } from '../kernels/matmul';
import { sumAxis } from '../kernels/reduce';
import { backboneModulePath } from '../nn/backbone';
import { CORES, type FineTuneModel } from './model';

function apply(model: FineTuneModel, sign: 1 | -1): void {
  const { trainable, identity, frozen, settings } = model.parts;
  if (!frozen || model.branches.length === 0) return;
  const ctx = model.ctx;
  const r = settings.rank;
  const p = settings.method === 'clora' ? settings.spaces : 1;
  const coreTensor = settings.method === 'clora' ? trainable.get(CORES) : identity!.get('lora.identity');
  const tape = new Tape(ctx);
  try {
    for (const b of model.branches) {
      const down = trainable.get(b.downName);
      const up = trainable.get(b.upName);
      const cores = Tensor.empty(ctx, [p, r, r]);
      ctx.copy({ buffer: coreTensor.buffer, byteOffset: coreTensor.byteOffset + b.coreIndex * p * r * r * 4, byteLength: p * r * r * 4 }, cores);
      const projected = Tensor.empty(ctx, [p, b.inWidth, r]);
      matmulInto(ctx, down, cores, projected, { batch: p, m: b.inWidth, k: r, n: r });
      const perSpace = Tensor.empty(ctx, [p, b.outWidth, b.inWidth]);
      matmulInto(ctx, up, projected, perSpace, { batch: p, m: b.outWidth, k: r, n: b.inWidth, transA: true, transB: true });
      const delta = Tensor.empty(ctx, [b.outWidth, b.inWidth]);
      sumAxis(ctx, perSpace, delta, 1, p, b.outWidth * b.inWidth, settings.scale);
      const weight = frozen.get(`${backboneModulePath(model.parts.cfg, b.block, b.module)}.weight`);
      addAt(ctx, weight, delta, b.colStart * b.inWidth, sign);
    }
    ctx.flush();
  } finally {
    tape.dispose();
  }
}

/** Folds every branch into the frozen weights; the model then runs without branches until unmerged. */
export function mergeAdapter(model: FineTuneModel): void {
  if (model.merged) return;
  apply(model, 1);
  model.merged = true;
}

/** Subtracts the branches again (training can continue from the unmerged state). */
export function unmergeAdapter(model: FineTuneModel): void {
  if (!model.merged) return;
  apply(model, -1);
  model.merged = false;
}
