// Loads timm ViT weights from a safetensors file onto the GPU, one tensor at a time: only one tensor's
// bytes are on the CPU at once, so a 346 MB ViT-B file is never held twice.
import { ParameterStore, type ParameterSpec } from '../autodiff/params';
import type { GpuContext } from '../gpu/context';
import type { SafetensorsFile } from '../io/safetensors';
import type { WeightsFile } from '../io/weights-file';
import { decays, vitConfigFromShapes, vitShapes, type VitConfig } from './vit';

export interface LoadVitOptions {
  /** Attention heads (overrides `__metadata__.num_heads`). */
  heads?: number;
  /** Which tensors train (default: none, a frozen backbone). */
  trainable?: (name: string) => boolean;
  /** Leave the stored head out (a new task brings its own). Default false. */
  dropHead?: boolean;
  /** Called after each tensor is uploaded with bytes done and bytes in all. */
  onProgress?: (done: number, total: number) => void;
}

export interface LoadedVit {
  cfg: VitConfig;
  store: ParameterStore;
}

/** Heads from the option, else the file's `__metadata__.num_heads`, else the default rule in vitConfigFromShapes. */
export function headsFor(file: WeightsFile, option?: number): number | undefined {
  if (option !== undefined) return option;
  const meta = file.metadata.num_heads;
  if (meta === undefined) return undefined;
  const n = Number(meta);
  return Number.isInteger(n) && n > 0 ? n : undefined;
}

export async function loadVit(ctx: GpuContext, file: SafetensorsFile, opts: LoadVitOptions = {}): Promise<LoadedVit> {
  const shapes = new Map([...file.tensors].map(([name, info]) => [name, info.shape] as const));
  let cfg = vitConfigFromShapes(shapes, headsFor(file, opts.heads));
  if (opts.dropHead) cfg = { ...cfg, classes: 0 };
  const trainable = opts.trainable ?? (() => false);
  const specs: ParameterSpec[] = [...vitShapes(cfg)].map(([name, shape]) => ({ name, shape, decay: decays(name, shape), requiresGrad: trainable(name) }));
  const store = await ParameterStore.create(ctx, specs);
  try {
    const total = specs.reduce((sum, s) => sum + file.tensors.get(s.name)!.end - file.tensors.get(s.name)!.begin, 0);
    let done = 0;
    for (const spec of specs) {
      store.upload(spec.name, await file.readF32(spec.name));
      const info = file.tensors.get(spec.name)!;
      done += info.end - info.begin;
      opts.onProgress?.(done, total);
    }
  } catch (error) {
    store.dispose();
    throw error;
  }
  return { cfg, store };
}
