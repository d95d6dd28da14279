// PNG and JPEG decoding in Node (pngjs, jpeg-js) to RGBA8, following what timm's loader does with PIL,
// `Image.open(f).convert('RGB')`, so training in Node sees the pixels timm sees:
// - grey, grey+alpha and palette images become three equal (or palette) channels;
// - alpha is carried in the RGBA data but ignored downstream, as convert('RGB') drops it (no compositing
//   on black or white); colours under transparent pixels are kept, including a tRNS colour key;
// - 16-bit PNG keeps the high byte of each sample, as PIL does for 16-bit RGB. (PIL clips 16-bit grey to
//   0–255 instead, which whitens such images; here grey is treated like RGB.)
// - JPEG EXIF orientation is applied, as browsers do (decode-browser.ts); PIL and timm ignore it.
// PNGs decode exactly as PIL does. JPEGs get libjpeg's chroma upsampling and colour conversion on top of
// jpeg-js's IDCT, and come within 3 levels of PIL's libjpeg-turbo (mean ≤ 0.19; tests/unit/preprocess.test.ts).

import jpeg from 'jpeg-js';
import pngjs from 'pngjs';
import { Inflate } from 'fflate';
import { checkImagePixels, ImageDecodeError, imageFormat, jpegHeader, MAX_IMAGE_PIXELS, pngHeader, pngRawBytes, tooSmallForHeader, type PngHeader, type RgbaImage } from './preprocess';

const { PNG } = pngjs;

/** Decodes PNG or JPEG bytes (told apart by their signature) to RGBA8; `name` appears in error messages. */
export function decodeImage(bytes: Uint8Array, name = 'The image'): RgbaImage {
  if (bytes.length === 0) throw new ImageDecodeError(`${name} is empty (0 bytes): the file did not finish downloading or saving.`);
  const format = imageFormat(bytes);
  if (format === 'png') return decodePng(bytes, name);
  if (format === 'jpeg') return decodeJpeg(bytes, name);
  const start = [...bytes.subarray(0, 4)].map((b) => b.toString(16).padStart(2, '0')).join(' ');
  throw new ImageDecodeError(`${name} is not an image this program reads: only PNG and JPEG are supported, and it starts with bytes ${start}.`);
}

function decodePng(bytes: Uint8Array, name: string): RgbaImage {
  const header = pngHeader(bytes);
  if (!header) throw new ImageDecodeError(`${name} is a corrupt PNG: the file ends or goes wrong before its IHDR header.`);
  checkImagePixels(name, header.width, header.height);
  const tooSmall = tooSmallForHeader('png', header, bytes.length);
  if (tooSmall) throw new ImageDecodeError(`${name} is a ${tooSmall}.`);
  const chunks = pngChunks(bytes);
  if (!chunks) throw new ImageDecodeError(`${name} is a truncated PNG: it stops inside a chunk or before its IEND chunk; the download or copy did not complete.`);
  checkImageData(name, bytes, header, chunks);
  // pngjs zeroes the whole pixel under a tRNS colour key; PIL keeps its colour, so drop the key.
  const dropKey = (header.colorType === 0 || header.colorType === 2) && chunks.some((c) => c.type === 'tRNS');
  const input = dropKey ? concat(chunks.filter((c) => c.type !== 'tRNS').map((c) => c.bytes), bytes.subarray(0, 8)) : bytes;
  const sixteen = header.bitDepth === 16;
  let png: { width: number; height: number; data: ArrayLike<number> };
  try {
    // Without skipRescale pngjs rounds 16-bit samples to 8 bits; PIL truncates (keeps the high byte).
    png = PNG.sync.read(Buffer.from(input.buffer, input.byteOffset, input.byteLength), { skipRescale: sixteen });
  } catch (error) {
    throw new ImageDecodeError(`${name} is a corrupt PNG (${decoderDetail(error)}).`);
  }
  const data = new Uint8Array(png.width * png.height * 4);
  if (sixteen) {
    for (let i = 0; i < data.length; i++) data[i] = (png.data[i] as number) >> 8;
  } else {
    data.set(png.data);
  }
  return { width: png.width, height: png.height, data };
}

/**
 * Refuses a PNG whose image data inflates to less than its rows need. pngjs's synchronous inflater (for
 * non-interlaced images) reads zlib's progress the wrong way round and returns its whole output buffer even
 * when the data stopped early: a PNG with its IDAT data cut or missing decoded to pixels taken from
 * uninitialized memory (found by fuzzing: the same bytes decoded differently from run to run). So the data is
 * inflated once here, with Node's own zlib, and must fill every row before pngjs sees it.
 */
