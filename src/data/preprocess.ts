// Image preprocessing on the GPU as timm evaluates (its `transforms_imagenet_eval`, crop_mode 'center',
// bicubic, on PIL images through torchvision):
//   Resize(floor(size / crop_pct)): the shorter side becomes that, the longer int(s · long / short);
//   CenterCrop(size): top = round((h − size) / 2) with Python's round (half to even), left likewise;
//   ToTensor (/255) and Normalize(mean, std).
// The resize is PIL's antialiased bicubic (shaders/image.wgsl), kept in f32 where PIL rounds to uint8 after
// each of its two passes: within 1.03 levels of PIL, 0.3 on average (tests/unit/preprocess.test.ts).
// `roundLikePil` rounds as PIL does and then reproduces timm's values exactly on every fixture.
//
// Also here: the decoded-image type and what both decoders (decode-node.ts, decode-browser.ts) share —
// ImageDecodeError and cheap header parsing that refuses huge images before they are decoded.

import { f32, i32, type BufferRange, type F32, type GpuContext, type Param } from '../gpu/context';
import { ShapeError } from '../gpu/errors';
import { shapeText, Tensor } from '../autodiff/tensor';
import { grid1d } from '../kernels/grid';

/** A decoded image: RGBA8, row-major, 4·width·height bytes. Alpha is carried but ignored, as PIL's convert('RGB') drops it. */
export interface RgbaImage {
  width: number;
  height: number;
  data: Uint8Array;
}

/** An image file that cannot be used; the message names the file and the reason. */
export class ImageDecodeError extends Error {
  override name = 'ImageDecodeError';
}

/** Larger images are refused from their header, before decoding (a 50-MP image is 200 MB as RGBA). */
export const MAX_IMAGE_PIXELS = 50_000_000;

export type ImageFormat = 'png' | 'jpeg';

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

export function imageFormat(bytes: Uint8Array): ImageFormat | undefined {
  if (bytes.length >= 8 && PNG_SIGNATURE.every((b, i) => bytes[i] === b)) return 'png';
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpeg';
  return undefined;
}

export interface PngHeader {
  width: number;
  height: number;
  bitDepth: number;
  colorType: number;
}

/** The IHDR chunk, which the PNG format requires first; undefined when the bytes end before it. */
export function pngHeader(bytes: Uint8Array): PngHeader | undefined {
  if (bytes.length < 8 + 8 + 13) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const type = String.fromCharCode(bytes[12]!, bytes[13]!, bytes[14]!, bytes[15]!);
  if (type !== 'IHDR') return undefined;
  return { width: view.getUint32(16), height: view.getUint32(20), bitDepth: bytes[24]!, colorType: bytes[25]! };
}

export interface JpegHeader {
  width: number;
  height: number;
  /** EXIF orientation 1–8 (1 when absent): how the stored pixels must be turned for display. */
  orientation: number;
  /** Sampling factors of each component in frame order (chroma subsampling: Y 2×2, Cb and Cr 1×1 is 4:2:0). */
  components: { h: number; v: number }[];
  /** An Adobe APP14 segment was seen: its transform code, not JFIF, says what the components are. */
  adobe: boolean;
}

/**
 * Walks the JPEG segments up to the frame header (SOFn), reading the EXIF orientation on the way;
 * undefined when the bytes end (or go wrong) before a frame header.
 */
export function jpegHeader(bytes: Uint8Array): JpegHeader | undefined {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let orientation = 1;
  let adobe = false;
  let pos = 2;
  while (pos + 4 <= bytes.length) {
    if (bytes[pos] !== 0xff) return undefined;
    const marker = bytes[pos + 1]!;
    if (marker === 0xff) {
      pos++; // fill byte
      continue;
    }
    // Markers without a length: TEM, RSTn, SOI, EOI.
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd9)) {
      pos += 2;
      continue;
    }
    const length = view.getUint16(pos + 2);
    if (length < 2) return undefined;
    const body = pos + 4;
    const isFrame = marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
    if (isFrame) {
      if (body + 6 > bytes.length) return undefined;
      const count = bytes[body + 5]!;
      if (body + 6 + 3 * count > bytes.length) return undefined;
      const components = Array.from({ length: count }, (_, k) => {
        const factors = bytes[body + 6 + 3 * k + 1]!;
        return { h: factors >> 4, v: factors & 15 };
      });
      return { height: view.getUint16(body + 1), width: view.getUint16(body + 3), orientation, components, adobe };
    }
    if (marker === 0xda) return undefined; // scan data before any frame header
    const segment = bytes.subarray(body, Math.min(bytes.length, pos + 2 + length));
    if (marker === 0xe1) orientation = exifOrientation(segment) ?? orientation;
    if (marker === 0xee && String.fromCharCode(...segment.subarray(0, 5)) === 'Adobe') adobe = true;
    pos += 2 + length;
  }
  return undefined;
}

