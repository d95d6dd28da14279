// What the command line feeds each kind of backbone (clora-spec §2.5 and §4): model input in tensor files
// (`pixel_values` [N, 3, H, W] for a ViT, `points` [N, P, 3] for a point transformer) and data sets (those
// tensor files with `labels`, or a folder with one sub-folder of images, or of point files, per class).
import { existsSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { Dataset } from '../data/dataset';
import { loadFolderDataset, loadTensorDataset } from '../data/load-node';
import { loadPointFolderDataset, loadPointTensorDataset } from '../data/points/load-node';
import type { GpuContext } from '../gpu/context';
import type { TrainOptions } from '../train/trainer';
import { bytesSource, openSafetensors } from '../io/safetensors';
import { shapeText } from '../gpu/errors';
import { checkSampleShape, sampleShapeOf } from '../nn/backbone';
import { UsageError, type Backbone } from './model-source';

/** The tensor that holds model input for this backbone. */
export function inputKey(backbone: Backbone): 'points' | 'pixel_values' {
  return backbone.kind === 'point' ? 'points' : 'pixel_values';
}

/** `forward --input X`: the model input in a tensor file, checked against what the backbone takes. */
export async function readModelInput(path: string, backbone: Backbone): Promise<{ count: number; sampleShape: number[]; data: Float32Array }> {
  if (!existsSync(path)) throw new UsageError(`${path}: no such file.`);
  const file = await openSafetensors(bytesSource(new Uint8Array(await readFile(path)), path));
  const key = inputKey(backbone);
  const info = file.tensors.get(key);
  if (!info) throw new UsageError(`${path} has no "${key}" tensor, which this ${backbone.kind === 'point' ? 'point' : 'image'} backbone reads (it has: ${file.names().slice(0, 8).join(', ') || 'nothing'}).`);
  const [count, ...sampleShape] = info.shape;
  const takes = backbone.kind === 'point' ? '[N, P, 3]' : shapeText(['N', ...sampleShapeOf(backbone.cfg)]);
  if (sampleShape.length !== (backbone.kind === 'point' ? 2 : 3)) throw new UsageError(`${key} in ${path} is ${shapeText(info.shape)}; this model takes ${takes}.`);
  try {
    checkSampleShape(backbone.cfg, sampleShape, `${key} in ${path}`);
  } catch (error) {
    if (backbone.kind === 'point') throw error;
    throw new UsageError(`${key} in ${path} is ${shapeText(info.shape)}; this model takes ${takes}.`);
  }
  return { count: count!, sampleShape, data: await file.readF32(key) };
}

/**
 * `--data`: a tensor file or a folder of class sub-folders, read the way this backbone takes samples (images
 * preprocessed as the model was trained; point files brought to the backbone's point count). Unusable files
 * are listed with the reason and skipped.
 */
export async function loadData(ctx: GpuContext, path: string, backbone: Backbone, classNames?: string[]): Promise<Dataset> {
  if (!existsSync(path)) throw new UsageError(`--data ${path}: no such file or folder.`);
  const folder = statSync(path).isDirectory();
  let data: Dataset;
  if (backbone.kind === 'point') {
    if (folder) {
      const points = await loadPointFolderDataset(path, { points: backbone.cfg.points, classNames });
      for (const n of points.notes) process.stderr.write(`note: ${n.file}: ${n.note}\n`);
      data = points;
    } else data = await loadPointTensorDataset(path);
  } else data = folder ? await loadFolderDataset(ctx, path, backbone.preprocess, classNames) : await loadTensorDataset(path);
  for (const s of data.skipped) process.stderr.write(`skipped ${s.file}: ${s.reason}\n`);
  checkSampleShape(backbone.cfg, data.sampleShape);
  return data;
}

/**
 * `train --augment` (and for point backbones `--rotate`, `--jitter`): random resized crop and flip for images;
 * Point-MAE's scale and translate for point clouds, with rotation about the up axis and jitter on request.
 */
export function augmentationFor(values: { augment?: boolean; rotate?: boolean; jitter?: boolean }, backbone: Backbone): TrainOptions['augment'] {
  if (backbone.kind !== 'point') {
    if (values.rotate || values.jitter) throw new UsageError(`--${values.rotate ? 'rotate' : 'jitter'} augments point clouds; ${backbone.baseModel} is an image backbone (use --augment).`);
    return values.augment ? { flip: true, randomResizedCrop: true } : undefined;
  }
  if (!values.augment && !values.rotate && !values.jitter) return undefined;
  return { scaleAndTranslate: values.augment === true, rotate: values.rotate === true, jitter: values.jitter === true };
}
