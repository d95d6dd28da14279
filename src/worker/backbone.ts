// The backbone the worker trains on: downloaded (with progress, cancellable) or taken from a file the user
// chose (.safetensors or PyTorch .pth), opened by content, and read into its kind (image or point
// transformer), configuration and preprocessing by src/nn/backbone-meta.ts (the same rules as the command line).
import { fetchCached, type WeightCache } from '../io/download';
import { browserWeightCache } from '../io/download-browser';
import { blobSource } from '../io/safetensors';
import { openWeightsFile } from '../io/weights-file';
import { readBackboneMeta, type BackboneMeta, type PointBackboneMeta, type VitBackboneMeta } from '../nn/backbone-meta';
import { findKnownModel } from '../nn/models';
import { SettingsError } from '../clora/settings';
import { release } from './model-slot';
import type { BackboneInfo, BackboneSource } from './protocol';
import { emit } from './scope';

export interface LoadedBackbone {
  info: BackboneInfo;
  /** An image backbone (timm ViT) or a point transformer (Point-MAE), as src/nn/backbone-meta.ts reads it. */
  meta: BackboneMeta;
  /** One backbone tensor as f32, read from the file on demand. */
  read(name: string): Promise<Float32Array>;
}

let backbone: LoadedBackbone | undefined;
let download: AbortController | undefined;

export function requireBackbone(): LoadedBackbone {
  if (!backbone) throw new SettingsError('No backbone is loaded yet: choose one (the bundled one works offline) and try again.');
  return backbone;
}

/** The loaded backbone when it takes images; a sentence saying what it takes otherwise (`what`: "Adding images", "Trying an image"). */
export function requireImageBackbone(what: string): LoadedBackbone & { meta: VitBackboneMeta } {
  const b = requireBackbone();
  if (b.meta.kind !== 'vit') throw new SettingsError(`${what} needs an image backbone, but ${b.info.label} is a point transformer that takes point clouds: load an image backbone (the bundled ViT works offline).`);
  return b as LoadedBackbone & { meta: VitBackboneMeta };
}

/** The loaded backbone when it takes point clouds; a sentence saying what it takes otherwise. */
export function requirePointBackbone(what: string): LoadedBackbone & { meta: PointBackboneMeta } {
  const b = requireBackbone();
  if (b.meta.kind !== 'point') throw new SettingsError(`${what} needs a point backbone, but ${b.info.label} is an image transformer that takes images: load a point transformer (Point-MAE, .safetensors or .pth).`);
  return b as LoadedBackbone & { meta: PointBackboneMeta };
}

/** What the page shows about a backbone: its size and the input it takes. */
function infoOf(meta: BackboneMeta, fromCache: boolean): BackboneInfo {
  const common = {
    spec: meta.baseModel,
    label: meta.label,
    depth: meta.cfg.depth,
    dim: meta.cfg.dim,
    heads: meta.cfg.heads,
    parameters: meta.parameters,
    headClasses: meta.headClasses,
    fromCache,
  };
  if (meta.kind === 'point') return { ...common, kind: 'point', points: meta.cfg.points, groups: meta.cfg.groups, groupSize: meta.cfg.groupSize };
  return { ...common, kind: 'vit', imageSize: meta.cfg.imageSize, preprocess: meta.preprocess };
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
  const meta = readBackboneMeta(file, { spec, known });
  const info = infoOf(meta, fromCache);
  // Models built on the previous backbone no longer apply.
  release();
  backbone = { info, meta, read: (name) => file.readF32(name) };
  return info;
}
