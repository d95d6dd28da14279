// Resolves --model to a safetensors file: a local path, a URL (downloaded once into the cache), or a
// known model id from src/nn/models.ts.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { fetchCached } from '../io/download';
import { nodeWeightCache } from '../io/download-node';
import { openSafetensors, type SafetensorsFile } from '../io/safetensors';
import { fileSource, type FileSource } from '../io/safetensors-node';
import type { PreprocessParams } from '../data/preprocess';
import { headsFor } from '../nn/load';
import { findKnownModel, KNOWN_MODELS, type KnownModel } from '../nn/models';
import { vitConfigFromShapes, type VitConfig } from '../nn/vit';

export interface OpenedModel {
  file: SafetensorsFile;
  known: KnownModel | undefined;
  close(): Promise<void>;
}

export class UsageError extends Error {
  override name = 'UsageError';
}

function progressLine(label: string): (p: { loaded: number; total: number | undefined }) => void {
  let last = 0;
  return ({ loaded, total }) => {
    const now = Date.now();
    if (now - last < 500 && loaded !== total) return;
    last = now;
    const mb = (n: number): string => (n / 1e6).toFixed(1);
    process.stderr.write(`\r${label}: ${mb(loaded)}${total ? ` of ${mb(total)}` : ''} MB`);
    if (loaded === total) process.stderr.write('\n');
  };
}

export async function openModel(spec: string): Promise<OpenedModel> {
  const known = findKnownModel(spec);
  let path: string;
  if (existsSync(spec)) path = spec;
  else if (known?.bundled) path = fileURLToPath(new URL(`../../public${known.url}`, import.meta.url));
  else if (/^https?:\/\//.test(spec) || known) {
    const url = known?.url ?? spec;
    path = (await fetchCached(url, nodeWeightCache(), { onProgress: progressLine(`downloading ${url}`) })).data;
  } else {
    throw new UsageError(`--model ${spec}: no such file, and it is neither a URL nor a known model id (known: ${KNOWN_MODELS.map((m) => m.id).join(', ')}).`);
  }
  const source: FileSource = await fileSource(path);
  try {
    return { file: await openSafetensors(source), known, close: () => source.close() };
  } catch (error) {
    await source.close();
    throw error;
  }
}

export interface Backbone {
  spec: string;
  cfg: VitConfig;
  known: KnownModel | undefined;
  preprocess: PreprocessParams;
  /** One backbone tensor as f32 (read on demand, so the whole file is never held at once). */
  read(name: string): Promise<Float32Array>;
  /** Metadata worth carrying into adapter files. */
  describe(): Record<string, string>;
  close(): Promise<void>;
}

function parseTriple(text: string | undefined): [number, number, number] | undefined {
  if (!text) return undefined;
  const parts = text.replace(/[[\]\s]/g, '').split(',').map(Number);
  return parts.length === 3 && parts.every(Number.isFinite) ? (parts as [number, number, number]) : undefined;
}

/** Opens --model and reads its configuration and preprocessing (known-model table, then file metadata). */
export async function openBackbone(spec: string, heads?: number): Promise<Backbone> {
  const opened = await openModel(spec);
  try {
    const { file, known } = opened;
    const shapes = new Map([...file.tensors].map(([name, info]) => [name, info.shape] as const));
    const cfg = vitConfigFromShapes(shapes, heads ?? known?.heads ?? headsFor(file));
    const meta = file.metadata;
    const cropFromMeta = meta.crop_pct === undefined ? undefined : Number(meta.crop_pct);
    const preprocess: PreprocessParams = {
      size: cfg.imageSize,
      cropPct: known?.cropPct ?? (cropFromMeta !== undefined && Number.isFinite(cropFromMeta) ? cropFromMeta : cfg.imageSize >= 224 ? 0.9 : 1),
      mean: known?.mean ?? parseTriple(meta.mean) ?? [0.5, 0.5, 0.5],
      std: known?.std ?? parseTriple(meta.std) ?? [0.5, 0.5, 0.5],
    };
    return {
      spec,
      cfg,
      known,
      preprocess,
      read: (name) => file.readF32(name),
      describe: () => ({
        base_model: known?.id ?? spec,
        num_heads: String(cfg.heads),
        image_size: String(cfg.imageSize),
        mean: preprocess.mean.join(','),
        std: preprocess.std.join(','),
        crop_pct: String(preprocess.cropPct),
      }),
      close: opened.close,
    };
  } catch (error) {
    await opened.close();
    throw error;
  }
}
