// Elementwise ops: forward and backward side by side.
import { ShapeError } from '../../gpu/errors';
import * as k from '../../kernels/elementwise';
import { sumRows } from '../../kernels/reduce';
import { record } from '../tape';
import { shapeText, Tensor, type DType } from '../tensor';

function isSuffix(short: readonly number[], long: readonly number[]): boolean {
  if (short.length > long.length) return false;
  return short.every((d, i) => d === long[long.length - short.length + i]);
}

/** g in another element type (a fresh tensor), or g itself when it already has it. */
function asType(g: Tensor, dtype: DType): Tensor {
  if (g.dtype === dtype) return g;
  const out = Tensor.empty(g.ctx, g.shape, undefined, dtype);
  k.castInto(g.ctx, g, out);
  return out;
}

/** Sum of the leading broadcast blocks of g down to `shape` (backward of a suffix broadcast), in f32. */
function reduceToSuffix(g: Tensor, shape: readonly number[], dtype: DType): Tensor {
  const inner = shape.reduce((p, d) => p * d, 1);
  // The row sums run in f32: an f16 gradient is widened first.
  const wide = asType(g, 'f32');
  const out = Tensor.empty(g.ctx, shape);
  sumRows(g.ctx, wide, out, g.size / inner, inner);
  if (wide !== g) wide.dispose();
  const typed = asType(out, dtype);
  if (typed !== out) out.dispose();
  return typed;
}

/** a + b, where b's shape equals a's or is a suffix of it (bias broadcast); the result has a's element type. */
export function add(a: Tensor, b: Tensor): Tensor {
  if (!isSuffix(b.shape, a.shape)) throw new ShapeError(`add: ${shapeText(b.shape)} cannot be added to ${shapeText(a.shape)} (b must match a or its trailing dimensions).`);
  const out = Tensor.like(a);
  k.axpby(a.ctx, a, b, out, 1, 1);
  record('add', [a, b], [out], ([g]) => [g!, b.size === a.size ? asType(g!, b.dtype) : reduceToSuffix(g!, b.shape, b.dtype)]);
  return out;
}

/**
 * `a` converted to another element type (mixed precision: f32 ↔ f16); the gradient converts back. The
 * same type returns `a` itself.
 */
export function cast(a: Tensor, dtype: DType): Tensor {
  if (a.dtype === dtype) return a;
  const out = Tensor.empty(a.ctx, a.shape, undefined, dtype);
  k.castInto(a.ctx, a, out);
  record('cast', [a], [out], ([g]) => [asType(g!, a.dtype)]);
  return out;
}

/** a · b elementwise (same shapes). */
export function mul(a: Tensor, b: Tensor): Tensor {
  if (a.size !== b.size || a.rank !== b.rank) throw new ShapeError(`mul: shapes ${shapeText(a.shape)} and ${shapeText(b.shape)} differ.`);
  const out = Tensor.like(a);
  k.mul(a.ctx, a, b, out);
  record('mul', [a, b], [out], ([g]) => {
    const ga = a.requiresGrad ? Tensor.like(a) : null;
    const gb = b.requiresGrad ? Tensor.like(b) : null;
    if (ga) k.mul(a.ctx, g!, b, ga);
    if (gb) k.mul(a.ctx, g!, a, gb);
    return [ga, gb];
  });
  return out;
}

/** s · a */
export function scale(a: Tensor, s: number): Tensor {
  const out = Tensor.like(a);
  k.scaleInto(a.ctx, a, out, s);
  record('scale', [a], [out], ([g]) => {
    const ga = Tensor.like(a);
    k.scaleInto(a.ctx, g!, ga, s);
    return [ga];
  });
  return out;
}

/** Exact (erf) GELU. */
export function gelu(a: Tensor): Tensor {
  const out = Tensor.like(a);
  k.geluForward(a.ctx, a, out);
  record('gelu', [a], [out], ([g]) => {
    const ga = Tensor.like(a);
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
