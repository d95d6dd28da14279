// The sizes GIF, WebP and BMP headers declare (src/data/declared-size.ts), read from real files Pillow wrote
// (tests/helpers/pillow-images.ts), and the intake precheck refusing each format when its header declares more than the megapixel limit.
import { describe, expect, it } from 'vitest';
import { declaredSize } from '../../src/data/declared-size';
import { precheck, sniffImage } from '../../src/data/intake';
import { declaring, PILLOW_3X5, pillowImage as bytes } from '../helpers/pillow-images';

describe('declared image sizes', () => {
  it('reads the size Pillow wrote into GIF, BMP and the three WebP kinds', () => {
    for (const name of Object.keys(PILLOW_3X5)) {
      const b = bytes(name);
      expect(declaredSize(sniffImage(b)!, b), name).toEqual({ width: 3, height: 5 });
    }
  });

  it('the precheck refuses a GIF, BMP or WebP declaring more than 50 megapixels and lets the real ones through', async () => {
    const big: [string, number, number, RegExp][] = [
      ['gif', 65535, 65535, /^4295-megapixel image \(65535 × 65535\), over the 50-megapixel limit: scale it down first$/],
      ['bmp', 10000, 10000, /^100-megapixel image \(10000 × 10000\)/],
      ['webp VP8', 16383, 16383, /^268-megapixel image \(16383 × 16383\)/],
      ['webp VP8L', 16384, 16384, /^268-megapixel image \(16384 × 16384\)/],
      ['webp VP8X', 16777216, 16777216, /^281474977-megapixel image \(16777216 × 16777216\)/],
    ];
    for (const [name, w, h, refusal] of big) {
      expect(await precheck(`cat/a.${name.split(' ')[0]}`, new Blob([declaring(name, w, h) as Uint8Array<ArrayBuffer>])), name).toMatch(refusal);
      expect(await precheck(`cat/a.${name.split(' ')[0]}`, new Blob([declaring(name, 7000, 7000) as Uint8Array<ArrayBuffer>])), `${name} at 49 megapixels`).toBeUndefined();
      expect(await precheck(`cat/a.${name.split(' ')[0]}`, new Blob([bytes(name) as Uint8Array<ArrayBuffer>])), name).toBeUndefined();
    }
  });
});
