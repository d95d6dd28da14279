// The native adapter file (clora-spec §2.2) for every method: writing from a model, and reading back with
// checks that the file fits the backbone (width, depth, classes, method), naming any mismatch.
import { ShapeError, shapeText } from '../gpu/errors';
import type { SafetensorsFile, TensorToWrite } from '../io/safetensors';
import { backboneShapes, featureWidth, trainsInFull, type BackboneConfig } from '../nn/backbone';
import { CORES, planBranches, targetPath, trainableShapes, type FineTuneModel } from './model';
import { METHODS, parseTargets, SettingsError, type AdapterSettings, type Method } from './settings';

export const FORMAT_VERSION = '1';

/** Transposes a row-major [rows, cols] matrix. */
function transpose(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[j * rows + i] = data[i * cols + j]!;
  return out;
}

/** What `full` trains of this backbone, and the shapes: every tensor but BatchNorm's running statistics. */
function fullShapes(cfg: BackboneConfig): [string, number[]][] {
  return [...backboneShapes(cfg)].filter(([name]) => trainsInFull(cfg, name));
}

/**
 * Every trained tensor of the method's native file and its shape, for this backbone, in file order. A `full`
 * file also holds what did not train (a point backbone's BatchNorm statistics: see modelFile), so that it is a
 * whole backbone; checkpoints hold only what trains.
 */
export function nativeShapes(cfg: BackboneConfig, settings: AdapterSettings, classes: number): Map<string, number[]> {
  const { rank: r, spaces: p } = settings;
  const branches = planBranches(cfg, settings);
  const shapes = new Map<string, number[]>();
  if (settings.method === 'clora') {
    for (const b of branches) if (!shapes.has(b.downName)) shapes.set(b.downName, [p, b.inWidth, r]);
    for (const b of branches) if (!shapes.has(b.upName)) shapes.set(b.upName, [p, r, b.outWidth]);
    for (const b of branches) shapes.set(`clora.core.${targetPath(b.block, b.target)}`, [p, r, r]);
  } else if (settings.method === 'lora') {
    for (const b of branches) {
      shapes.set(`lora.A.${targetPath(b.block, b.target)}`, [r, b.inWidth]);
      shapes.set(`lora.B.${targetPath(b.block, b.target)}`, [b.outWidth, r]);
    }
  } else if (settings.method === 'full') {
    for (const [name, shape] of fullShapes(cfg)) shapes.set(name, shape);
  }
  shapes.set('head.weight', [classes, featureWidth(cfg)]);
  shapes.set('head.bias', [classes]);
  return shapes;
}

/**
 * What keeps a file's tensors (under `prefix`) from fitting the method on this backbone: missing or
 * mis-shaped tensors, blocks beyond the backbone's depth. Empty when it fits.
 */
export function fitProblems(found: ReadonlyMap<string, { shape: readonly number[] }>, cfg: BackboneConfig, settings: AdapterSettings, classes: number, prefix = ''): string[] {
  const problems: string[] = [];
  for (const [key, shape] of nativeShapes(cfg, settings, classes)) {
    const name = prefix + key;
    const at = found.get(name)?.shape;
    if (!at) problems.push(`"${name}" is missing`);
    else if (at.length !== shape.length || at.some((d, i) => d !== shape[i])) problems.push(`"${name}" is ${shapeText(at)}, expected ${shapeText(shape)}`);
  }
  const extraBlocks = [...found.keys()].filter((k) => /blocks\.(\d+)\./.test(k) && Number(/blocks\.(\d+)\./.exec(k)![1]) >= cfg.depth);
  if (extraBlocks.length) problems.push(`it adapts block ${/blocks\.(\d+)\./.exec(extraBlocks[0]!)![1]} but the backbone has ${cfg.depth} blocks`);
  return problems;
}

/**
 * Native tensors (read by key) converted to the engine's internal layout: cores stacked [m, p, r, r], LoRA's
 * A [r, a] and B [b, r] transposed to [1, a, r] and [1, r, b]. The inverse of nativeTensors; checkpoints
 * convert optimizer moments the same way.
 */
