// What model loaders need from a weights file, whatever its format: names, shapes, metadata and each
// tensor as f32 on demand (so a large file is never held whole). A safetensors file is one; PyTorch `.pth`
// checkpoints (pth.ts) are read into the same shape.
import { openPth } from './pth';
import { openSafetensors, type ByteSource } from './safetensors';

export interface WeightsFile {
  /** String metadata (safetensors `__metadata__`; empty where the format has none). */
  readonly metadata: Record<string, string>;
  /** Every tensor's shape, in file order. */
  readonly tensors: ReadonlyMap<string, { readonly shape: readonly number[] }>;
  names(): string[];
  has(name: string): boolean;
  /** The tensor as f32 (floating-point types converted). */
  readF32(name: string): Promise<Float32Array<ArrayBuffer>>;
}

/** name → shape of every tensor, the form the model configurations are read from. */
export function shapesOf(file: WeightsFile): Map<string, readonly number[]> {
  return new Map([...file.tensors].map(([name, info]) => [name, info.shape] as const));
}

/** Opens a weights file by its content (not its name): a zip or a pickle is a PyTorch checkpoint, anything else safetensors. */
export async function openWeightsFile(source: ByteSource): Promise<WeightsFile> {
  const head = await source.read(0, Math.min(source.size, 2));
  const zip = head[0] === 0x50 && head[1] === 0x4b;
  const pickle = head[0] === 0x80 && head[1] !== undefined && head[1] >= 2 && head[1] <= 5;
  return zip || pickle ? openPth(source) : openSafetensors(source);
}
