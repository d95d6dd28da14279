import { f32, type BufferRange, type GpuContext } from '../gpu/context';
import { ShapeError } from '../gpu/errors';
import { grid1d } from './grid';

// Launchers for the mini-PointNet's own kernels (clora-spec §4 tokenizer): shaders/group_max.wgsl (max over
// an axis and its backward), shaders/group_concat.wgsl ([global, per-point] concatenation) and
// shaders/batchnorm_fold.wgsl (BatchNorm in evaluation mode folded into the linear map before it). One
// thread per output element each, one program each: all f32. Index buffers hold u32.
const WG = 256;

/** Max over the middle axis: x viewed as [outer, stride, inner], over entries offset … offset + len − 1 → y, arg [outer, inner]. */
export function maxAlongInto(ctx: GpuContext, x: BufferRange, y: BufferRange, arg: BufferRange, outer: number, stride: number, offset: number, len: number, inner: number): void {
  if (len < 1 || offset + len > stride) throw new ShapeError(`max: entries ${offset} … ${offset + len - 1} do not fit an axis of ${stride}.`);
  const total = outer * inner;
  if (total === 0) return;
  ctx.dispatch({ shader: 'group_max', entry: 'max_forward' }, [total, stride, offset, len, inner], [x, y, arg], grid1d(total, WG));
}

/** Backward of maxAlongInto: dx [outer, stride, inner] holds dy at the picked entries and 0 elsewhere. */
export function maxAlongBackward(ctx: GpuContext, dy: BufferRange, arg: BufferRange, dx: BufferRange, outer: number, stride: number, offset: number, len: number, inner: number): void {
  const total = outer * stride * inner;
  if (total === 0) return;
  ctx.dispatch({ shader: 'group_max', entry: 'max_backward' }, [total, stride, offset, len, inner], [dy, arg, dx], grid1d(total, WG));
}

/** out [R, K, C1 + C2] = [g [R, C1] repeated over K, f [R, K, C2]]. */
export function concatGlobalInto(ctx: GpuContext, g: BufferRange, f: BufferRange, out: BufferRange, rows: number, k: number, c1: number, c2: number): void {
  const total = rows * k * (c1 + c2);
  if (total === 0) return;
  ctx.dispatch({ shader: 'group_concat', entry: 'concat_global' }, [total, k, c1, c2], [g, f, out], grid1d(total, WG));
}

/** dg [R, C1] = Σ_k dout[r, k, :C1]: the global half's gradient. */
export function concatGlobalBackward(ctx: GpuContext, dout: BufferRange, dg: BufferRange, rows: number, k: number, c1: number, c2: number): void {
  const total = rows * c1;
  if (total === 0) return;
  ctx.dispatch({ shader: 'group_concat', entry: 'concat_global_backward' }, [total, k, c1, c2], [dout, dg], grid1d(total, WG));
}

/** The BatchNorm vectors of one layer, each [O]. */
export interface BatchNormRanges {
  weight: BufferRange;
  bias: BufferRange;
  mean: BufferRange;
  variance: BufferRange;
}

/** W' [O, I] and b' [O] with BN(x·Wᵀ + b) = x·W'ᵀ + b' (evaluation mode). */
export function foldBatchNormInto(ctx: GpuContext, w: BufferRange, b: BufferRange, bn: BatchNormRanges, wOut: BufferRange, bOut: BufferRange, o: number, i: number, eps: number): void {
  const total = o * i;
  if (total === 0) return;
  ctx.dispatch({ shader: 'batchnorm_fold', entry: 'fold' }, [total, o, i, f32(eps)], [w, b, bn.weight, bn.bias, bn.mean, bn.variance, wOut, bOut], grid1d(total, WG));
}

/** dW [O, I] from dW'. */
export function foldBatchNormBackwardWeight(ctx: GpuContext, bn: BatchNormRanges, dwFolded: BufferRange, dw: BufferRange, o: number, i: number, eps: number): void {
  const total = o * i;
  if (total === 0) return;
  ctx.dispatch({ shader: 'batchnorm_fold', entry: 'fold_backward_weight' }, [total, o, i, f32(eps)], [bn.weight, bn.variance, dwFolded, dw], grid1d(total, WG));
}

/** [db | dγ | dβ] (3·O) from dW' and db'. */
export function foldBatchNormBackwardChannel(ctx: GpuContext, w: BufferRange, b: BufferRange, bn: BatchNormRanges, dwFolded: BufferRange, dbFolded: BufferRange, dChannel: BufferRange, o: number, i: number, eps: number): void {
  if (o === 0) return;
  ctx.dispatch({ shader: 'batchnorm_fold', entry: 'fold_backward_channel' }, [o, o, i, f32(eps)], [w, b, bn.weight, bn.mean, bn.variance, dwFolded, dbFolded, dChannel], grid1d(o, WG));
}
