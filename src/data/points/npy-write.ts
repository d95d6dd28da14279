// Writes [N, 3] points as a NumPy .npy file (format 1.0, C order, little-endian float32 or float16), the
// compact form the sample data set uses; np.load reads it, and so does npy.ts.

/** f32 → IEEE half bits, rounding to nearest even (values beyond the f16 range become ±infinity). */
export function f32ToF16Bits(value: number): number {
  const f = new Float32Array([value]);
  const x = new Uint32Array(f.buffer)[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exponent = (x >>> 23) & 0xff;
  let mantissa = x & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa ? 0x200 : 0);
  let e = exponent - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mantissa |= 0x800000;
    const shift = 14 - e;
    const half = mantissa >>> shift;
    const rest = mantissa & ((1 << shift) - 1);
    const midpoint = 1 << (shift - 1);
    return sign | (half + (rest > midpoint || (rest === midpoint && half & 1) ? 1 : 0));
  }
  const half = (e << 10) | (mantissa >>> 13);
  const rest = mantissa & 0x1fff;
  e = half + (rest > 0x1000 || (rest === 0x1000 && half & 1) ? 1 : 0);
  return sign | e;
}

export function writeNpy(points: Float32Array, rows: number, columns: number, dtype: 'f4' | 'f2' = 'f4'): Uint8Array<ArrayBuffer> {
  if (points.length !== rows * columns) throw new RangeError(`writeNpy: ${points.length} values do not make ${rows} × ${columns}.`);
  const dict = `{'descr': '<${dtype}', 'fortran_order': False, 'shape': (${rows}, ${columns}), }`;
  // Magic (6) + version (2) + length (2) + header, padded with spaces to a multiple of 64 and ended by "\n".
  const total = Math.ceil((10 + dict.length + 1) / 64) * 64;
  const header = dict.padEnd(total - 10 - 1, ' ') + '\n';
  const itemSize = dtype === 'f4' ? 4 : 2;
  const out = new Uint8Array(total + points.length * itemSize);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0], 0);
  const view = new DataView(out.buffer);
  view.setUint16(8, header.length, true);
  for (let i = 0; i < header.length; i++) out[10 + i] = header.charCodeAt(i);
  for (let i = 0; i < points.length; i++) {
    if (dtype === 'f4') view.setFloat32(total + i * 4, points[i]!, true);
    else view.setUint16(total + i * 2, f32ToF16Bits(points[i]!), true);
  }
  return out;
}
