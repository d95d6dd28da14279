// Softmax over the last axis: forward and backward side by side.
import { ShapeError } from '../../gpu/errors';
import { softmaxBackward, softmaxForward } from '../../kernels/softmax';
import { record } from '../tape';
import { shapeText, Tensor } from '../tensor';

/** softmax along the last axis (max-subtracted, so any logit magnitude is safe). */
export function softmax(x: Tensor): Tensor {
  const cols = x.shape[x.rank - 1];
  if (cols === undefined || cols === 0) throw new ShapeError(`softmax: needs a last axis of at least one element; got ${shapeText(x.shape)}.`);
  const rows = x.size / cols;
  const y = Tensor.like(x);
  if (rows === 0) return y; // nothing to compute, and WebGPU cannot bind an empty buffer
  softmaxForward(x.ctx, x, y, rows, cols);
  // The backward needs only the output: dx = y∘(dy − rowsum(dy∘y)).
  record('softmax', [x], [y], ([g]) => {
    const dx = Tensor.like(x);
    softmaxBackward(x.ctx, y, g!, dx, rows, cols);
    return [dx];
  });
  return y;
}
