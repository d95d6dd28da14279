// What a backbone is, read from its weights file: which kind of network, its configuration, the
// preprocessing its inputs need, the classes of its own head, and what adapter files record about it.
// The command line (src/cli/model-source.ts) and the web app's worker both read backbones through here,
// so a file means the same model in both.
//
// Each setting comes from the first of: the caller's option (`--heads`, and for point backbones `--points`,
// `--groups`, `--group-size`), the known-model table (src/nn/models.ts), the file's metadata (`num_heads`,
// `num_points`, `num_groups`, `group_size`), the kind's default (timm's; clora-spec §4's for points).
import type { PreprocessParams } from '../data/preprocess';
import { ShapeError } from '../gpu/errors';
import { shapesOf, type WeightsFile } from '../io/weights-file';
import { headsFor } from './load';
import type { KnownModel } from './models';
import { looksLikePointMae, pointConfigFromShapes, type PointConfig, type PointSettings } from './point-transformer';
import { vitConfigFromShapes, type VitConfig } from './vit';

export interface BackboneMetaOptions {
  /** How the user named the backbone (a path, a URL, a file name): the base model when it is not a known one. */
  spec: string;
  /** The known-model table's entry for it, if any. */
  known?: KnownModel;
  /** Attention heads, overriding the table and the file (they are not stored in timm weights). */
  heads?: number;
  /** Point backbones: points per cloud, groups and group size, overriding the file's metadata. */
  points?: number;
  groups?: number;
  groupSize?: number;
}

/** What every kind of backbone has. */
interface CommonMeta {
  /** What adapter files name as base model: the known-model id, else the user's spec. */
  baseModel: string;
  label: string;
  known: KnownModel | undefined;
  /** Class names of the backbone's own head (from its metadata, else "0", "1", …); empty without a head. */
  headClasses: string[];
  /** Tensor elements in the file. */
  parameters: number;
  /** The metadata adapter and merged files carry about their backbone. */
  describe(): Record<string, string>;
}

export interface VitBackboneMeta extends CommonMeta {
  kind: 'vit';
  cfg: VitConfig;
  preprocess: PreprocessParams;
}

export interface PointBackboneMeta extends CommonMeta {
  kind: 'point';
  cfg: PointConfig;
  /** Settings an option gave that differ from the file's metadata, as sentences to show. */
  notes: string[];
}

/** Every kind of backbone. A new kind adds its interface here and its reader to READERS. */
export type BackboneMeta = VitBackboneMeta | PointBackboneMeta;
export type BackboneKind = BackboneMeta['kind'];

type Reader = (file: WeightsFile, opts: BackboneMetaOptions, common: Omit<CommonMeta, 'describe' | 'headClasses'>) => BackboneMeta;

const READERS: Record<BackboneKind, Reader> = { vit: readVit, point: readPoint };

/**
 * The backbone when it is an image backbone; a sentence (ShapeError) naming what it is otherwise, for the
 * places that take images only (`what` says which: "ONNX export", "The web app", …).
 */
export function imageBackbone<M extends BackboneMeta>(meta: M, what: string): Extract<M, { kind: 'vit' }> {
  if (meta.kind !== 'vit') throw new ShapeError(`${meta.baseModel} is a point transformer (Point-MAE); ${what} takes image backbones (timm ViTs) only.`);
  return meta as Extract<M, { kind: 'vit' }>;
}

/** Reads the backbone's kind, configuration and preprocessing; a sentence (ShapeError) when the file is no backbone. */
export function readBackboneMeta(file: WeightsFile, opts: BackboneMetaOptions): BackboneMeta {
  let parameters = 0;
  for (const info of file.tensors.values()) parameters += info.shape.reduce((a, b) => a * b, 1);
  const known = opts.known;
  const common = { baseModel: known?.id ?? opts.spec, label: known?.label ?? file.metadata.model ?? opts.spec, known, parameters };
  return READERS[backboneKind(file)](file, opts, common);
}

/**
 * Which reader applies, told apart by tensor names: Point-MAE's encoder or `blocks.blocks.*` keys make a point
 * transformer; anything else is read as a timm ViT (whose reader names the tensor that is missing when a file
 * is not one).
 */
function backboneKind(file: WeightsFile): BackboneKind {
  return looksLikePointMae(shapesOf(file)) ? 'point' : 'vit';
}