export async function internalTensors(cfg: BackboneConfig, settings: AdapterSettings, classes: number, read: (key: string) => Promise<Float32Array>): Promise<Map<string, Float32Array>> {
  const tensors = new Map<string, Float32Array>();
  const branches = planBranches(cfg, settings);
  const shapes = trainableShapes(cfg, settings, classes);
  if (settings.method === 'clora') {
    const size = settings.spaces * settings.rank * settings.rank;
    const cores = new Float32Array(branches.length * size);
    for (const b of branches) cores.set(await read(`clora.core.${targetPath(b.block, b.target)}`), b.coreIndex * size);
    tensors.set(CORES, cores);
    for (const name of shapes.keys()) if (name !== CORES && !tensors.has(name)) tensors.set(name, await read(name));
  } else if (settings.method === 'lora') {
    for (const b of branches) {
      const path = targetPath(b.block, b.target);
      tensors.set(b.downName, transpose(await read(`lora.A.${path}`), settings.rank, b.inWidth));
      tensors.set(b.upName, transpose(await read(`lora.B.${path}`), b.outWidth, settings.rank));
    }
    tensors.set('head.weight', await read('head.weight'));
    tensors.set('head.bias', await read('head.bias'));
  } else {
    for (const name of shapes.keys()) tensors.set(name, await read(name));
  }
  return tensors;
}

/** Native file keys and tensors of what trains, converted from the engine's internal tensors. */
export function nativeTensors(cfg: BackboneConfig, settings: AdapterSettings, classes: number, internal: Map<string, Float32Array>): TensorToWrite[] {
  const get = (name: string): Float32Array => {
    const t = internal.get(name);
    if (!t) throw new Error(`Internal: missing tensor "${name}".`);
    return t;
  };
  const out: TensorToWrite[] = [];
  const { rank: r, spaces: p } = settings;
  const branches = planBranches(cfg, settings);
  if (settings.method === 'clora') {
    const seen = new Set<string>();
    for (const b of branches) {
      if (!seen.has(b.downName)) out.push({ name: b.downName, shape: [p, b.inWidth, r], data: get(b.downName) });
      seen.add(b.downName);
    }
    for (const b of branches) {
      if (!seen.has(b.upName)) out.push({ name: b.upName, shape: [p, r, b.outWidth], data: get(b.upName) });
      seen.add(b.upName);
    }
    const cores = get(CORES);
    const size = p * r * r;
    for (const b of branches) out.push({ name: `clora.core.${targetPath(b.block, b.target)}`, shape: [p, r, r], data: cores.slice(b.coreIndex * size, (b.coreIndex + 1) * size) });
  } else if (settings.method === 'lora') {
    for (const b of branches) {
      const path = targetPath(b.block, b.target);
      out.push({ name: `lora.A.${path}`, shape: [r, b.inWidth], data: transpose(get(b.downName), b.inWidth, r) });
      out.push({ name: `lora.B.${path}`, shape: [b.outWidth, r], data: transpose(get(b.upName), r, b.outWidth) });
    }
  } else if (settings.method === 'full') {
    for (const [name, shape] of fullShapes(cfg)) out.push({ name, shape, data: get(name) });
  }
  out.push({ name: 'head.weight', shape: [classes, featureWidth(cfg)], data: get('head.weight') });
  out.push({ name: 'head.bias', shape: [classes], data: get('head.bias') });
  return out;
}

export function nativeMetadata(settings: AdapterSettings, classes: string[], extra: Record<string, string> = {}): Record<string, string> {
  return {
    format: settings.method,
    format_version: FORMAT_VERSION,
    rank: String(settings.rank),
    spaces: String(settings.method === 'clora' ? settings.spaces : 1),
    scale: String(settings.scale),
    targets: settings.targets.join(','),
    classes: JSON.stringify(classes),
    sade_weight: String(settings.sadeWeight),
    dropout: String(settings.dropout),
    ...extra,
  };
}

/**
 * Reads the model's trainable tensors back from the GPU and lays them out as the native file; a `full` file
 * also gets the backbone tensors that stayed frozen (BatchNorm's statistics), so it is a whole backbone.
 */
export async function modelFile(model: FineTuneModel, extra: Record<string, string> = {}): Promise<{ tensors: TensorToWrite[]; metadata: Record<string, string> }> {
  const { cfg, settings, classes, trainable, frozen } = model.parts;
  const tensors = nativeTensors(cfg, settings, classes.length, await trainable.readAll());
  if (settings.method === 'full' && frozen) {
    const shapes = backboneShapes(cfg);
    for (const [name, data] of await frozen.readAll()) tensors.push({ name, shape: shapes.get(name)!, data });
  }
  return { tensors, metadata: nativeMetadata(settings, classes, extra) };
}

