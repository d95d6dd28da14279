// Image decoding in the browser: the browser's own decoders (PNG, JPEG, and whatever else it reads),
// EXIF orientation applied, embedded colour profiles ignored (as PIL does), read back as RGBA8 through
// an OffscreenCanvas.
// A 2D canvas stores premultiplied alpha, so under transparent pixels the colour comes back black and
// under translucent ones slightly rounded; opaque images come back exactly as decoded. (Node's decoder and
// PIL keep colours under alpha; only semi-transparent PNGs can differ.)

import { checkImagePixels, ImageDecodeError, imageFormat, jpegHeader, pngHeader, tooSmallForHeader, type RgbaImage } from './preprocess';

/** Enough of the file for a PNG's IHDR or a JPEG's frame header behind a large EXIF thumbnail. */
const HEADER_BYTES = 256 * 1024;

function blobName(blob: Blob): string {
  return typeof File !== 'undefined' && blob instanceof File ? blob.name : 'The image';
}

/** Decodes an image file or blob to RGBA8; huge PNGs and JPEGs are refused from their header first. */
export async function decodeImageBlob(blob: Blob, name = blobName(blob)): Promise<RgbaImage> {
  if (blob.size === 0) throw new ImageDecodeError(`${name} is empty (0 bytes): the file did not finish downloading or saving.`);
  const head = new Uint8Array(await blob.slice(0, HEADER_BYTES).arrayBuffer());
  const format = imageFormat(head);
  const header = format === 'png' ? pngHeader(head) : format === 'jpeg' ? jpegHeader(head) : undefined;
  if (header) checkImagePixels(name, header.width, header.height);
  const tooSmall = header && format ? tooSmallForHeader(format, header, blob.size) : undefined;
  if (tooSmall) throw new ImageDecodeError(`${name} is a ${tooSmall}.`);

  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(blob, { imageOrientation: 'from-image', colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
  } catch {
    throw new ImageDecodeError(`${name} could not be decoded: it is not an image this browser reads, or it is corrupt.`);
  }
  try {
    const { width, height } = bitmap;
    checkImagePixels(name, width, height); // formats whose header was not read above
    const canvas = new OffscreenCanvas(width, height);
    const context = canvas.getContext('2d', { willReadFrequently: true });
    if (!context) throw new ImageDecodeError(`${name} could not be read back: this browser gave no 2D canvas.`);
    context.drawImage(bitmap, 0, 0);
    const pixels = context.getImageData(0, 0, width, height).data;
    return { width, height, data: new Uint8Array(pixels.buffer, pixels.byteOffset, pixels.byteLength) };
  } finally {
    bitmap.close();
  }
}
