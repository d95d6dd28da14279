// The flat parameter store (after llm.c): every trainable tensor lives in ONE GPU buffer and its gradient
// at the same offset in a second buffer, so the optimizer is one dispatch and zeroing gradients one clear.
import type { BufferRange, GpuContext } from '../gpu/context';
import { ShapeError } from '../gpu/errors';
import { numel, shapeText, Tensor } from './tensor';

/** Tensor views must be bound at multiples of 256 bytes, so every slot starts on a 64-float boundary. */
export const SLOT_ALIGN_FLOATS = 64;

export interface ParameterSpec {
  name: string;
  shape: number[];
  /** Whether weight decay applies to this tensor (AdamW / SGD). */
  decay: boolean;
  /** false: a frozen tensor, stored apart with no gradient or optimizer state (default true). */
  requiresGrad?: boolean;
}

/** Where one tensor lives: `offset` in floats from the start of its buffer (a multiple of 64). */
export interface ParameterSlot {
  readonly name: string;
  readonly shape: readonly number[];
  readonly decay: boolean;
  readonly trainable: boolean;
  /** For frozen tensors, which frozen buffer holds it; 0 for trainable ones. */
  readonly chunk: number;
  readonly offset: number;
  readonly size: number;
}

export interface ParameterStoreOptions {
  /**
   * Largest frozen buffer, in bytes (default: the device's binding and buffer limits). Frozen tensors are
   * never bound all at once, so a backbone larger than one binding is split over several buffers.
   */
  maxFrozenChunkBytes?: number;
}

const alignUp = (n: number, to: number): number => Math.ceil(n / to) * to;

/**
 * Where each trainable tensor sits in the flat buffers (values, gradients, optimizer moments): decayed
 * tensors first, each slot on a 64-float boundary. A pure function of the specs, so a checkpoint's flat
 * moments can be mapped to tensors without a GPU (src/io/checkpoint-file.ts).
 */
export function trainableLayout(specs: readonly ParameterSpec[]): { slots: ParameterSlot[]; floats: number; decayEnd: number } {
  const ordered = [...specs.filter((s) => s.decay), ...specs.filter((s) => !s.decay)];
  const slots: ParameterSlot[] = [];
  let cursor = 0;
  let decayEnd = 0;
  for (const spec of ordered) {
    const size = numel(spec.shape);
    slots.push({ name: spec.name, shape: [...spec.shape], decay: spec.decay, trainable: true, chunk: 0, offset: cursor, size });
    cursor = alignUp(cursor + size, SLOT_ALIGN_FLOATS);
    if (spec.decay) decayEnd = cursor;
  }
  return { slots, floats: cursor, decayEnd };
}

/**
 * Trainable parameters, their gradients, and frozen weights, on the GPU.
 *
 * Layout of the trainable buffer (the gradient buffer, and an optimizer's moment buffers, share it):
 *
 *   [ decayed tensors … | decayEnd | non-decayed tensors … | floats ]
 *
 * Each tensor starts at a multiple of 64 floats; the gaps between tensors and the tail up to `floats` are
 * padding that holds zeros in every buffer (zero value, zero gradient, zero moments stay zero under AdamW
 * and SGD). Decayed tensors come first so an optimizer applies weight decay to the index range
 * [0, decayEnd) and to nothing after it. `floats` and `decayEnd` are multiples of 64, so the optimizer
 * works in vec4 over the whole buffer.
 *
 * Frozen tensors (requiresGrad false) live in separate buffers with no gradient or optimizer storage.
 */
export class ParameterStore {
  /** Length of the trainable, gradient (and moment) buffers in floats, padding included. */
  readonly floats: number;
  /** Weight decay applies to flat indices [0, decayEnd). */
  readonly decayEnd: number;
  /** Trainable elements, padding excluded. */
  readonly trainableParameterCount: number;
  /** Frozen elements. */
  readonly frozenParameterCount: number;

  private readonly slotByName: Map<string, ParameterSlot>;
  private readonly tensors = new Map<string, Tensor>();
  private readonly gradViews = new Map<string, Tensor>();
  private disposed = false;

