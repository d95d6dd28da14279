// The backbone the worker trains on: downloaded (with progress, cancellable) or taken from a file the user
// chose, opened by content, and read into a configuration and preprocessing by src/nn/backbone-meta.ts
// (the same rules as the command line).
import { fetchCached, type WeightCache } from '../io/download';
import { browserWeightCache } from '../io/download-browser';
import { blobSource } from '../io/safetensors';
import { openWeightsFile } from '../io/weights-file';
import { imageBackbone, readBackboneMeta, type VitBackboneMeta } from '../nn/backbone-meta';
import { findKnownModel } from '../nn/models';
import { SettingsError } from '../clora/settings';
import { release } from './model-slot';
import type { BackboneInfo, BackboneSource } from './protocol';
import { emit } from './scope';

export interface LoadedBackbone {
  info: BackboneInfo;
  /** An image backbone: point backbones train from the command line until the app takes point data (issue 11 item 6). */
  meta: VitBackboneMeta;
  /** One backbone tensor as f32, read from the file on demand. */
  read(name: string): Promise<Float32Array>;
}

let backbone: LoadedBackbone | undefined;
let download: AbortController | undefined;

export function requireBackbone(): LoadedBackbone {
  if (!backbone) throw new SettingsError('No backbone is loaded yet: choose one (the bundled one works offline) and try again.');
  return backbone;
}

/** A cache that keeps nothing: fetchCached then just downloads (with its checks and progress). */
const uncached: WeightCache<Blob> = {
  get: async () => undefined,
  put: async (_url, body) => new Response(body).blob(),
  delete: async () => undefined,
};

/** Downloads a backbone, reporting progress a few times a second; a newer download cancels this one. */
async function downloadBlob(url: string): Promise<{ blob: Blob; fromCache: boolean }> {
  download?.abort();
  const controller = new AbortController();
  download = controller;
  let last = 0;
  try {
    // Files of the app's own site (the bundled backbone) are fetched as they are (the service worker's
    // precache keeps them offline), so an updated file is never shadowed by an old cached copy; other
    // sites' files are downloaded once into the Cache API.
    const sameSite = new URL(url, location.href).origin === location.origin;
    const got = await fetchCached(url, sameSite ? uncached : browserWeightCache, {
      signal: controller.signal,
      onProgress: ({ loaded, total }) => {
        const now = performance.now();
        if (now - last < 100 && loaded !== total) return;
        last = now;
        emit({ kind: 'download', loaded, total });
      },
    });
    return { blob: got.data, fromCache: got.fromCache };
  } finally {
    if (download === controller) download = undefined;
  }
}

export function cancelDownload(): void {
  download?.abort();
}

export async function loadBackbone(source: BackboneSource): Promise<BackboneInfo> {
  const known = source.kind === 'url' ? findKnownModel(source.id ?? source.url) : undefined;
  const spec = source.kind === 'url' ? source.url : source.name;
  const { blob, fromCache } = source.kind === 'url' ? await downloadBlob(source.url) : { blob: source.file, fromCache: false };
  const file = await openWeightsFile(blobSource(blob, source.kind === 'file' ? source.name : (known?.id ?? spec)));
  const meta = imageBackbone(readBackboneMeta(file, { spec, known }), 'the web app (for now; point backbones train with `npm run clora`)');
  const info: BackboneInfo = {
    spec: meta.baseModel,
    label: meta.label,
    depth: meta.cfg.depth,
    dim: meta.cfg.dim,
    heads: meta.cfg.heads,
    imageSize: meta.cfg.imageSize,
    parameters: meta.parameters,
    preprocess: meta.preprocess,
    headClasses: meta.headClasses,
    fromCache,
  };
  // Models built on the previous backbone no longer apply.
  release();
  backbone = { info, meta, read: (name) => file.readF32(name) };
  return info;
}
