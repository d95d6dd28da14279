// Losses: forward and backward side by side.
import { ShapeError } from '../../gpu/errors';
import { mul } from '../../kernels/elementwise';
import { crossEntropyForward } from '../../kernels/loss';
import { record } from '../tape';
import { activeTape, shapeText, Tensor } from '../tensor';

export interface CrossEntropyOptions {
  /** ε: the target is (1 − ε)·onehot + ε/C (PyTorch's label_smoothing). Default 0. */
  labelSmoothing?: number;
}

/**
 * Mean smoothed cross-entropy of logits [N, C] against labels [N] (class ids as exact f32 integers):
 * a scalar tensor (shape []). Labels never get gradients.
 *
 * The caller validates labels on the CPU when it builds a batch (integers in [0, C)): checking them here
 * would need a GPU read. The kernel stays in bounds whatever they hold; a bad label's row contributes zero
 * loss and zero gradient.
 *
 * The gradient (softmax − target)/N is computed in the forward pass and kept; the backward only scales it
 * by the incoming scalar gradient, on the GPU.
 */
export function crossEntropy(logits: Tensor, labels: Tensor, opts: CrossEntropyOptions = {}): Tensor {
  const eps = opts.labelSmoothing ?? 0;
  if (logits.rank !== 2) throw new ShapeError(`crossEntropy: logits ${shapeText(logits.shape)} must be [N, C].`);
  const [N, C] = logits.shape as [number, number];
  if (labels.rank !== 1 || labels.shape[0] !== N) {
    throw new ShapeError(`crossEntropy: labels ${shapeText(labels.shape)} must be [${N}] for logits ${shapeText(logits.shape)}.`);
  }
  if (N === 0 || C === 0) throw new ShapeError(`crossEntropy: logits ${shapeText(logits.shape)} are empty.`);
  if (!(eps >= 0 && eps <= 1)) throw new RangeError(`crossEntropy: label smoothing must be in [0, 1], got ${eps}.`);
  const ctx = logits.ctx;
  const loss = Tensor.empty(ctx, []);
  const rowLoss = Tensor.empty(ctx, [N]);
  // Only a recorded op will ever use the gradient; otherwise the cheaper loss-only kernel runs.
  const keepGrad = logits.requiresGrad && activeTape(ctx) !== undefined;
  const grad = keepGrad ? Tensor.empty(ctx, [N, C]) : null;
  crossEntropyForward(ctx, logits, labels, rowLoss, loss, grad, N, C, eps);
  rowLoss.dispose(); // consumed by the sum recorded just above; later reuse runs after it
  // Labels are left out of the node's inputs: nothing flows to them.
  record('crossEntropy', [logits], [loss], ([g]) => {
    const dLogits = Tensor.empty(ctx, logits.shape);
    mul(ctx, grad!, g!, dLogits);
    return [dLogits];
  });
  return loss;
}
