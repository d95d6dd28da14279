// CPU references for src/data/preprocess.ts: timm's eval transform (resize shorter side with PIL's
// antialiased bicubic, centre crop, /255, normalise) in two flavours:
//   'f64' — the same mathematics as the GPU kernel in float64: no rounding, clamped to [0, 1] after each
//           pass (as PIL clamps); the GPU should agree to f32 precision.
//   'pil' — PIL 9's Resample.c as it runs on 8-bit images: f64 coefficients turned into 22-bit fixed
//           point, each pass rounded to uint8, then ToTensor and Normalize in float32 as torch does. On
//           the fixtures this reproduces PIL's output bit for bit, which proves the geometry and filter.

import { resizeGeometry, type PreprocessParams, type RgbaImage } from '../../src/data/preprocess';

export type ReferenceMode = 'f64' | 'pil';

const PRECISION_BITS = 32 - 8 - 2;

// PIL's bicubic_filter, operation for operation (so the f64 coefficients are bit-identical).
function bicubic(x: number): number {
  const a = -0.5;
  if (x < 0.0) x = -x;
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
  if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
  return 0.0;
}

interface Coefficients {
  first: number;
  weights: number[];
}

// PIL's precompute_coeffs for one output coordinate, weights normalised to sum 1.
function coefficients(o: number, inSize: number, outSize: number): Coefficients {
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = 2.0 * filterScale;
  const center = (o + 0.5) * scale;
  const ss = 1.0 / filterScale;
  const first = Math.max(Math.trunc(center - support + 0.5), 0);
  const end = Math.min(Math.trunc(center + support + 0.5), inSize);
  const weights: number[] = [];
  let sum = 0;
  for (let s = first; s < end; s++) {
    const w = bicubic((s - center + 0.5) * ss);
    weights.push(w);
    sum += w;
  }
  return { first, weights: sum !== 0 ? weights.map((w) => w / sum) : weights };
}

const fixedPoint = (w: number): number => Math.trunc(w < 0 ? -0.5 + w * (1 << PRECISION_BITS) : 0.5 + w * (1 << PRECISION_BITS));

/** PIL's clip8 on a fixed-point sum that started at 1 << (PRECISION_BITS − 1): rounds to uint8. */
const clip8 = (sum: number): number => Math.min(255, Math.max(0, Math.floor(sum / 2 ** PRECISION_BITS)));

const clamp01 = (v: number): number => Math.min(1, Math.max(0, v));

/**
 * Resizes one axis of `src` (channel-interleaved RGB, `lines` lines of `inSize` samples at `stride`
 * apart) to `outSize`; values are uint8 in 'pil' mode, [0, 1] in 'f64' mode.
 */
function resizeAxis(
  src: Float64Array,
  lines: number,
  inSize: number,
  outSize: number,
  index: (line: number, pos: number) => number,
  outIndex: (line: number, pos: number) => number,
  dst: Float64Array,
  mode: ReferenceMode,
): void {
  for (let o = 0; o < outSize; o++) {
    const { first, weights } = coefficients(o, inSize, outSize);
    const fixed = weights.map(fixedPoint);
    for (let line = 0; line < lines; line++) {
      for (let c = 0; c < 3; c++) {
        let acc = mode === 'pil' ? 1 << (PRECISION_BITS - 1) : 0;
        weights.forEach((w, t) => {
          const v = src[index(line, first + t) * 3 + c]!;
          acc += mode === 'pil' ? v * fixed[t]! : v * w;
        });
        dst[outIndex(line, o) * 3 + c] = mode === 'pil' ? clip8(acc) : clamp01(acc);
      }
    }
  }
}

/** timm's eval transform of one image: [3, size, size] normalised values in float64. */
export function referencePreprocess(image: RgbaImage, p: PreprocessParams, mode: ReferenceMode): Float64Array {
  const { width: w, height: h } = image;
  const g = resizeGeometry(w, h, p.size, p.cropPct);
  const rw = g.resizedWidth;
  const rh = g.resizedHeight;
  let rgb = new Float64Array(w * h * 3);
  for (let i = 0; i < w * h; i++) {
    for (let c = 0; c < 3; c++) rgb[i * 3 + c] = mode === 'pil' ? image.data[i * 4 + c]! : image.data[i * 4 + c]! / 255;
  }
  // PIL skips a pass whose size does not change; a bicubic at scale 1 is the identity anyway.
  if (rw !== w) {
    const next = new Float64Array(rw * h * 3);
    resizeAxis(rgb, h, w, rw, (y, x) => y * w + x, (y, x) => y * rw + x, next, mode);
    rgb = next;
  }
  if (rh !== h) {
    const next = new Float64Array(rw * rh * 3);
    resizeAxis(rgb, rw, h, rh, (x, y) => y * rw + x, (x, y) => y * rw + x, next, mode);
    rgb = next;
  }
  const { size } = p;
  const out = new Float64Array(3 * size * size);
  const f = Math.fround;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const ry = g.top + y;
      const rx = g.left + x;
      const inside = ry >= 0 && ry < rh && rx >= 0 && rx < rw;
      for (let c = 0; c < 3; c++) {
        const v = inside ? rgb[(ry * rw + rx) * 3 + c]! : 0; // torchvision pads with zeros
        const o = c * size * size + y * size + x;
        // torch: ToTensor divides in f32, Normalize subtracts and divides in f32.
        out[o] = mode === 'pil' ? f(f(f(v / 255) - f(p.mean[c]!)) / f(p.std[c]!)) : (v - p.mean[c]!) / p.std[c]!;
      }
    }
  }
  return out;
}
