import { f32, type BufferRange, type GpuContext } from '../gpu/context';
import { ShapeError } from '../gpu/errors';
import { grid1d } from './grid';

// Launchers for shaders/adamw.wgsl: one dispatch updates a whole flat parameter buffer, one vec4 per thread.
const WG = 256;

export interface AdamWHyper {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
}

function checkFlat(what: string, ranges: BufferRange[], decayEnd: number): number {
  const bytes = ranges[0]!.byteLength;
  for (const r of ranges) {
    if (r.byteLength !== bytes) throw new ShapeError(`${what}: the flat buffers have ${bytes / 4} and ${r.byteLength / 4} floats.`);
  }
  const floats = bytes / 4;
  if (floats % 4 !== 0) throw new ShapeError(`${what}: ${floats} floats is not a whole number of vec4s (use a ParameterStore layout).`);
  if (decayEnd % 4 !== 0 || decayEnd < 0 || decayEnd > floats) {
    throw new ShapeError(`${what}: the decay range end ${decayEnd} must be a multiple of 4 within the ${floats} floats.`);
  }
  return floats;
}

// Mixed precision (shaders/adamw.wgsl, second half): dynamic loss scaling kept on the GPU. `scale` is one
// f32 (the loss multiplier the backward was seeded with); `counters` is five u32: overflow flag, good steps
// since the last change, skipped steps, applied updates, whether the last step overflowed.

export interface LossScaleRanges {
  scale: BufferRange;
  counters: BufferRange;
}

/**
 * One AdamW step (torch.optim.AdamW) over flat buffers, in place on params, m and v; weight decay applies to
 * floats [0, decayEnd). `step` is 1-based (PyTorch's state['step'] after incrementing). With `loss` (mixed
 * precision) the gradients are loss-scaled: the update is skipped entirely when the overflow flag is set,
 * else g / scale is applied with bias corrections from the GPU's count of applied updates (a skipped step
 * does not count, as with PyTorch's GradScaler skipping optimizer.step()); `step` is then unused.
 */
export function adamwUpdate(
  ctx: GpuContext,
  params: BufferRange,
  grads: BufferRange,
  m: BufferRange,
  v: BufferRange,
  decayEnd: number,
  step: number,
  h: AdamWHyper,
  loss?: LossScaleRanges,
): void {
  const floats = checkFlat('adamwUpdate', [params, grads, m, v], decayEnd);
  if (!loss && !(Number.isInteger(step) && step >= 1)) throw new Error(`adamwUpdate: step must be a whole number ≥ 1 (got ${step}).`);
  if (floats === 0) return;
  const moments = [f32(h.lr), f32(1 - h.lr * h.weightDecay), f32(1 - h.beta1), f32(h.beta2), f32(1 - h.beta2), f32(h.eps)];
  if (loss) {
    ctx.dispatch(
      { shader: 'adamw', entry: 'adamw_scaled' },
      [floats / 4, decayEnd / 4, ...moments, f32(0), f32(0), f32(h.beta1)],
      [params, grads, m, v, loss.scale, loss.counters],
      grid1d(floats / 4, WG),
    );
    return;
  }
  // Computed in f64 like PyTorch's Python-float bias corrections, then rounded once to f32.
  const bc1 = 1 - h.beta1 ** step;
  const bc2 = 1 - h.beta2 ** step;
  ctx.dispatch({ shader: 'adamw', entry: 'adamw' }, [floats / 4, decayEnd / 4, ...moments, f32(h.lr / bc1), f32(Math.sqrt(bc2))], [params, grads, m, v], grid1d(floats / 4, WG));
}

/**
 * One plain SGD step over flat buffers: p -= lr·(g + wd·p) on floats [0, decayEnd), p -= lr·g after. With
 * `loss`, on loss-scaled gradients, skipped when the overflow flag is set.
 */
export function sgdUpdate(ctx: GpuContext, params: BufferRange, grads: BufferRange, decayEnd: number, lr: number, weightDecay: number, loss?: LossScaleRanges): void {
  const floats = checkFlat('sgdUpdate', [params, grads], decayEnd);
  if (floats === 0) return;
  // Same uniform block as adamw; the fields sgd does not read are zero.
  const p = [floats / 4, decayEnd / 4, f32(lr), f32(weightDecay), f32(0), f32(0), f32(0), f32(0), f32(0), f32(0)];
  if (loss) ctx.dispatch({ shader: 'adamw', entry: 'sgd_scaled' }, p, [params, grads, loss.scale, loss.counters], grid1d(floats / 4, WG));
  else ctx.dispatch({ shader: 'adamw', entry: 'sgd' }, p, [params, grads], grid1d(floats / 4, WG));
}

/** Sets the overflow flag if any of the (scaled) flat gradients is inf or NaN. */
export function checkFiniteGradients(ctx: GpuContext, grads: BufferRange, loss: LossScaleRanges): void {
  const floats = checkFlat('checkFiniteGradients', [grads], 0);
  if (floats === 0) return;
  ctx.dispatch({ shader: 'adamw', entry: 'check_finite' }, [floats / 4], [grads, loss.counters], grid1d(floats / 4, WG));
}

/** After the update: halve the scale on overflow, double it after `growthInterval` good steps; clear the flag. */
export function updateLossScale(ctx: GpuContext, loss: LossScaleRanges, growthInterval: number, maxScale: number): void {
  ctx.dispatch(
    { shader: 'adamw', entry: 'update_scale' },
    [0, 0, f32(0), f32(0), f32(0), f32(0), f32(0), f32(0), f32(0), f32(0), f32(0), growthInterval, f32(maxScale)],
    [loss.scale, loss.counters],
    [1],
  );
}