/** Tag 0x0112 of IFD0 in an APP1 "Exif\0\0" payload; undefined for anything unexpected. */
function exifOrientation(app1: Uint8Array): number | undefined {
  const exif = [0x45, 0x78, 0x69, 0x66, 0, 0];
  if (app1.length < 14 || !exif.every((b, i) => app1[i] === b)) return undefined;
  const tiff = app1.subarray(6);
  const view = new DataView(tiff.buffer, tiff.byteOffset, tiff.byteLength);
  const little = tiff[0] === 0x49 && tiff[1] === 0x49;
  if (!little && !(tiff[0] === 0x4d && tiff[1] === 0x4d)) return undefined;
  const ifd = view.getUint32(4, little);
  if (ifd + 2 > tiff.length) return undefined;
  const count = view.getUint16(ifd, little);
  for (let k = 0; k < count; k++) {
    const entry = ifd + 2 + 12 * k;
    if (entry + 12 > tiff.length) return undefined;
    if (view.getUint16(entry, little) !== 0x0112) continue;
    const value = view.getUint16(entry + 8, little);
    return value >= 1 && value <= 8 ? value : undefined;
  }
  return undefined;
}

/** Channels of each PNG colour type (grey, RGB, palette, grey + alpha, RGBA). */
const PNG_CHANNELS: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };

/** Bytes a non-interlaced PNG's image data inflates to: every row, with its filter byte (0 for an unknown colour type). */
export function pngRawBytes(header: PngHeader): number {
  const channels = PNG_CHANNELS[header.colorType];
  if (!channels) return 0;
  return header.height * (1 + Math.ceil((header.width * channels * header.bitDepth) / 8));
}

/**
 * The fewest bytes a complete PNG or JPEG with this header can take. Deflate packs at most about 1032 bytes
 * into one, so a PNG needs at least 1/1032 of its pixel rows (filter bytes included); every 8×8 block of
 * every JPEG component needs at least one bit of Huffman code. 0 when the header is too odd to tell.
 */
export function smallestImageBytes(header: PngHeader | JpegHeader): number {
  const { width, height } = header;
  if ('bitDepth' in header) return Math.floor(pngRawBytes(header) / 1032);
  const hMax = Math.max(...header.components.map((c) => c.h));
  const vMax = Math.max(...header.components.map((c) => c.v));
  if (!(hMax > 0 && vMax > 0) || header.components.some((c) => !(c.h > 0 && c.v > 0))) return 0;
  const blocks = header.components.reduce((n, c) => n + Math.ceil(Math.ceil((width * c.h) / hMax) / 8) * Math.ceil(Math.ceil((height * c.v) / vMax) / 8), 0);
  return Math.floor(blocks / 8);
}

function kilobytes(bytes: number): string {
  return bytes >= 1e6 ? `${(bytes / 1e6).toFixed(1)} MB` : `${Math.max(1, Math.round(bytes / 1e3))} kB`;
}

/**
 * Why a file is too small for the image its header declares ("truncated PNG: …"), or undefined. Such a file
 * was cut short or crafted; refusing it from the header keeps a few kilobytes from claiming the hundreds of
 * megabytes its declared size would take to decode.
 */
export function tooSmallForHeader(format: ImageFormat, header: PngHeader | JpegHeader, fileBytes: number): string | undefined {
  const needed = smallestImageBytes(header);
  if (fileBytes >= needed) return undefined;
  return (
    `truncated ${format.toUpperCase()}: its ${kilobytes(fileBytes)} cannot hold the ${header.width} × ${header.height} pixels its header declares ` +
    `(a complete file takes at least ${kilobytes(needed)}); the download or copy did not complete`
  );
}

/** Refuses an image over MAX_IMAGE_PIXELS, in words a user can act on. */
export function checkImagePixels(name: string, width: number, height: number): void {
  if (width * height <= MAX_IMAGE_PIXELS) return;
  const megapixels = Math.round((width * height) / 1e6);
  throw new ImageDecodeError(
    `${name} is a ${megapixels}-megapixel image (${width} × ${height}); images over ${MAX_IMAGE_PIXELS / 1e6} megapixels are ` +
      'refused so they cannot exhaust memory. Scale it down first.',
  );
}

