// Images on the GPU at the model's input size, kept as 8-bit RGB: intake decodes, resizes and centre-crops
// each new file (prepare); training unpacks the stored samples into a data set, resizing those stored at
// another size (unpackSamples).
import { Tensor } from '../autodiff/tensor';
import type { Dataset } from '../data/dataset';
import { decodeImageBlob } from '../data/decode-browser';
import { preprocessInto, type PreprocessParams, type RgbaImage } from '../data/preprocess';
import { requireImageBackbone } from './backbone';
import { device } from './device';
import type { PackedSamples, PrepareItem, PrepareResult } from './protocol';
import { messageOf } from './scope';

/** Images decoded and resized per GPU submission. */
const CHUNK = 16;

function toRgbBytes(values: Float32Array, n: number, size: number): Uint8Array<ArrayBuffer>[] {
  const plane = size * size;
  const out: Uint8Array<ArrayBuffer>[] = [];
  for (let k = 0; k < n; k++) {
    const rgb = new Uint8Array(plane * 3);
    const base = k * 3 * plane;
    for (let p = 0; p < plane; p++) {
      for (let c = 0; c < 3; c++) {
        const v = Math.round(values[base + c * plane + p]! * 255);
        rgb[p * 3 + c] = v < 0 ? 0 : v > 255 ? 255 : v;
      }
    }
    out.push(rgb);
  }
  return out;
}

/**
 * A project's stored samples, decoded exactly as they were saved: square 8-bit RGB at the size they have (no
 * resize, so a reopened project trains on the very bytes it was saved with); anything else fails with why.
 */
export async function decodeExact(items: PrepareItem[]): Promise<PrepareResult[]> {
  const results: PrepareResult[] = [];
  for (const item of items) {
    try {
      const image = await decodeImageBlob(item.blob, item.name);
      if (image.width !== image.height) throw new Error(`${item.name} is ${image.width} × ${image.height}, but a project's images are square`);
      const plane = image.width * image.height;
      const rgb = new Uint8Array(plane * 3);
      for (let p = 0; p < plane; p++) {
        rgb[p * 3] = image.data[p * 4]!;
        rgb[p * 3 + 1] = image.data[p * 4 + 1]!;
        rgb[p * 3 + 2] = image.data[p * 4 + 2]!;
      }
      results.push({ key: item.key, ok: true, size: image.width, rgb });
    } catch (error) {
      results.push({ key: item.key, ok: false, name: item.name, reason: messageOf(error) });
    }
  }
  return results;
}

export async function prepare(items: PrepareItem[]): Promise<PrepareResult[]> {
  const { preprocess } = requireImageBackbone('Adding images').meta;
  const gpu = await device();
  const size = preprocess.size;
  // Mean 0, std 1: the tensor holds pixels in [0, 1], stored as bytes; normalisation happens at training time.
  const params: PreprocessParams = { size, cropPct: preprocess.cropPct, mean: [0, 0, 0], std: [1, 1, 1] };
  const results: PrepareResult[] = [];
  for (let start = 0; start < items.length; start += CHUNK) {
    const chunk = items.slice(start, start + CHUNK);
    const decoded: (RgbaImage | string)[] = [];
    for (const item of chunk) {
      try {
        decoded.push(await decodeImageBlob(item.blob, item.name));
      } catch (error) {
        decoded.push(messageOf(error));
      }
    }
    const good = decoded.filter((d): d is RgbaImage => typeof d !== 'string');
    let rgb: Uint8Array<ArrayBuffer>[] = [];
    if (good.length) {
      const out = Tensor.empty(gpu, [good.length, 3, size, size], 'prepared samples');
      try {
        good.forEach((image, i) => preprocessInto(gpu, image, out, i, params));
        rgb = toRgbBytes(await out.read(), good.length, size);
      } finally {
        out.dispose();
      }
    }
    let g = 0;
    chunk.forEach((item, i) => {
      const d = decoded[i]!;
      if (typeof d === 'string') results.push({ key: item.key, ok: false, name: item.name, reason: d });
      else results.push({ key: item.key, ok: true, size, rgb: rgb[g++]! });
    });
  }
  return results;
}

/**
 * 8-bit [N, 3, S, S] channel planes from packed 8-bit samples, normalised batch by batch as training reads them
 * (a quarter of the memory of f32). Samples of another size are resized on the GPU and rounded back to 8 bits,
 * as PIL does in timm's own pipeline.
 */
export async function unpackSamples(samples: PackedSamples, pick: number[], p: PreprocessParams): Promise<Dataset> {
  const S = p.size;
  const plane = S * S;
  const pixels = new Uint8Array(pick.length * 3 * plane);
  const labels = new Int32Array(pick.length);
  const offsets = new Float64Array(samples.count + 1);
  for (let i = 0; i < samples.count; i++) offsets[i + 1] = offsets[i]! + samples.sizes[i]! * samples.sizes[i]! * 3;
  const resize: { slot: number; image: RgbaImage }[] = [];
  pick.forEach((index, slot) => {
    labels[slot] = samples.labels[index]!;
    const s = samples.sizes[index]!;
    const rgb = samples.rgb.subarray(offsets[index]!, offsets[index + 1]!);
    if (s === S) {
      const base = slot * 3 * plane;
      for (let c = 0; c < 3; c++) for (let q = 0; q < plane; q++) pixels[base + c * plane + q] = rgb[q * 3 + c]!;
    } else {
      const rgba = new Uint8Array(s * s * 4);
      for (let q = 0; q < s * s; q++) {
        rgba[q * 4] = rgb[q * 3]!;
        rgba[q * 4 + 1] = rgb[q * 3 + 1]!;
        rgba[q * 4 + 2] = rgb[q * 3 + 2]!;
        rgba[q * 4 + 3] = 255;
      }
      resize.push({ slot, image: { width: s, height: s, data: rgba } });
    }
  });
  if (resize.length) {
    // Stored samples are already centre-cropped squares: only resize them (crop_pct 1).
    const gpu = await device();
    for (let start = 0; start < resize.length; start += CHUNK) {
      const chunk = resize.slice(start, start + CHUNK);
      const out = Tensor.empty(gpu, [chunk.length, 3, S, S], 'resized samples');
      try {
        // Mean 0, std 1/255: the resized values come back on the 0–255 scale.
        chunk.forEach((r, i) => preprocessInto(gpu, r.image, out, i, { ...p, cropPct: 1, mean: [0, 0, 0], std: [1 / 255, 1 / 255, 1 / 255] }));
        const values = await out.read();
        chunk.forEach((r, i) => {
          const base = r.slot * 3 * plane;
          for (let q = 0; q < 3 * plane; q++) pixels[base + q] = Math.round(values[i * 3 * plane + q]!); // Uint8Array clamps
        });
      } finally {
        out.dispose();
      }
    }
  }
  return { classes: samples.classes, sampleShape: [3, S, S], count: pick.length, inputs: pixels, normalize: { mean: p.mean, std: p.std }, labels, skipped: [] };
}
