// Resolves --model to a weights file (safetensors, or a PyTorch checkpoint once the .pth reader is in
// openWeightsFile): a local path, a URL (downloaded once into the cache), or a known model id from src/nn/models.ts.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { fetchCached } from '../io/download';
import { nodeWeightCache } from '../io/download-node';
import { fileSource, type FileSource } from '../io/safetensors-node';
import { openWeightsFile, type WeightsFile } from '../io/weights-file';
import { imageBackbone, readBackboneMeta, type BackboneMeta, type BackboneMetaOptions } from '../nn/backbone-meta';
import { findKnownModel, KNOWN_MODELS, modelUrl, type KnownModel } from '../nn/models';

/** Where the bundled models are in the source tree (the web app serves the same folder at its base). */
const PUBLIC_DIR = new URL('../../public/', import.meta.url);

export interface OpenedModel {
  file: WeightsFile;
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
  else if (known?.bundled) path = fileURLToPath(modelUrl(known, PUBLIC_DIR));
  else if (/^https?:\/\//.test(spec) || known) {
    const url = known?.url ?? spec;
    path = (await fetchCached(url, nodeWeightCache(), { onProgress: progressLine(`downloading ${url}`) })).data;
  } else {
    throw new UsageError(`--model ${spec}: no such file, and it is neither a URL nor a known model id (known: ${KNOWN_MODELS.map((m) => m.id).join(', ')}).`);
  }
  const source: FileSource = await fileSource(path);
  try {
    return { file: await openWeightsFile(source), known, close: () => source.close() };
  } catch (error) {
    await source.close();
    throw error;
  }
}

/** An opened --model: what it is (src/nn/backbone-meta.ts) and its tensors, read on demand. */
export type Backbone = BackboneMeta & {
  /** --model as the user gave it. */
  spec: string;
  /** One backbone tensor as f32 (read on demand, so the whole file is never held at once). */
  read(name: string): Promise<Float32Array>;
  close(): Promise<void>;
};

/** Settings the weights do not carry, as options give them (src/nn/backbone-meta.ts says which wins). */
export type BackboneOptions = Omit<BackboneMetaOptions, 'spec' | 'known'>;

/** Opens --model and reads what it is (known-model table, then file metadata: src/nn/backbone-meta.ts). */
export async function openBackbone(spec: string, options: BackboneOptions = {}): Promise<Backbone> {
  const opened = await openModel(spec);
  try {
    const { file, known } = opened;
    const meta = readBackboneMeta(file, { spec, known, ...options });
    return { ...meta, spec, read: (name) => file.readF32(name), close: opened.close };
  } catch (error) {
    await opened.close();
    throw error;
  }
}

/** An image backbone (a timm ViT), for what takes images only; a sentence when --model is another kind. */
export async function openImageBackbone(spec: string, options: BackboneOptions = {}, what = 'this command'): Promise<Extract<Backbone, { kind: 'vit' }>> {
  const backbone = await openBackbone(spec, options);
  try {
    return imageBackbone(backbone, what);
  } catch (error) {
    await backbone.close();
    throw error;
  }
}