function checkImageData(name: string, bytes: Uint8Array, header: PngHeader, chunks: { type: string; bytes: Uint8Array }[]): void {
  if (bytes[28] !== 0) return; // interlaced: pngjs inflates it with zlib.inflateSync, which is sound
  const needed = pngRawBytes(header);
  if (needed === 0) return; // an unknown colour type: pngjs refuses it
  // Counted as it inflates (fflate's stream, its output dropped): memory stays at its 32 KB window.
  let got = 0;
  const inflater = new Inflate((chunk) => {
    got += chunk.length;
  });
  try {
    // The zlib header (2 bytes) first, then the deflate stream: fflate's Inflate reads raw deflate.
    const zlibData = concat(chunks.filter((c) => c.type === 'IDAT').map((c) => c.bytes.subarray(8, c.bytes.length - 4)), new Uint8Array(0));
    if (zlibData.length < 2) got = 0;
    else inflater.push(zlibData.subarray(2), false);
  } catch (error) {
    throw new ImageDecodeError(`${name} is a corrupt PNG (${decoderDetail(error)}).`);
  }
  if (got < needed) {
    throw new ImageDecodeError(`${name} is a truncated PNG: its image data fills ${got} of the ${needed} bytes its ${header.width} × ${header.height} pixels need; the download or copy did not complete.`);
  }
}

/** The chunks after the signature, or undefined when the file stops inside one or before IEND. */
function pngChunks(bytes: Uint8Array): { type: string; bytes: Uint8Array }[] | undefined {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const chunks: { type: string; bytes: Uint8Array }[] = [];
  for (let pos = 8; pos + 12 <= bytes.length; ) {
    const end = pos + 12 + view.getUint32(pos);
    if (end > bytes.length) return undefined;
    const type = String.fromCharCode(bytes[pos + 4]!, bytes[pos + 5]!, bytes[pos + 6]!, bytes[pos + 7]!);
    chunks.push({ type, bytes: bytes.subarray(pos, end) });
    if (type === 'IEND') return chunks;
    pos = end;
  }
  return undefined;
}

function concat(parts: Uint8Array[], first: Uint8Array): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, part) => n + part.length, first.length));
  out.set(first);
  let offset = first.length;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

function decodeJpeg(bytes: Uint8Array, name: string): RgbaImage {
  const header = jpegHeader(bytes);
  if (!header) throw new ImageDecodeError(`${name} is a corrupt JPEG: the file ends or goes wrong before its frame header.`);
  checkImagePixels(name, header.width, header.height);
  const tooSmall = tooSmallForHeader('jpeg', header, bytes.length);
  if (tooSmall) throw new ImageDecodeError(`${name} is a ${tooSmall}.`);
  // jpeg-js replicates subsampled chroma and truncates in its colour conversion; libjpeg (PIL, browsers)
  // interpolates and rounds. For plain YCbCr files, take jpeg-js's YCbCr and finish the libjpeg way.
  const ycc = header.components.length === 3 && !header.adobe;
  let decoded: { width: number; height: number; data: Uint8Array };
  try {
    decoded = jpeg.decode(bytes, {
      useTArray: true,
      formatAsRGBA: !ycc,
      ...(ycc ? { colorTransform: false } : {}),
      // Strict, like PIL: a truncated file is an error, not an image with a grey bottom.
      tolerantDecoding: false,
      maxResolutionInMP: MAX_IMAGE_PIXELS / 1e6,
      maxMemoryUsageInMB: 2048,
    });
  } catch (error) {
    const detail = decoderDetail(error);
    if (!hasEndMarker(bytes)) {
      throw new ImageDecodeError(`${name} is a truncated JPEG: it stops before its end marker (${detail}); the download or copy did not complete.`);
    }
    throw new ImageDecodeError(`${name} is a corrupt or unsupported JPEG (${detail}).`);
  }
  const { width, height } = decoded;
  const image = ycc ? ycbcrToRgba(decoded.data, width, height, header.components) : { width, height, data: decoded.data };
  return orient(image, header.orientation);
}

/**
 * What a decoder library said went wrong, when it said it: pngjs and jpeg-js throw plain Errors that name
 * the problem ("invalid huffman sequence"); a TypeError or RangeError is their own code tripping over
 * damaged data, and its text ("Cannot read properties of undefined") means nothing to a user.
 */
function decoderDetail(error: unknown): string {
  if (error instanceof Error && error.constructor === Error && error.message) return error.message;
  return 'its data is damaged';
}

/** EOI (FF D9) among the last bytes: files may carry a little trailing data after it. */
function hasEndMarker(bytes: Uint8Array): boolean {
  for (let i = bytes.length - 2; i >= Math.max(0, bytes.length - 256); i--) {
    if (bytes[i] === 0xff && bytes[i + 1] === 0xd9) return true;
  }
  return false;
}

/**
 * Interleaved YCbCr at full resolution (subsampled components replicated) → RGBA8, with libjpeg's
 * "fancy" triangle upsampling of 2× subsampled components and its fixed-point colour conversion.
 */
