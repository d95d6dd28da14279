import type { BufferRange } from '../gpu/context';
import type { StorageType } from '../gpu/pipelines';

// Launchers see buffers as BufferRanges; an f16 tensor (src/autodiff/tensor.ts) says so through `dtype`
// and its element count through `size` (its byteLength is rounded up to 4 bytes).
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
