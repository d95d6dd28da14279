// Resolves --model to a safetensors file: a local path, a URL (downloaded once into the cache), or a
// known model id from src/nn/models.ts.
import { existsSync } from 'node:fs';
import { fetchCached } from '../io/download';
import { nodeWeightCache } from '../io/download-node';
import { openSafetensors, type SafetensorsFile } from '../io/safetensors';
import { fileSource, type FileSource } from '../io/safetensors-node';
import { findKnownModel, type KnownModel } from '../nn/models';

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
  else if (/^https?:\/\//.test(spec) || known) {
    const url = known?.url ?? spec;
    path = (await fetchCached(url, nodeWeightCache(), { onProgress: progressLine(`downloading ${url}`) })).data;
  } else {
    throw new UsageError(`--model ${spec}: no such file, and it is neither a URL nor a known model id (known: ${['bundled files under public/', 'vit_tiny_patch16_224.augreg_in21k_ft_in1k', '…'].join(', ')}).`);
  }
  const source: FileSource = await fileSource(path);
  try {
    return { file: await openSafetensors(source), known, close: () => source.close() };
  } catch (error) {
    await source.close();
    throw error;
  }
}
