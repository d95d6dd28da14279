// LayerNorm over the last axis: forward and backward side by side.
import { ShapeError } from '../../gpu/errors';
import { layerNormBackwardInput, layerNormBackwardParams, layerNormForward } from '../../kernels/layernorm';
import { record } from '../tape';
import { activeTape, shapeText, Tensor } from '../tensor';

/** timm's LayerNorm: (x − mean)/sqrt(var + eps)·weight + bias over the last axis, biased variance. */
export function layerNorm(x: Tensor, weight: Tensor, bias: Tensor, eps = 1e-6): Tensor {
  const D = x.shape[x.rank - 1];
  if (D === undefined || x.size === 0) throw new ShapeError(`layerNorm: input ${shapeText(x.shape)} is empty or has no last axis.`);
  if (weight.rank !== 1 || weight.shape[0] !== D || bias.rank !== 1 || bias.shape[0] !== D) {
    throw new ShapeError(
      `layerNorm: weight ${shapeText(weight.shape)} and bias ${shapeText(bias.shape)} must both be [${D}] for input ${shapeText(x.shape)}.`,
    );
  }
  const ctx = x.ctx;
  const rows = x.size / D;
  // Mixed precision: y (and dx) keep x's element type; the statistics stay f32.
  const y = Tensor.like(x);
  const stats = Tensor.empty(ctx, [rows, 2]);
  layerNormForward(ctx, x, weight, bias, y, stats, rows, D, eps);
  const recording = (x.requiresGrad || weight.requiresGrad || bias.requiresGrad) && activeTape(ctx) !== undefined;
  // The statistics only serve the backward: without a recording they go straight back to the pool
  // (work recorded later runs after this dispatch, so reusing the buffer is safe).
  if (!recording) stats.dispose();
  record('layerNorm', [x, weight, bias], [y], ([g]) => {
    const dx = x.requiresGrad ? Tensor.like(x) : null;
    if (dx) layerNormBackwardInput(ctx, x, weight, g!, stats, dx, rows, D);
    let dw: Tensor | null = null;
    let db: Tensor | null = null;
    if (weight.requiresGrad || bias.requiresGrad) {
      dw = Tensor.empty(ctx, weight.shape);
      db = Tensor.empty(ctx, bias.shape);
      layerNormBackwardParams(ctx, x, g!, stats, dw, db, rows, D, (n) => Tensor.empty(ctx, [n]));
      // One kernel makes both sums; a frozen half is returned to the pool at once.
      if (!weight.requiresGrad) {
        dw.dispose();
        dw = null;
      }
      if (!bias.requiresGrad) {
        db.dispose();
        db = null;
      }
    }
    return [dx, dw, db];
  });
  return y;
}
