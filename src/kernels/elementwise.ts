import { f32, type BufferRange, type GpuContext } from '../gpu/context';
import { ShapeError } from '../gpu/errors';
import { grid1d } from './grid';

// Launchers for shaders/elementwise*.wgsl. Sizes are in elements; buffers are f32.
const WG = 256;
const n = (r: BufferRange): number => r.byteLength / 4;

function same(what: string, a: BufferRange, b: BufferRange): void {
  if (n(a) !== n(b)) throw new ShapeError(`${what}: operands have ${n(a)} and ${n(b)} elements.`);
}

/** out = alpha·a + beta·b, with b repeating every `n(b)` elements (bias broadcast over leading dims). */
export function axpby(ctx: GpuContext, a: BufferRange, b: BufferRange, out: BufferRange, alpha: number, beta: number): void {
  same('axpby', a, out);
  if (n(a) % n(b) !== 0) throw new ShapeError(`axpby: ${n(b)} elements do not tile ${n(a)}.`);
  ctx.dispatch({ shader: 'elementwise', entry: 'axpby' }, [n(a), n(b), f32(alpha), f32(beta)], [a, b, out], grid1d(n(a), WG));
}

/** out = alpha·a·b, with b broadcast as in axpby. */
export function mul(ctx: GpuContext, a: BufferRange, b: BufferRange, out: BufferRange, alpha = 1): void {
  same('mul', a, out);
  if (n(a) % n(b) !== 0) throw new ShapeError(`mul: ${n(b)} elements do not tile ${n(a)}.`);
  ctx.dispatch({ shader: 'elementwise', entry: 'mul' }, [n(a), n(b), f32(alpha), f32(0)], [a, b, out], grid1d(n(a), WG));
}

/** out = gelu'(x)·grad */
export function geluBackward(ctx: GpuContext, x: BufferRange, grad: BufferRange, out: BufferRange): void {
  same('geluBackward', x, grad);
  same('geluBackward', x, out);
  ctx.dispatch({ shader: 'elementwise', entry: 'gelu_backward' }, [n(x), n(x), f32(1), f32(0)], [x, grad, out], grid1d(n(x), WG));
}

export function fill(ctx: GpuContext, dst: BufferRange, value: number): void {
  ctx.dispatch({ shader: 'elementwise_unary', entry: 'fill' }, [n(dst), n(dst), f32(value), f32(0)], [dst], grid1d(n(dst), WG));
}

/** dst += alpha·src (gradient accumulation). */
export function addInto(ctx: GpuContext, dst: BufferRange, src: BufferRange, alpha = 1): void {
  same('addInto', dst, src);
  ctx.dispatch({ shader: 'elementwise_unary', entry: 'add_into' }, [n(dst), n(dst), f32(alpha), f32(0)], [dst, src], grid1d(n(dst), WG));
}

/** dst = alpha·src */
export function scaleInto(ctx: GpuContext, src: BufferRange, dst: BufferRange, alpha: number): void {
  same('scale', dst, src);
  ctx.dispatch({ shader: 'elementwise_unary', entry: 'scale' }, [n(dst), n(dst), f32(alpha), f32(0)], [dst, src], grid1d(n(dst), WG));
}

/** dst = gelu(src) */
export function geluForward(ctx: GpuContext, src: BufferRange, dst: BufferRange): void {
  same('gelu', dst, src);
  ctx.dispatch({ shader: 'elementwise_unary', entry: 'gelu_forward' }, [n(dst), n(dst), f32(1), f32(0)], [dst, src], grid1d(n(dst), WG));
}

/** dst[offset + i] += alpha·src[i] for every element of src (offset in elements). */
export function addAt(ctx: GpuContext, dst: BufferRange, src: BufferRange, offset: number, alpha = 1): void {
  if (offset + n(src) > n(dst)) throw new ShapeError(`addAt: ${n(src)} elements at offset ${offset} run past ${n(dst)}.`);
  ctx.dispatch({ shader: 'elementwise_unary', entry: 'add_at' }, [n(src), offset, f32(alpha), f32(0)], [dst, src], grid1d(n(src), WG));
}