  private constructor(
    readonly ctx: GpuContext,
    /** Slots in spec order. */
    readonly slots: readonly ParameterSlot[],
    layout: { floats: number; decayEnd: number },
    readonly paramBuffer: GPUBuffer,
    readonly gradBuffer: GPUBuffer,
    readonly frozenBuffers: readonly GPUBuffer[],
  ) {
    this.floats = layout.floats;
    this.decayEnd = layout.decayEnd;
    this.slotByName = new Map(slots.map((s) => [s.name, s]));
    this.trainableParameterCount = slots.filter((s) => s.trainable).reduce((t, s) => t + s.size, 0);
    this.frozenParameterCount = slots.filter((s) => !s.trainable).reduce((t, s) => t + s.size, 0);
    for (const slot of slots) {
      const buffer = slot.trainable ? paramBuffer : frozenBuffers[slot.chunk]!;
      const tensor = new Tensor(ctx, slot.shape, buffer, slot.offset * 4, false, slot.trainable);
      tensor.name = slot.name;
      if (slot.trainable) {
        const grad = new Tensor(ctx, slot.shape, gradBuffer, slot.offset * 4, false, false);
        grad.name = `${slot.name}.grad`;
        // The tape adds into a preset `.grad`, so backward accumulates straight into the flat buffer.
        tensor.grad = grad;
        this.gradViews.set(slot.name, grad);
      }
      this.tensors.set(slot.name, tensor);
    }
  }

  /**
   * Lays out the specs and allocates the buffers. Every size is checked against the device limits before
   * anything is allocated, so an oversized model fails at once with the limit named (GpuLimitError).
   */
  static async create(ctx: GpuContext, specs: readonly ParameterSpec[], options: ParameterStoreOptions = {}): Promise<ParameterStore> {
    const seen = new Set<string>();
    for (const spec of specs) {
      if (seen.has(spec.name)) throw new Error(`ParameterStore: the name "${spec.name}" is used twice.`);
      seen.add(spec.name);
      numel(spec.shape); // throws ShapeError on a malformed shape
    }
    const trainable = specs.filter((s) => s.requiresGrad !== false);
    const layout = trainableLayout(trainable);
    const slotOf = new Map<string, ParameterSlot>(layout.slots.map((s) => [s.name, s]));
    const { floats, decayEnd } = layout;

    const limits = ctx.limits;
    const chunkLimit = Math.min(options.maxFrozenChunkBytes ?? Infinity, limits.maxStorageBufferBindingSize, limits.maxBufferSize);
    const chunkFloats: number[] = [];
    for (const spec of specs.filter((s) => s.requiresGrad === false)) {
      const size = numel(spec.shape);
      const bytes = size * 4;
      ctx.pool.checkSize(bytes, `The frozen tensor "${spec.name}" ${shapeText(spec.shape)}`);
      if (bytes > chunkLimit) throw new Error(`The frozen tensor "${spec.name}" (${bytes} bytes) is larger than the frozen chunk size of ${chunkLimit} bytes.`);
      // Next-fit packing in spec order keeps one model's frozen weights in as few buffers as the limit allows.
      let chunk = chunkFloats.length - 1;
      if (chunk < 0 || (alignUp(chunkFloats[chunk]!, SLOT_ALIGN_FLOATS) + size) * 4 > chunkLimit) {
        chunkFloats.push(0);
        chunk++;
      }
      const offset = alignUp(chunkFloats[chunk]!, SLOT_ALIGN_FLOATS);
      chunkFloats[chunk] = offset + size;
      slotOf.set(spec.name, { name: spec.name, shape: [...spec.shape], decay: spec.decay, trainable: false, chunk, offset, size });
    }

    // Trainable and gradient buffers have the same size: one check covers both (and an optimizer's moments).
    const flatBytes = Math.max(256, floats * 4);
    ctx.pool.checkSize(flatBytes, `The flat trainable-parameter buffer (${trainable.length} tensors)`);

    const allocated: GPUBuffer[] = [];
    try {
      const paramBuffer = await ctx.pool.acquireChecked(flatBytes, 'flat trainable parameters');
      allocated.push(paramBuffer);
      const gradBuffer = await ctx.pool.acquireChecked(flatBytes, 'flat parameter gradients');
      allocated.push(gradBuffer);
      const frozenBuffers: GPUBuffer[] = [];
      for (const [i, n] of chunkFloats.entries()) {
        const buffer = await ctx.pool.acquireChecked(Math.max(256, n * 4), `frozen parameters (buffer ${i + 1} of ${chunkFloats.length})`);
        allocated.push(buffer);
        frozenBuffers.push(buffer);
      }
      const slots = specs.map((s) => slotOf.get(s.name)!);
      return new ParameterStore(ctx, slots, { floats, decayEnd }, paramBuffer, gradBuffer, frozenBuffers);
    } catch (error) {
      for (const buffer of allocated) ctx.pool.release(buffer);
      throw error;
    }
  }

