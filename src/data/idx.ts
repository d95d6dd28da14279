// IDX files (MNIST, Fashion-MNIST): big-endian header `u32 magic | u32 count | u32 rows | u32 cols`, then bytes.

export interface IdxImages {
  count: number;
  rows: number;
  cols: number;
  pixels: Uint8Array;
}

function u32(bytes: Uint8Array, offset: number): number {
  return new DataView(bytes.buffer, bytes.byteOffset + offset, 4).getUint32(0, false);
}

export function parseIdxImages(bytes: Uint8Array): IdxImages {
  if (bytes.length < 16 || u32(bytes, 0) !== 2051) throw new Error('Not an IDX image file (magic 2051 expected).');
  const count = u32(bytes, 4);
  const rows = u32(bytes, 8);
  const cols = u32(bytes, 12);
  if (bytes.length < 16 + count * rows * cols) throw new Error(`The IDX image file is truncated: ${count} images of ${rows}×${cols} do not fit.`);
  return { count, rows, cols, pixels: bytes.subarray(16, 16 + count * rows * cols) };
}

export function parseIdxLabels(bytes: Uint8Array): Uint8Array {
  if (bytes.length < 8 || u32(bytes, 0) !== 2049) throw new Error('Not an IDX label file (magic 2049 expected).');
  const count = u32(bytes, 4);
  if (bytes.length < 8 + count) throw new Error('The IDX label file is truncated.');
  return bytes.subarray(8, 8 + count);
}

/** Grey images → normalised [N, 3, H, W] (grey copied to three channels): (x/255 − mean)/std. */
export function greyToPixelValues(images: IdxImages, indices: readonly number[], mean: number, std: number): Float32Array {
  const { rows, cols } = images;
  const plane = rows * cols;
  const out = new Float32Array(indices.length * 3 * plane);
  indices.forEach((index, k) => {
    for (let i = 0; i < plane; i++) {
      const v = (images.pixels[index * plane + i]! / 255 - mean) / std;
      out[(k * 3) * plane + i] = v;
      out[(k * 3 + 1) * plane + i] = v;
      out[(k * 3 + 2) * plane + i] = v;
    }
  });
  return out;
}