// ---------------------------------------------------------------------------------------------
// Geometry

export interface PreprocessParams {
  /** Output side: the model's input size. */
  size: number;
  /** timm's crop_pct: the shorter side is resized to floor(size / cropPct) before the centre crop. */
  cropPct: number;
  mean: [number, number, number];
  std: [number, number, number];
}

export interface ResizeGeometry {
  resizedWidth: number;
  resizedHeight: number;
  /** Crop origin in the resized image; negative when crop_pct > 1 pads (torchvision pads with zeros). */
  left: number;
  top: number;
}

/** Python 3's round(): halves go to the even neighbour. */
function roundHalfEven(x: number): number {
  const floor = Math.floor(x);
  const diff = x - floor;
  if (diff > 0.5) return floor + 1;
  if (diff < 0.5) return floor;
  return floor % 2 === 0 ? floor : floor + 1;
}

/** torchvision's Resize(int) and CenterCrop geometry for a width × height image, as timm uses them. */
export function resizeGeometry(width: number, height: number, size: number, cropPct: number): ResizeGeometry {
  const short = Math.floor(size / cropPct);
  if (!(short >= 1)) throw new ShapeError(`Preprocessing: size ${size} with crop_pct ${cropPct} resizes the shorter side to ${short} pixels.`);
  // Multiply before dividing, in f64, then truncate: int(requested_new_short * long / short).
  const [resizedWidth, resizedHeight] =
    width <= height ? [short, Math.trunc((short * height) / width)] : [Math.trunc((short * width) / height), short];
  // CenterCrop pads first when the crop is larger: (crop − side) // 2 on the left/top.
  const origin = (side: number): number => (size > side ? -Math.floor((size - side) / 2) : roundHalfEven((side - size) / 2));
  return { resizedWidth, resizedHeight, left: origin(resizedWidth), top: origin(resizedHeight) };
}

/** The source taps [first, end) of PIL's filter for resized coordinate `o` (the host's f64 copy of tap_span). */
export function tapSpan(o: number, inSize: number, outSize: number): [number, number] {
  const scale = inSize / outSize;
  const support = 2 * Math.max(scale, 1);
  const center = (o + 0.5) * scale;
  return [Math.max(Math.trunc(center - support + 0.5), 0), Math.min(Math.trunc(center + support + 0.5), inSize)];
}

// ---------------------------------------------------------------------------------------------
// GPU

const WG = 256;
/** Source rows are uploaded in bands no larger than this, so a 50-MP photo never needs one huge binding. */
const DEFAULT_BAND_BYTES = 32 * 1024 * 1024;

export interface PreprocessOptions {
  /**
   * Round each resize pass to 8 bits as PIL does, reproducing timm's inputs (to compare logits with
   * PyTorch). Off by default: the f32 result is the more accurate resize and differs by ≤ ~1 level.
   */
  roundLikePil?: boolean;
  /** Largest upload of source rows per band (tests lower it to exercise banding). */
  maxBandBytes?: number;
}

function checkParams(p: PreprocessParams): void {
  if (!Number.isInteger(p.size) || p.size < 1) throw new ShapeError(`Preprocessing: size must be a whole number ≥ 1 (got ${p.size}).`);
  if (!(p.cropPct > 0) || !Number.isFinite(p.cropPct)) throw new ShapeError(`Preprocessing: crop_pct must be a positive number (got ${p.cropPct}).`);
  if (p.std.some((s) => !(s !== 0 && Number.isFinite(s)))) throw new ShapeError(`Preprocessing: std must be finite and non-zero (got ${p.std.join(', ')}).`);
}

function checkImage(image: RgbaImage): void {
  const { width, height, data } = image;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new ShapeError(`Preprocessing: an image must be at least 1 × 1 pixels (got ${width} × ${height}).`);
  }
  if (data.length !== width * height * 4) {
    throw new ShapeError(`Preprocessing: a ${width} × ${height} RGBA image needs ${width * height * 4} bytes, got ${data.length}.`);
  }
}

/**
 * Preprocesses one image into slot `index` of `out` ([N, 3, size, size]) on the GPU: uploads its RGBA8
 * pixels (only the rows the crop needs, in bands) and records two dispatches. Nothing is read back.
 */
