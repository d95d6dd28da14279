// Tiny real GIF, BMP and WebP files (3 × 5 pixels, written by Pillow: GIF, BMP, and WebP as lossy VP8,
// lossless VP8L and extended VP8X with alpha), and the same files made to declare another size, as each
// format stores it: for the declared-size tests and the precheck's fuzz entry.

export const PILLOW_3X5: Record<string, string> = {
  gif: 'R0lGODdhAwAFAIEAAArIHgAAAAAAAAAAACwAAAAAAwAFAAAICAABCBxIsGBAADs=',
  bmp: 'Qk1yAAAAAAAAADYAAAAoAAAAAwAAAAUAAAABABgAAAAAADwAAADEDgAAxA4AAAAAAAAAAAAAHsgKHsgKHsgKAAAAHsgKHsgKHsgKAAAAHsgKHsgKHsgKAAAAHsgKHsgKHsgKAAAAHsgKHsgKHsgKAAAA',
  'webp VP8': 'UklGRjoAAABXRUJQVlA4IC4AAAAQAgCdASoDAAUAAUAmJaACdLoB+AH4AAPIAP7Lt//TRRhTH3Jv/u82AMJf8IAA',
  'webp VP8L': 'UklGRh4AAABXRUJQVlA4TBEAAAAvAgABAAdQ5CrUo/+BiOh/AAA=',
  'webp VP8X': 'UklGRl4AAABXRUJQVlA4WAoAAAAQAAAAAgAABAAAQUxQSAoAAAABB1DAiAhERP8DVlA4IC4AAAAQAgCdASoDAAUAAUAmJaACdLoB+AH4AAPIAP7Lt//TRRhTH3Jv/u82AMJf8IAA',
};

export const pillowImage = (name: string): Uint8Array => Uint8Array.from(Buffer.from(PILLOW_3X5[name]!, 'base64'));

/** The file with its declared size set to width × height, as each format stores it. */
export function declaring(name: string, width: number, height: number): Uint8Array {
  const b = pillowImage(name);
  const view = new DataView(b.buffer);
  if (name === 'gif') [0, 1].forEach((i) => view.setUint16(6 + 2 * i, [width, height][i]!, true));
  if (name === 'bmp') [0, 1].forEach((i) => view.setInt32(18 + 4 * i, [width, -height][i]!, true));
  if (name === 'webp VP8') [0, 1].forEach((i) => view.setUint16(26 + 2 * i, [width, height][i]!, true));
  if (name === 'webp VP8L') view.setUint32(21, ((width - 1) | ((height - 1) << 14)) | (view.getUint32(21, true) & 0xf0000000), true);
  if (name === 'webp VP8X') [0, 1].forEach((i) => [0, 1, 2].forEach((k) => (b[24 + 3 * i + k] = (([width, height][i]! - 1) >> (8 * k)) & 0xff)));
  return b;
}
