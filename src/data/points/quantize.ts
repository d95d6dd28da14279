// Point clouds as the web app stores them: a normalised cloud (centred, in the unit sphere, so every
// coordinate lies in [−1, 1]) quantised to 16-bit integers, q = round(x · 32767). Six bytes a point, the
// size of float16, but with an even step of 1/32767 ≈ 3.1e-5 over the whole range where float16's step
// near ±1 is 4.9e-4: 6,144 bytes for a cloud of 1,024 points.

/** The integer that stands for 1.0. */
export const QUANT_SCALE = 32767;

/** Bytes one stored cloud of `points` points takes. */
export function storedCloudBytes(points: number): number {
  return points * 3 * Int16Array.BYTES_PER_ELEMENT;
}

/** A normalised cloud [P, 3] as 16-bit integers (coordinates beyond ±1 are clamped: a normalised cloud has none). */
export function quantizeCloud(points: Float32Array): Int16Array<ArrayBuffer> {
  const out = new Int16Array(points.length);
  for (let i = 0; i < points.length; i++) {
    const q = Math.round(points[i]! * QUANT_SCALE);
    out[i] = q > QUANT_SCALE ? QUANT_SCALE : q < -QUANT_SCALE ? -QUANT_SCALE : q;
  }
  return out;
}

/** Writes a stored cloud back as f32 coordinates into `out` at `offset` (a new array when `out` is not given). */
export function dequantizeCloud(stored: Int16Array, out = new Float32Array(stored.length), offset = 0): Float32Array {
  for (let i = 0; i < stored.length; i++) out[offset + i] = stored[i]! / QUANT_SCALE;
  return out;
}
