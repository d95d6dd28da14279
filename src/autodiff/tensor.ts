import type { BufferRange, GpuContext } from '../gpu/context';
import { ShapeError, shapeText } from '../gpu/errors';
import { halvesToFloats, toHalfBits } from '../io/f16';
import type { Node, Tape } from './tape';

const activeTapes = new WeakMap<GpuContext, Tape>();

export function activeTape(ctx: GpuContext): Tape | undefined {
  return activeTapes.get(ctx);
}
export function setActiveTape(ctx: GpuContext, tape: Tape | undefined): void {
  if (tape) activeTapes.set(ctx, tape);
  else activeTapes.delete(ctx);
}

export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) throw new ShapeError(`Invalid shape ${shapeText(shape)}: dimensions must be whole numbers ≥ 0.`);
    n *= d;
  }
  return n;
}

export { shapeText };

/** Element type on the GPU: f32, or f16 for mixed-precision activations (adapter `shader-f16`). */
export type DType = 'f32' | 'f16';

/** Bytes a tensor of `size` elements takes: f16 rounds up to 4 (storage bindings are sized in 4-byte units). */
function byteLengthOf(size: number, dtype: DType): number {
  return dtype === 'f16' ? Math.ceil(size / 2) * 4 : size * 4;
}

/**
 * A tensor resident on the GPU (f32, or f16 in mixed precision): a whole pooled buffer, or a view into a larger buffer (a slot of the
 * flat parameter buffer). Data only comes back through `read()`, which is asynchronous.
 */
export class Tensor implements BufferRange {
  readonly size: number;
  readonly byteLength: number;
  requiresGrad: boolean;
  /** Accumulated gradient, once backward has reached this tensor. */
  grad: Tensor | null = null;
  /** The op that produced this tensor on the active tape, if it was recorded. */
  node: Node | null = null;
  name: string | undefined;
  /** For a view of a pooled tensor: the tensor that owns the buffer. */
  base: Tensor | undefined;
  private disposed = false;

  constructor(
    readonly ctx: GpuContext,
    readonly shape: readonly number[],
    readonly buffer: GPUBuffer,
    readonly byteOffset: number,
    /** Pooled tensors own their buffer and give it back on dispose; views never do. */
    readonly pooled: boolean,
    requiresGrad = false,
    readonly dtype: DType = 'f32',
  ) {
    this.size = numel(shape);
    this.byteLength = byteLengthOf(this.size, dtype);
    this.requiresGrad = requiresGrad;
    if (byteOffset % 256 !== 0) throw new ShapeError(`A tensor view must start at a multiple of 256 bytes (got ${byteOffset}).`);
  }

  /** A new uninitialised tensor from the pool, owned by the active tape if there is one. */
  static empty(ctx: GpuContext, shape: readonly number[], what?: string, dtype: DType = 'f32'): Tensor {
    const bytes = Math.max(4, byteLengthOf(numel(shape), dtype));
    const tensor = new Tensor(ctx, shape, ctx.pool.acquire(bytes, what), 0, true, false, dtype);
    activeTape(ctx)?.track(tensor);
    return tensor;
  }

  /** A new uninitialised tensor with `like`'s element type (its shape unless another is given). */
  static like(like: Tensor, shape: readonly number[] = like.shape, what?: string): Tensor {
    return Tensor.empty(like.ctx, shape, what, like.dtype);
  }

  static zeros(ctx: GpuContext, shape: readonly number[]): Tensor {
    const tensor = Tensor.empty(ctx, shape);
    ctx.clear(tensor);
    return tensor;
  }

  static fromData(ctx: GpuContext, shape: readonly number[], data: ArrayLike<number>, dtype: DType = 'f32'): Tensor {
    const n = numel(shape);
    if (data.length !== n) throw new ShapeError(`Data of length ${data.length} does not fill shape ${shapeText(shape)} (${n} values).`);
    const tensor = Tensor.empty(ctx, shape, undefined, dtype);
    if (dtype === 'f16') {
      const halves = new Uint16Array(tensor.byteLength / 2);
      for (let i = 0; i < n; i++) halves[i] = toHalfBits(data[i]!);
      ctx.write(tensor, halves);
    } else {
      ctx.write(tensor, data instanceof Float32Array ? (data as Float32Array<ArrayBuffer>) : Float32Array.from(data));
    }
    return tensor;
  }

  get rank(): number {
    return this.shape.length;
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  /** Same data, another shape with the same element count; not recorded (ops.reshape is the differentiable one). */
  view(shape: readonly number[]): Tensor {
    if (numel(shape) !== this.size) throw new ShapeError(`Cannot reshape ${shapeText(this.shape)} to ${shapeText(shape)}: the element counts differ.`);
    const view = new Tensor(this.ctx, shape, this.buffer, this.byteOffset, false, this.requiresGrad, this.dtype);
    view.name = this.name;
    view.base = this.base ?? (this.pooled ? this : undefined);
    return view;
  }

  /** The values as f32 (an f16 tensor is widened on the CPU). */
  async read(): Promise<Float32Array<ArrayBuffer>> {
    if (this.disposed) throw new Error(`Tensor ${this.name ?? shapeText(this.shape)} was already released.`);
    const raw = await this.ctx.read(this);
    if (this.dtype === 'f32') return raw;
    return halvesToFloats(new Uint16Array(raw.buffer, 0, this.size)) as Float32Array<ArrayBuffer>;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    if (this.pooled) this.ctx.pool.release(this.buffer);
  }
}
