// Writes [N, 3] points as a NumPy .npy file (format 1.0, C order, little-endian float32 or float16), the
// compact form the sample data set uses; np.load reads it, and so does npy.ts.
import { toHalfBits } from '../../io/f16';

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
    else view.setUint16(total + i * 2, toHalfBits(points[i]!), true);
  }
  return out;
}
