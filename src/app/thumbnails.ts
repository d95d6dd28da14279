// Thumbnails on the page, made from the 8-bit RGB samples the data set stores (never from the files).

/** A PNG data URL of a square RGB sample of side `size`. */
export function thumbnailUrl(rgb: Uint8Array, size: number): string {
  const canvas = document.createElement('canvas');
  canvas.width = size;
  canvas.height = size;
  const context = canvas.getContext('2d');
  if (!context) return '';
  const image = context.createImageData(size, size);
  for (let p = 0; p < size * size; p++) {
    image.data[p * 4] = rgb[p * 3]!;
    image.data[p * 4 + 1] = rgb[p * 3 + 1]!;
    image.data[p * 4 + 2] = rgb[p * 3 + 2]!;
    image.data[p * 4 + 3] = 255;
  }
  context.putImageData(image, 0, 0);
  return canvas.toDataURL('image/png');
}
