// Elementwise ops: forward and backward side by side.
import { ShapeError } from '../../gpu/errors';
import * as k from '../../kernels/elementwise';
import { sumRows } from '../../kernels/reduce';
import { record } from '../tape';
import { shapeText, Tensor } from '../tensor';

function isSuffix(short: readonly number[], long: readonly number[]): boolean {
  if (short.length > long.length) return false;
  return short.every((d, i) => d === long[long.length - short.length + i]);
}

/** Sum of the leading broadcast blocks of g down to `shape` (backward of a suffix broadcast). */
function reduceToSuffix(g: Tensor, shape: readonly number[]): Tensor {
  const inner = shape.reduce((p, d) => p * d, 1);
  const out = Tensor.empty(g.ctx, shape);
  sumRows(g.ctx, g, out, g.size / inner, inner);
  return out;
}

/** a + b, where b's shape equals a's or is a suffix of it (bias broadcast). */
export function add(a: Tensor, b: Tensor): Tensor {
  if (!isSuffix(b.shape, a.shape)) throw new ShapeError(`add: ${shapeText(b.shape)} cannot be added to ${shapeText(a.shape)} (b must match a or its trailing dimensions).`);
  const out = Tensor.empty(a.ctx, a.shape);
  k.axpby(a.ctx, a, b, out, 1, 1);
  record('add', [a, b], [out], ([g]) => [g!, b.size === a.size ? g! : reduceToSuffix(g!, b.shape)]);
  return out;
}

/** a · b elementwise (same shapes). */
export function mul(a: Tensor, b: Tensor): Tensor {
  if (a.size !== b.size || a.rank !== b.rank) throw new ShapeError(`mul: shapes ${shapeText(a.shape)} and ${shapeText(b.shape)} differ.`);
  const out = Tensor.empty(a.ctx, a.shape);
  k.mul(a.ctx, a, b, out);
  record('mul', [a, b], [out], ([g]) => {
    const ga = a.requiresGrad ? Tensor.empty(a.ctx, a.shape) : null;
    const gb = b.requiresGrad ? Tensor.empty(b.ctx, b.shape) : null;
    if (ga) k.mul(a.ctx, g!, b, ga);
    if (gb) k.mul(a.ctx, g!, a, gb);
    return [ga, gb];
  });
  return out;
}

/** s · a */
export function scale(a: Tensor, s: number): Tensor {
  const out = Tensor.empty(a.ctx, a.shape);
  k.scaleInto(a.ctx, a, out, s);
  record('scale', [a], [out], ([g]) => {
    const ga = Tensor.empty(a.ctx, a.shape);
    k.scaleInto(a.ctx, g!, ga, s);
    return [ga];
  });
  return out;
}

/** Exact (erf) GELU. */
export function gelu(a: Tensor): Tensor {
  const out = Tensor.empty(a.ctx, a.shape);
  k.geluForward(a.ctx, a, out);
  record('gelu', [a], [out], ([g]) => {
    const ga = Tensor.empty(a.ctx, a.shape);
    k.geluBackward(a.ctx, a, g!, ga);
    return [ga];
  });
  return out;
}

/** Same data in another shape (no copy); gradients flow through. */
export function reshape(a: Tensor, shape: readonly number[]): Tensor {
  const out = a.view(shape);
  record('reshape', [a], [out], ([g]) => [g!.view(a.shape)]);
  return out;
}
