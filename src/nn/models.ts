// Models the app and the command line know by name: where to fetch them, their head count (not stored in
// timm weights) and their preprocessing. Users can still give any URL or local file.

interface KnownModelCommon {
  id: string;
  label: string;
  /**
   * Where the weights come from: a hub URL, or for a bundled backbone a path relative to the site's base
   * (public/ in the source tree): see modelUrl.
   */
  url: string;
  /** Bundled with the app: works offline, no download. */
  bundled?: boolean;
  heads: number;
  /** Approximate download size in bytes, shown before fetching. */
  bytes: number;
  license: string;
}

/** An image backbone (a timm ViT) and its preprocessing. */
export interface KnownImageModel extends KnownModelCommon {
  kind: 'vit';
  /** Per-channel normalisation applied after scaling pixels to [0, 1]. */
  mean: [number, number, number];
  std: [number, number, number];
  inputSize: number;
  /** timm's crop_pct: resize the shorter side to inputSize / cropPct, then centre-crop inputSize. */
  cropPct: number;
}

/** A point backbone (Point-MAE's layout, clora-spec §4) and its grouping. */
export interface KnownPointModel extends KnownModelCommon {
  kind: 'point';
  /** Points per cloud the data is brought to, and the groups the model makes of them. */
  points: number;
  groups: number;
  groupSize: number;
}

export type KnownModel = KnownImageModel | KnownPointModel;

const hub = (name: string): string => `https://huggingface.co/timm/${name}/resolve/main/model.safetensors`;
const HALF: [number, number, number] = [0.5, 0.5, 0.5];
const IMAGENET_MEAN: [number, number, number] = [0.485, 0.456, 0.406];
const IMAGENET_STD: [number, number, number] = [0.229, 0.224, 0.225];

/** The offline default: a small ViT this project pretrained on MNIST with its own engine (tools/pretrain-backbone.ts). */
export const BUNDLED_MODEL: KnownImageModel = {
  kind: 'vit',
  id: 'clora-web/vit-mnist',
  label: 'Bundled ViT (MNIST-pretrained, 145 k parameters, works offline)',
  url: 'models/vit-mnist.safetensors',
  bundled: true,
  heads: 4,
  mean: HALF,
  std: HALF,
  inputSize: 28,
  cropPct: 1,
  bytes: 586_000,
  license: 'MIT',
};

/**
 * The offline default for point clouds: a small point transformer in Point-MAE's layout this project pretrained
 * on procedural shapes with its own engine (tools/pretrain-point-backbone.ts).
 */
export const BUNDLED_POINT_MODEL: KnownPointModel = {
  kind: 'point',
  id: 'clora-web/point-mae-procedural',
  label: 'Bundled point transformer (procedural shapes, 494 k parameters, works offline)',
  url: 'models/point-mae-procedural.safetensors',
  bundled: true,
  heads: 4,
  points: 512,
  groups: 32,
  groupSize: 32,
  bytes: 1_985_000,
  license: 'MIT',
};

export const KNOWN_MODELS: readonly KnownModel[] = [
  BUNDLED_MODEL,
  BUNDLED_POINT_MODEL,
  {
    kind: 'vit',
    id: 'vit_tiny_patch16_224.augreg_in21k_ft_in1k',
    label: 'ViT-Tiny/16 (ImageNet-21k → 1k, 5.7 M parameters)',
    url: hub('vit_tiny_patch16_224.augreg_in21k_ft_in1k'),
    heads: 3,
    mean: HALF,
    std: HALF,
    inputSize: 224,
    cropPct: 0.9,
    bytes: 22_900_000,
    license: 'Apache-2.0',
  },
  {
    kind: 'vit',
    id: 'vit_small_patch16_224.augreg_in21k_ft_in1k',
    label: 'ViT-Small/16 (ImageNet-21k → 1k, 22 M parameters)',
    url: hub('vit_small_patch16_224.augreg_in21k_ft_in1k'),
    heads: 6,
    mean: HALF,
    std: HALF,
    inputSize: 224,
    cropPct: 0.9,
    bytes: 88_200_000,
    license: 'Apache-2.0',
  },
  {
    kind: 'vit',
    id: 'vit_base_patch16_224.augreg2_in21k_ft_in1k',
    label: 'ViT-Base/16 (ImageNet-21k → 1k, 86 M parameters; the paper\'s backbone family)',
    url: hub('vit_base_patch16_224.augreg2_in21k_ft_in1k'),
    heads: 12,
    mean: HALF,
    std: HALF,
    inputSize: 224,
    cropPct: 0.9,
    bytes: 346_000_000,
    license: 'Apache-2.0',
  },
  {
    kind: 'vit',
    id: 'deit_tiny_patch16_224.fb_in1k',
    label: 'DeiT-Tiny/16 (ImageNet-1k, 5.7 M parameters)',
    url: hub('deit_tiny_patch16_224.fb_in1k'),
    heads: 3,
    mean: IMAGENET_MEAN,
    std: IMAGENET_STD,
    inputSize: 224,
    cropPct: 0.875,
    bytes: 22_900_000,
    license: 'Apache-2.0',
  },
];

export function findKnownModel(idOrUrl: string): KnownModel | undefined {
  return KNOWN_MODELS.find((m) => m.id === idOrUrl || m.url === idOrUrl || idOrUrl.includes(`/timm/${m.id}/`));
}

/**
 * The address of a model's weights: a hub URL as it is, a bundled model's path resolved against `base`
 * (the site's base URL in the page, so a site hosted at a sub-path finds it; the public/ folder in Node).
 */
export function modelUrl(model: KnownModel, base: string | URL): string {
  return model.bundled ? new URL(model.url, base).href : model.url;
}
