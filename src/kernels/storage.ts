import type { BufferRange } from '../gpu/context';
import { ShapeError } from '../gpu/errors';
import type { StorageType } from '../gpu/pipelines';

// What a BufferRange is to a launcher: its element type and count, its vec4 extent, and size checks.
// An f16 tensor (src/autodiff/tensor.ts) says so through `dtype` and its element count through `size` (its
// byteLength is rounded up to 4 bytes).
interface Typed {
  dtype?: string;
  size?: number;
}

/** Element type of a buffer range: f16 only for f16 tensors. */
export function storageOf(r: BufferRange): StorageType {
  return (r as Typed).dtype === 'f16' ? 'f16' : 'f32';
}

/** Element count of a buffer range (f32 ranges: byteLength / 4). */
export function elementsOf(r: BufferRange): number {
  const t = r as Typed;
  return t.dtype === 'f16' ? t.size! : r.byteLength / 4;
}

/** A spec's storage map with only the f16 entries (an all-f32 kernel keeps its plain cache key). */
export function storageMap(types: Record<string, StorageType>): Record<string, StorageType> | undefined {
  const f16 = Object.entries(types).filter(([, t]) => t === 'f16');
  return f16.length ? Object.fromEntries(f16) : undefined;
}

/** Throws a ShapeError naming the operand (`what`, e.g. "clora: the bank") when `r` holds fewer than `want` elements. */
export function expectAtLeast(what: string, r: BufferRange, want: number): void {
  if (elementsOf(r) < want) throw new ShapeError(`${what} has ${elementsOf(r)} elements, needs at least ${want}.`);
}

/**
 * The range extended to a whole number of vec4s, for kernels that read an operand as a vec4 array; the
 * buffer must have room for it (pooled buffers are sized in 16-byte steps).
 */
export function vec4Range(r: BufferRange, what: string): BufferRange {
  const byteLength = Math.ceil(r.byteLength / 16) * 16;
  if (byteLength === r.byteLength) return r;
  if (r.byteOffset + byteLength > r.buffer.size) {
    throw new Error(`${what} ends ${r.byteOffset + r.byteLength} bytes into a ${r.buffer.size}-byte buffer; the kernel reads it as vec4s and needs its buffer padded to 16 bytes.`);
  }
  return { buffer: r.buffer, byteOffset: r.byteOffset, byteLength };
}