  private ensureAlive(): void {
    if (this.disposed) throw new Error('This ParameterStore was disposed.');
  }

  private slot(name: string): ParameterSlot {
    const slot = this.slotByName.get(name);
    if (!slot) throw new Error(`ParameterStore: no parameter named "${name}".`);
    return slot;
  }

  /** The tensor (a view into its flat buffer); trainable ones have `.grad` preset to their gradient slot. */
  get(name: string): Tensor {
    this.ensureAlive();
    this.slot(name);
    return this.tensors.get(name)!;
  }

  has(name: string): boolean {
    return this.slotByName.has(name);
  }

  /** Every name, in spec order. */
  names(): string[] {
    return this.slots.map((s) => s.name);
  }

  slotOf(name: string): ParameterSlot {
    return this.slot(name);
  }

  /** The whole trainable buffer as one binding (padding included). */
  get paramRange(): BufferRange {
    return { buffer: this.paramBuffer, byteOffset: 0, byteLength: this.floats * 4 };
  }

  /** The whole gradient buffer as one binding (same layout as paramRange). */
  get gradRange(): BufferRange {
    return { buffer: this.gradBuffer, byteOffset: 0, byteLength: this.floats * 4 };
  }

  /** Bytes of the trainable buffer (the gradient buffer is as large; AdamW adds two more). */
  get trainableBytes(): number {
    return this.paramBuffer.size;
  }

  get gradBytes(): number {
    return this.gradBuffer.size;
  }

  get frozenBytes(): number {
    return this.frozenBuffers.reduce((t, b) => t + b.size, 0);
  }

  /**
   * Zeroes every gradient with one clear of the flat buffer, recorded in order with the dispatches.
   * Also re-points each trainable tensor's `.grad` at its slot, in case something replaced it.
   */
  zeroGrad(): void {
    this.ensureAlive();
    if (this.floats > 0) this.ctx.clear(this.gradRange);
    for (const [name, grad] of this.gradViews) this.tensors.get(name)!.grad = grad;
  }

  /** Writes a tensor's values; padding around it is left untouched (zero). */
  upload(name: string, data: Float32Array): void {
    const tensor = this.get(name);
    if (data.length !== tensor.size) {
      throw new ShapeError(`upload: ${data.length} values do not fill "${name}" ${shapeText(tensor.shape)} (${tensor.size} values).`);
    }
    const owned = data.buffer instanceof ArrayBuffer ? (data as Float32Array<ArrayBuffer>) : new Float32Array(data);
    if (tensor.size > 0) this.ctx.write(tensor, owned);
  }

  async read(name: string): Promise<Float32Array<ArrayBuffer>> {
    return this.get(name).read();
  }

  /** A trainable tensor's accumulated gradient. */
  async readGrad(name: string): Promise<Float32Array<ArrayBuffer>> {
    this.ensureAlive();
    const grad = this.gradViews.get(name);
    if (!grad) throw new Error(`ParameterStore: "${name}" is frozen and has no gradient.`);
    return grad.read();
  }

  /** Every tensor's values, read back in one submission, keyed by name in spec order. */
  async readAll(): Promise<Map<string, Float32Array<ArrayBuffer>>> {
    this.ensureAlive();
    const names = this.names();
    const nonEmpty = names.filter((n) => this.tensors.get(n)!.size > 0);
    const data = await this.ctx.readMany(nonEmpty.map((n) => this.tensors.get(n)!));
    const byName = new Map(nonEmpty.map((n, i) => [n, data[i]!]));
    return new Map(names.map((n) => [n, byName.get(n) ?? new Float32Array(0)]));
  }

  /** Gives the buffers back to the pool (pool.trim() frees them); the tensors become unusable. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const t of this.tensors.values()) t.dispose();
    for (const g of this.gradViews.values()) g.dispose();
    this.ctx.pool.release(this.paramBuffer);
    this.ctx.pool.release(this.gradBuffer);
    for (const b of this.frozenBuffers) this.ctx.pool.release(b);
  }
}
