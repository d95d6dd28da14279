// Reductions over one axis: forward and backward side by side.
import { ShapeError } from '../../gpu/errors';
import { broadcastAxis, sumAxis } from '../../kernels/reduce';
import { record } from '../tape';
import { shapeText, Tensor } from '../tensor';

const product = (s: readonly number[]): number => s.reduce((p, d) => p * d, 1);

function reduce(op: string, x: Tensor, axis: number, alpha: (len: number) => number): Tensor {
  const ax = axis < 0 ? x.rank + axis : axis;
  if (ax < 0 || ax >= x.rank) throw new ShapeError(`${op}: axis ${axis} is out of range for shape ${shapeText(x.shape)}.`);
  const outer = product(x.shape.slice(0, ax));
  const len = x.shape[ax]!;
  const inner = product(x.shape.slice(ax + 1));
  const a = alpha(len);
  const out = Tensor.empty(x.ctx, x.shape.filter((_, i) => i !== ax));
  sumAxis(x.ctx, x, out, outer, len, inner, a);
  record(op, [x], [out], ([g]) => {
    const gx = Tensor.empty(x.ctx, x.shape);
    broadcastAxis(x.ctx, g!, gx, outer, len, inner, a);
    return [gx];
  });
  return out;
}

export const sum = (x: Tensor, axis: number): Tensor => reduce('sum', x, axis, () => 1);
export const mean = (x: Tensor, axis: number): Tensor => reduce('mean', x, axis, (len) => 1 / len);