function readVit(file: WeightsFile, opts: BackboneMetaOptions, common: Omit<CommonMeta, 'describe' | 'headClasses'>): VitBackboneMeta {
  const known = opts.known?.kind === 'vit' ? opts.known : undefined;
  const cfg = vitConfigFromShapes(shapesOf(file), headsFor(file, opts.heads ?? known?.heads));
  const meta = file.metadata;
  const cropFromMeta = meta.crop_pct === undefined ? undefined : Number(meta.crop_pct);
  const preprocess: PreprocessParams = {
    size: cfg.imageSize,
    // timm evaluates at 224² and above through a 0.9 crop, and smaller inputs uncropped.
    cropPct: known?.cropPct ?? (cropFromMeta !== undefined && Number.isFinite(cropFromMeta) ? cropFromMeta : cfg.imageSize >= 224 ? 0.9 : 1),
    mean: known?.mean ?? parseTriple(meta.mean) ?? [0.5, 0.5, 0.5],
    std: known?.std ?? parseTriple(meta.std) ?? [0.5, 0.5, 0.5],
  };
  return {
    ...common,
    kind: 'vit',
    cfg,
    preprocess,
    headClasses: headClassesOf(file, cfg.classes),
    describe: () => ({
      base_model: common.baseModel,
      num_heads: String(cfg.heads),
      image_size: String(cfg.imageSize),
      mean: preprocess.mean.join(','),
      std: preprocess.std.join(','),
      crop_pct: String(preprocess.cropPct),
    }),
  };
}

/** A positive whole number from the metadata, or undefined when the key is absent or holds something else. */
function metaCount(file: WeightsFile, key: string): number | undefined {
  const text = file.metadata[key];
  const n = Number(text);
  return text !== undefined && Number.isInteger(n) && n > 0 ? n : undefined;
}

const POINT_SETTINGS: [setting: keyof PointSettings, option: string, metadata: string][] = [
  ['heads', '--heads', 'num_heads'],
  ['points', '--points', 'num_points'],
  ['groups', '--groups', 'num_groups'],
  ['groupSize', '--group-size', 'group_size'],
];

function readPoint(file: WeightsFile, opts: BackboneMetaOptions, common: Omit<CommonMeta, 'describe' | 'headClasses'>): PointBackboneMeta {
  const known = opts.known?.kind === 'point' ? opts.known : undefined;
  const settings: PointSettings = {};
  const notes: string[] = [];
  for (const [setting, option, key] of POINT_SETTINGS) {
    const stored = known?.[setting] ?? metaCount(file, key);
    const given = opts[setting];
    if (given !== undefined && stored !== undefined && given !== stored) notes.push(`${option} ${given} replaces the backbone's ${key} ${stored}.`);
    settings[setting] = given ?? stored;
  }
  // A .pth carries no metadata: §4's defaults apply (pointConfigFromShapes).
  const cfg = pointConfigFromShapes(shapesOf(file), settings);
  return {
    ...common,
    kind: 'point',
    cfg,
    notes,
    headClasses: headClassesOf(file, cfg.classes),
    describe: () => ({
      base_model: common.baseModel,
      num_heads: String(cfg.heads),
      num_points: String(cfg.points),
      num_groups: String(cfg.groups),
      group_size: String(cfg.groupSize),
    }),
  };
}

/** "0.5,0.5,0.5" or "[0.485, 0.456, 0.406]" as three numbers. */
function parseTriple(text: string | undefined): [number, number, number] | undefined {
  if (!text) return undefined;
  const parts = text.replace(/[[\]\s]/g, '').split(',').map(Number);
  return parts.length === 3 && parts.every(Number.isFinite) ? (parts as [number, number, number]) : undefined;
}

/** The head's class names from the metadata (a JSON list or a comma list) when they match its size. */
function headClassesOf(file: WeightsFile, count: number): string[] {
  if (count === 0) return [];
  const names = parseClassList(file.metadata.classes);
  return names.length === count ? names : Array.from({ length: count }, (_, i) => String(i));
}

function parseClassList(text: string | undefined): string[] {
  if (!text) return [];
  try {
    const parsed: unknown = JSON.parse(text);
    if (Array.isArray(parsed) && parsed.every((c) => typeof c === 'string')) return parsed as string[];
  } catch {
    // a plain comma list
  }
  return text.split(',').map((c) => c.trim()).filter(Boolean);
}
