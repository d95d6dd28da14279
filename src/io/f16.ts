// IEEE half precision (f16) on the CPU: the one codec for f16 files (safetensors F16) and f16 GPU tensors.

const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

/** IEEE half bits of a number, rounded to nearest even (overflow → ±inf, NaN kept). */
export function toHalfBits(value: number): number {
  f32Scratch[0] = value;
  const x = u32Scratch[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    const half = mant >>> shift;
    const rest = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    return sign | (half + (rest > mid || (rest === mid && (half & 1)) ? 1 : 0));
  }
  const half = (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  // A carry out of the mantissa correctly bumps the exponent (up to inf).
  return sign | (half + (rest > 0x1000 || (rest === 0x1000 && (half & 1)) ? 1 : 0));
}

/** The exact number an IEEE half holds (every f16, subnormals included, is an f32). */
export function fromHalfBits(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1024 + mant) * 2 ** (exp - 25);
}

/** The value nearest to `value` that f16 holds (what a round trip through an f16 tensor gives). */
export const roundToHalf = (value: number): number => fromHalfBits(toHalfBits(value));

// f16 → f32 bit patterns for all 65536 inputs (256 KiB, built on first use): one table load per element
// converts a large f16 array quickly, and NaN payloads are kept as bit patterns.
let table: Uint32Array | null = null;
function halfToFloatBits(): Uint32Array {
  if (table) return table;
  const t = new Uint32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = (h & 0x8000) << 16;
    const exponent = (h >> 10) & 0x1f;
    const fraction = h & 0x3ff;
    if (exponent === 0x1f) t[h] = (sign | 0x7f800000 | (fraction << 13)) >>> 0;
    else if (exponent === 0) {
      f32Scratch[0] = fromHalfBits(h); // subnormal or zero: exact through float arithmetic
      t[h] = u32Scratch[0]!;
    } else t[h] = (sign | ((exponent + 112) << 23) | (fraction << 13)) >>> 0;
  }
  table = t;
  return t;
}

/** Widens `halves` (f16 bit patterns) into f32 values. */
export function halvesToFloats(halves: Uint16Array, out: Float32Array = new Float32Array(halves.length)): Float32Array {
  const t = halfToFloatBits();
  const bits = new Uint32Array(out.buffer, out.byteOffset, halves.length);
  for (let i = 0; i < halves.length; i++) bits[i] = t[halves[i]!]!;
  return out;
}