export function preprocessInto(ctx: GpuContext, image: RgbaImage, out: Tensor, index: number, p: PreprocessParams, options: PreprocessOptions = {}): void {
  checkParams(p);
  checkImage(image);
  const { size } = p;
  const [n, c, h, w] = out.shape;
  if (out.rank !== 4 || c !== 3 || h !== size || w !== size) {
    throw new ShapeError(`Preprocessing writes [N, 3, ${size}, ${size}] batches; the output tensor is ${shapeText(out.shape)}.`);
  }
  if (!Number.isInteger(index) || index < 0 || index >= n!) {
    throw new ShapeError(`Preprocessing: image index ${index} is outside the batch ${shapeText(out.shape)}.`);
  }

  const { width, height } = image;
  const g = resizeGeometry(width, height, size, p.cropPct);
  // Source rows the vertical filter reads for the crop's rows, with a row of margin for the shader's f32
  // span (spans grow with the output coordinate, so the two extreme rows bound them all).
  const firstRow = Math.max(0, g.top);
  const lastRow = Math.min(g.resizedHeight, g.top + size) - 1;
  let rowStart = 0;
  let rowEnd = 0;
  if (lastRow >= firstRow) {
    rowStart = Math.max(0, tapSpan(firstRow, height, g.resizedHeight)[0] - 1);
    rowEnd = Math.min(height, tapSpan(lastRow, height, g.resizedHeight)[1] + 1);
  }
  const rowCount = rowEnd - rowStart;

  const axis = (inSize: number, outSize: number): F32[] => {
    const scale = inSize / outSize;
    const filterScale = Math.max(scale, 1);
    return [f32(scale), f32(2 * filterScale), f32(1 / filterScale), f32(1 / (2 * outSize))];
  };
  const fields = (bandStart: number, bandRows: number): Param[] => [
    width,
    height,
    bandStart,
    bandRows,
    rowStart,
    rowCount,
    size,
    g.resizedWidth,
    g.resizedHeight,
    i32(g.left),
    i32(g.top),
    index * 3 * size * size,
    ...axis(width, g.resizedWidth),
    ...axis(height, g.resizedHeight),
    ...p.mean.map((m) => f32(m)),
    ...p.std.map((s) => f32(1 / s)),
  ];

  const defines = { ROUND_LIKE_PIL: options.roundLikePil ?? false };
  const rowsBytes = Math.max(1, rowCount) * size * 16;
  const rows: BufferRange = { buffer: ctx.pool.acquire(rowsBytes, 'image preprocessing rows'), byteOffset: 0, byteLength: rowsBytes };
  const rowBytes = width * 4;
  const bandBytesLimit = Math.min(options.maxBandBytes ?? DEFAULT_BAND_BYTES, ctx.limits.maxStorageBufferBindingSize);
  const bandRowsMax = Math.max(1, Math.floor(bandBytesLimit / rowBytes));
  const bandCapacity = Math.min(bandRowsMax, Math.max(1, rowCount)) * rowBytes;
  const band: BufferRange = { buffer: ctx.pool.acquire(bandCapacity, 'image pixels'), byteOffset: 0, byteLength: bandCapacity };
  try {
    const pixels = image.data as Uint8Array<ArrayBuffer>;
    for (let start = rowStart; start < rowEnd; start += bandRowsMax) {
      const count = Math.min(bandRowsMax, rowEnd - start);
      const bytes = pixels.subarray(start * rowBytes, (start + count) * rowBytes);
      ctx.write({ ...band, byteLength: bytes.byteLength }, bytes);
      ctx.dispatch({ shader: 'image', entry: 'resize_rows', defines }, fields(start, count), [{ ...band, byteLength: bytes.byteLength }, rows], grid1d(count * size, WG));
    }
    const slot: BufferRange = { buffer: out.buffer, byteOffset: out.byteOffset, byteLength: out.byteLength };
    ctx.dispatch({ shader: 'image', entry: 'resize_cols', defines }, fields(rowStart, 0), [rows, slot], grid1d(size * size, WG));
  } finally {
    // Later users of these buffers are ordered after the dispatches above (same queue, writes flush first).
    ctx.pool.release(band.buffer);
    ctx.pool.release(rows.buffer);
  }
}

/** A new [N, 3, size, size] tensor with every image preprocessed into its slot. */
export function preprocessImages(ctx: GpuContext, images: readonly RgbaImage[], p: PreprocessParams, options: PreprocessOptions = {}): Tensor {
  checkParams(p);
  if (images.length === 0) throw new ShapeError('Preprocessing needs at least one image.');
  const out = Tensor.empty(ctx, [images.length, 3, p.size, p.size], 'preprocessed images');
  try {
    images.forEach((image, i) => preprocessInto(ctx, image, out, i, p, options));
  } catch (error) {
    out.dispose();
    throw error;
  }
  return out;
}