function ycbcrToRgba(ycc: Uint8Array, width: number, height: number, components: { h: number; v: number }[]): RgbaImage {
  const maxH = Math.max(...components.map((c) => c.h));
  const maxV = Math.max(...components.map((c) => c.v));
  const planes = components.map((c, k) => upsample(ycc, width, height, k, maxH / c.h, maxV / c.v));
  const [luma, cb, cr] = planes as [Uint8Array, Uint8Array, Uint8Array];
  const data = new Uint8Array(width * height * 4);
  const half = 1 << 15;
  for (let i = 0; i < width * height; i++) {
    const y = luma[i]!;
    const b = cb[i]! - 128;
    const r = cr[i]! - 128;
    data[4 * i] = clamp255(y + ((91881 * r + half) >> 16)); // FIX(1.40200) = 91881
    data[4 * i + 1] = clamp255(y + ((-22554 * b + half - 46802 * r) >> 16)); // FIX(0.34414), FIX(0.71414)
    data[4 * i + 2] = clamp255(y + ((116130 * b + half) >> 16)); // FIX(1.77200)
    data[4 * i + 3] = 255;
  }
  return { width, height, data };
}

const clamp255 = (v: number): number => (v < 0 ? 0 : v > 255 ? 255 : v);

/** Component `k` at full resolution, from samples replicated `rx` × `ry` times (libjpeg's jdsample.c). */
function upsample(ycc: Uint8Array, width: number, height: number, k: number, rx: number, ry: number): Uint8Array {
  const out = new Uint8Array(width * height);
  const fancyX = rx === 2;
  const fancyY = ry === 2;
  if ((rx !== 1 && !fancyX) || (ry !== 1 && !fancyY) || (rx === 1 && ry === 1)) {
    // No subsampling, or a ratio libjpeg also replicates.
    for (let i = 0; i < width * height; i++) out[i] = ycc[3 * i + k]!;
    return out;
  }
  const sw = Math.ceil(width / rx);
  const sh = Math.ceil(height / ry);
  const sample = (i: number, j: number): number => ycc[3 * (Math.min(i, sh - 1) * ry * width + Math.min(j, sw - 1) * rx) + k]!;
  // Edges repeat the outermost sample, which is what libjpeg's special cases amount to.
  for (let i = 0; i < sh; i++) {
    for (let v = 0; v < ry; v++) {
      const y = i * ry + v;
      if (y >= height) break;
      const neighbourRow = fancyY ? (v === 0 ? Math.max(i - 1, 0) : i + 1) : i;
      // Vertical step first (3/4 nearer row + 1/4 farther row), in quarter units.
      const column = (j: number): number => (fancyY ? 3 * sample(i, j) + sample(neighbourRow, j) : 4 * sample(i, j));
      for (let j = 0; j < sw; j++) {
        const x = j * rx;
        if (!fancyX) {
          out[y * width + x] = fancyY ? (column(j) + (v === 0 ? 1 : 2)) >> 2 : sample(i, j);
          continue;
        }
        const here = column(j);
        const left = column(Math.max(j - 1, 0));
        const right = column(j + 1);
        if (fancyY) {
          out[y * width + x] = (3 * here + left + 8) >> 4;
          if (x + 1 < width) out[y * width + x + 1] = (3 * here + right + 7) >> 4;
        } else {
          // h2v1 works on plain samples (column() is 4× a sample here): (3a + b + 1) >> 2, (3a + c + 2) >> 2.
          out[y * width + x] = (3 * here + left + 4 * 1) >> 4;
          if (x + 1 < width) out[y * width + x + 1] = (3 * here + right + 4 * 2) >> 4;
        }
      }
    }
  }
  return out;
}

/** Turns stored pixels upright for EXIF orientation 2–8 (mirrors, rotations, transpositions). */
export function orient(image: RgbaImage, orientation: number): RgbaImage {
  if (orientation < 2 || orientation > 8) return image;
  const { width: w, height: h, data } = image;
  const swap = orientation >= 5;
  const outW = swap ? h : w;
  const outH = swap ? w : h;
  const out = new Uint32Array(outW * outH);
  const aligned = data.byteOffset % 4 === 0 ? data : data.slice();
  const src = new Uint32Array(aligned.buffer, aligned.byteOffset, w * h);
  for (let y = 0; y < outH; y++) {
    for (let x = 0; x < outW; x++) {
      let sx: number;
      let sy: number;
      switch (orientation) {
        case 2: [sx, sy] = [w - 1 - x, y]; break;
        case 3: [sx, sy] = [w - 1 - x, h - 1 - y]; break;
        case 4: [sx, sy] = [x, h - 1 - y]; break;
        case 5: [sx, sy] = [y, x]; break;
        case 6: [sx, sy] = [y, h - 1 - x]; break;
        case 7: [sx, sy] = [w - 1 - y, h - 1 - x]; break;
        default: [sx, sy] = [w - 1 - y, x]; break; // 8
      }
      out[y * outW + x] = src[sy * w + sx]!;
    }
  }
  return { width: outW, height: outH, data: new Uint8Array(out.buffer) };
}
