// Data sets for the command line: a tensor file (clora-spec §2.5) or a folder with one sub-folder of images
// per class. Unreadable files in a folder are skipped and listed with the reason; the rest trains.
import { existsSync, statSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Tape } from '../autodiff/tape';
import { Tensor } from '../autodiff/tensor';
import type { GpuContext } from '../gpu/context';
import { shapeText } from '../gpu/errors';
import { bytesSource, openSafetensors } from '../io/safetensors';
import { DatasetError, type Dataset } from './dataset';
import { decodeImage } from './decode-node';
import { preprocessInto, type PreprocessParams } from './preprocess';

/** Images preprocessed per GPU batch while loading a folder (bounds GPU memory). */
const LOAD_CHUNK = 64;

export async function loadTensorDataset(path: string): Promise<Dataset> {
  const file = await openSafetensors(bytesSource(new Uint8Array(await readFile(path)), path));
  const pixelsInfo = file.tensors.get('pixel_values');
  const labelsInfo = file.tensors.get('labels');
  if (!pixelsInfo || !labelsInfo) throw new DatasetError(`${path} needs "pixel_values" [N,3,H,W] and "labels" [N] tensors (it has: ${file.names().join(', ') || 'none'}).`);
  const [n, c, h, w] = pixelsInfo.shape as [number, number, number, number];
  if (pixelsInfo.shape.length !== 4 || labelsInfo.shape.length !== 1 || labelsInfo.shape[0] !== n) {
    throw new DatasetError(`${path}: pixel_values is ${shapeText(pixelsInfo.shape)} and labels ${shapeText(labelsInfo.shape)}; expected [N,3,H,W] and [N].`);
  }
  const labels = await file.readInt('labels');
  let classes: string[] | undefined;
  if (file.metadata.classes) {
    try {
      const parsed: unknown = JSON.parse(file.metadata.classes);
      if (Array.isArray(parsed) && parsed.every((x) => typeof x === 'string')) classes = parsed as string[];
    } catch {
      /* fall back to numbered classes */
    }
  }
  const maxLabel = labels.reduce((m, l) => Math.max(m, l), -1);
  classes ??= Array.from({ length: maxLabel + 1 }, (_, i) => String(i));
  return { classes, sampleShape: [c, h, w], count: n, inputs: await file.readF32('pixel_values'), labels, skipped: [] };
}

export async function loadFolderDataset(ctx: GpuContext, dir: string, p: PreprocessParams, classNames?: string[]): Promise<Dataset> {
  const entries = (await readdir(dir, { withFileTypes: true })).filter((e) => e.isDirectory() && !e.name.startsWith('.'));
  const classes = classNames ?? entries.map((e) => e.name).sort();
  if (classes.length === 0) throw new DatasetError(`${dir} has no sub-folders: put the images of each class in a folder named after the class.`);
  const skipped: { file: string; reason: string }[] = [];
  const files: { path: string; label: number }[] = [];
  for (const [label, name] of classes.entries()) {
    const classDir = join(dir, name);
    if (!existsSync(classDir)) continue;
    for (const f of (await readdir(classDir)).sort()) {
      const path = join(classDir, f);
      if (statSync(path).isFile() && !f.startsWith('.')) files.push({ path, label });
    }
  }
  const per = 3 * p.size * p.size;
  const pixels = new Float32Array(files.length * per);
  const labels: number[] = [];
  let count = 0;
  for (let start = 0; start < files.length; start += LOAD_CHUNK) {
    const chunk = files.slice(start, start + LOAD_CHUNK);
    const decoded: { image: ReturnType<typeof decodeImage>; label: number }[] = [];
    for (const f of chunk) {
      try {
        decoded.push({ image: decodeImage(new Uint8Array(await readFile(f.path)), f.path), label: f.label });
      } catch (error) {
        skipped.push({ file: f.path, reason: error instanceof Error ? error.message : String(error) });
      }
    }
    if (decoded.length === 0) continue;
    const tape = new Tape(ctx);
    try {
      const out = Tensor.empty(ctx, [decoded.length, 3, p.size, p.size]);
      decoded.forEach((d, i) => preprocessInto(ctx, d.image, out, i, p));
      pixels.set(await out.read(), count * per);
    } finally {
      tape.dispose();
    }
    for (const d of decoded) labels.push(d.label);
    count += decoded.length;
  }
  return { classes, sampleShape: [3, p.size, p.size], count, inputs: pixels.subarray(0, count * per), labels: Int32Array.from(labels), skipped };
}