export interface AdapterFile {
  settings: AdapterSettings;
  classes: string[];
  /** Tensors in the engine's internal layout, ready to upload. */
  tensors: Map<string, Float32Array>;
  metadata: Record<string, string>;
}

function metaNumber(meta: Record<string, string>, key: string, fallback?: number): number {
  const v = meta[key];
  if (v === undefined) {
    if (fallback !== undefined) return fallback;
    throw new SettingsError(`The adapter file has no "${key}" in its metadata; it was not written by clora-web or PEFT export.`);
  }
  const n = Number(v);
  if (!Number.isFinite(n)) throw new SettingsError(`The adapter file's "${key}" is "${v}", not a number.`);
  return n;
}

/** The method's settings from a file's metadata strings (an adapter's, or a checkpoint's). */
export function settingsFromMetadata(meta: Record<string, string>, method: Method): AdapterSettings {
  return {
    method,
    rank: method === 'clora' || method === 'lora' ? metaNumber(meta, 'rank') : 0,
    spaces: method === 'clora' ? metaNumber(meta, 'spaces') : 1,
    targets: method === 'clora' || method === 'lora' ? parseTargets(meta.targets ?? '') : [],
    scale: metaNumber(meta, 'scale', 1),
    sadeWeight: metaNumber(meta, 'sade_weight', 0),
    dropout: metaNumber(meta, 'dropout', 0),
  };
}

/** Class names from the metadata's `classes` list, else numbered after the head's rows. */
export function classesOf(file: Pick<SafetensorsFile, 'metadata' | 'tensors'>): string[] {
  try {
    const parsed: unknown = JSON.parse(file.metadata.classes ?? 'null');
    if (!Array.isArray(parsed) || !parsed.every((c) => typeof c === 'string')) throw new Error('not a list of names');
    return parsed as string[];
  } catch {
    const head = file.tensors.get('head.weight');
    if (!head) throw new SettingsError('The file has neither a "classes" list in its metadata nor a head.');
    return Array.from({ length: head.shape[0]! }, (_, i) => `class ${i}`);
  }
}

/**
 * Reads a native adapter file for a backbone. Refuses, naming the mismatch: another method than `expect`,
 * another width or depth than the backbone, a class count that differs from `classes` (when given).
 */
export async function readAdapterFile(file: SafetensorsFile, cfg: BackboneConfig, opts: { method?: Method; classCount?: number } = {}): Promise<AdapterFile> {
  const meta = file.metadata;
  const format = meta.format;
  if (!format || !(METHODS as readonly string[]).includes(format)) {
    const hint = format === 'clora-checkpoint' ? ' (a training checkpoint: pass it to --resume)' : '';
    throw new SettingsError(`This is not a clora-web adapter: its metadata "format" is ${format ? `"${format}"` : 'missing'}${hint} (expected clora, lora, head or full).`);
  }
  const method = format as Method;
  if (opts.method && opts.method !== method) throw new SettingsError(`The adapter was trained with method "${method}", not "${opts.method}".`);
  const classes = classesOf(file);
  if (opts.classCount !== undefined && opts.classCount !== classes.length) {
    throw new ShapeError(`The adapter has ${classes.length} classes but the data has ${opts.classCount}.`);
  }
  const settings = settingsFromMetadata(meta, method);
  const problems = fitProblems(file.tensors, cfg, settings, classes.length);
  if (problems.length) {
    throw new ShapeError(`This ${method} adapter does not fit the backbone (width ${cfg.dim}, depth ${cfg.depth}): ${problems.slice(0, 5).join('; ')}${problems.length > 5 ? ` (and ${problems.length - 5} more)` : ''}.`);
  }
  const tensors = await internalTensors(cfg, settings, classes.length, (key) => file.readF32(key));
  // A `full` file's frozen tensors (BatchNorm's statistics) replace the backbone's, as the rest of it does.
  if (method === 'full') {
    for (const [name, shape] of backboneShapes(cfg)) {
      const found = file.tensors.get(name)?.shape;
      if (trainsInFull(cfg, name) || !found || found.length !== shape.length || found.some((d, i) => d !== shape[i])) continue;
      tensors.set(name, await file.readF32(name));
    }
  }
  return { settings, classes, tensors, metadata: meta };
}
