import { f32, type BufferRange, type GpuContext } from '../gpu/context';
import { ShapeError } from '../gpu/errors';
import { grid1d } from './grid';
import { elementsOf, storageMap, storageOf } from './storage';

// Launchers for shaders/elementwise*.wgsl and shaders/cast.wgsl. Sizes are in elements; buffers are f32,
// or f16 tensors in mixed precision (each binding's storage type follows its buffer; arithmetic is f32).
const WG = 256;
const n = elementsOf;

const binary = (entry: string, a: BufferRange, b: BufferRange, out: BufferRange) => ({
  shader: 'elementwise',
  entry,
  storage: storageMap({ a_t: storageOf(a), b_t: storageOf(b), out_t: storageOf(out) }),
});
const unary = (entry: string, dst: BufferRange, src?: BufferRange) => {
  if (src && storageOf(src) !== storageOf(dst)) throw new ShapeError(`${entry}: source and destination differ in element type (${storageOf(src)}, ${storageOf(dst)}); cast first.`);
  return { shader: 'elementwise_unary', entry, storage: storageMap({ act: storageOf(dst) }) };
};

function same(what: string, a: BufferRange, b: BufferRange): void {
  if (n(a) !== n(b)) throw new ShapeError(`${what}: operands have ${n(a)} and ${n(b)} elements.`);
}

/** out = alpha·a + beta·b, with b repeating every `n(b)` elements (bias broadcast over leading dims). */
export function axpby(ctx: GpuContext, a: BufferRange, b: BufferRange, out: BufferRange, alpha: number, beta: number): void {
  same('axpby', a, out);
  if (n(a) % n(b) !== 0) throw new ShapeError(`axpby: ${n(b)} elements do not tile ${n(a)}.`);
  ctx.dispatch(binary('axpby', a, b, out), [n(a), n(b), f32(alpha), f32(beta)], [a, b, out], grid1d(n(a), WG));
}

/** out = alpha·a·b, with b broadcast as in axpby. */
export function mul(ctx: GpuContext, a: BufferRange, b: BufferRange, out: BufferRange, alpha = 1): void {
  same('mul', a, out);
  if (n(a) % n(b) !== 0) throw new ShapeError(`mul: ${n(b)} elements do not tile ${n(a)}.`);
  ctx.dispatch(binary('mul', a, b, out), [n(a), n(b), f32(alpha), f32(0)], [a, b, out], grid1d(n(a), WG));
}

/** out = gelu'(x)·grad */
export function geluBackward(ctx: GpuContext, x: BufferRange, grad: BufferRange, out: BufferRange): void {
  same('geluBackward', x, grad);
  same('geluBackward', x, out);
  ctx.dispatch(binary('gelu_backward', x, grad, out), [n(x), n(x), f32(1), f32(0)], [x, grad, out], grid1d(n(x), WG));
}

/** out = grad where y > 0, else 0: ReLU's backward from its output y. */
export function reluBackward(ctx: GpuContext, y: BufferRange, grad: BufferRange, out: BufferRange): void {
  same('reluBackward', y, grad);
  same('reluBackward', y, out);
  ctx.dispatch(binary('relu_backward', y, grad, out), [n(y), n(y), f32(1), f32(0)], [y, grad, out], grid1d(n(y), WG));
}

export function fill(ctx: GpuContext, dst: BufferRange, value: number): void {
  ctx.dispatch(unary('fill', dst), [n(dst), n(dst), f32(value), f32(0)], [dst], grid1d(n(dst), WG));
}

/** dst += alpha·src (gradient accumulation). */
export function addInto(ctx: GpuContext, dst: BufferRange, src: BufferRange, alpha = 1): void {
  same('addInto', dst, src);
  ctx.dispatch(unary('add_into', dst, src), [n(dst), n(dst), f32(alpha), f32(0)], [dst, src], grid1d(n(dst), WG));
}

/** dst = alpha·src */
export function scaleInto(ctx: GpuContext, src: BufferRange, dst: BufferRange, alpha: number): void {
  same('scale', dst, src);
  ctx.dispatch(unary('scale', dst, src), [n(dst), n(dst), f32(alpha), f32(0)], [dst, src], grid1d(n(dst), WG));
}

/** dst = gelu(src) */
export function geluForward(ctx: GpuContext, src: BufferRange, dst: BufferRange): void {
  same('gelu', dst, src);
  ctx.dispatch(unary('gelu_forward', dst, src), [n(dst), n(dst), f32(1), f32(0)], [dst, src], grid1d(n(dst), WG));
}

/** dst[offset + i] += alpha·src[i] for every element of src (offset in elements). */
export function addAt(ctx: GpuContext, dst: BufferRange, src: BufferRange, offset: number, alpha = 1): void {
  if (offset + n(src) > n(dst)) throw new ShapeError(`addAt: ${n(src)} elements at offset ${offset} run past ${n(dst)}.`);
  ctx.dispatch(unary('add_at', dst, src), [n(src), offset, f32(alpha), f32(0)], [dst, src], grid1d(n(src), WG));
}

/** dst = src converted to dst's element type (f32 ↔ f16; same types copy). */
export function castInto(ctx: GpuContext, src: BufferRange, dst: BufferRange): void {
  same('cast', src, dst);
  ctx.dispatch({ shader: 'cast', entry: 'convert', storage: storageMap({ src_t: storageOf(src), dst_t: storageOf(dst) }) }, [n(dst), n(dst), f32(0), f32(0)], [src, dst], grid1d(n(dst), WG));
}
