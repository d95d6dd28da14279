// NumPy .npy arrays of points: magic "\x93NUMPY", version, a header that is a Python dict literal
// {'descr': '<f4', 'fortran_order': False, 'shape': (N, C)}, then the data. Float32, float64 and float16,
// little-endian, shape [N, C ≥ 3] (a leading 1 as in [1, N, C] is accepted); x y z are the first three
// columns. C order streams row by row through a reservoir; Fortran order (columns stored one after the
// other) is read column by column at the rows a seeded subset picked from N, so both stay in bounded memory.
import type { ByteSource } from '../../io/safetensors';
import { fromHalfBits } from '../../io/f16';
import { Rng } from '../../train/rng';
import { BinaryCursor } from './chunks';
import { fileLabel, nonFiniteError, PointCloudError, type RawCloud, type ReadOptions } from './cloud';
import { PointReservoir } from './reservoir';

export const NPY_MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // "\x93NUMPY"

interface NpyHeader {
  dtype: 'f2' | 'f4' | 'f8';
  itemSize: number;
  fortran: boolean;
  rows: number;
  columns: number;
  dataStart: number;
}

const DTYPES = { f2: 2, f4: 4, f8: 8 } as const;

async function readHeader(source: ByteSource, file: string): Promise<NpyHeader> {
  if (source.size < 10) throw new PointCloudError(`${file} is too short to be a NumPy .npy file (${source.size} bytes).`);
  const head = await source.read(0, Math.min(source.size, 16));
  if (!NPY_MAGIC.every((b, i) => head[i] === b)) throw new PointCloudError(`${file} is not a NumPy .npy file (it does not start with "\\x93NUMPY").`);
  const major = head[6]!;
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  if (major < 1 || major > 3) throw new PointCloudError(`${file} is a NumPy file of format version ${major}, which this app does not know (1 to 3).`);
  const lengthBytes = major === 1 ? 2 : 4;
  const headerLength = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const dataStart = 8 + lengthBytes + headerLength;
  if (dataStart > source.size) throw new PointCloudError(`${file} is truncated: its NumPy header runs past the end of the file.`);
  const text = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(await source.read(8 + lengthBytes, headerLength));
  const descr = /['"]descr['"]\s*:\s*['"]([^'"]*)['"]/.exec(text)?.[1];
  const fortran = /['"]fortran_order['"]\s*:\s*(True|False)/.exec(text)?.[1];
  const shapeText = /['"]shape['"]\s*:\s*\(([^)]*)\)/.exec(text)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) {
    throw new PointCloudError(`${file} has a NumPy header without descr, fortran_order and shape: the file is corrupt.`);
  }
  const order = descr[0];
  const kind = descr.slice(1) as keyof typeof DTYPES;
  if (order === '>' && kind in DTYPES) {
    throw new PointCloudError(`${file} holds big-endian floats (${descr}), which this app does not read. Save it little-endian: np.save(path, points.astype('<f4')).`);
  }
  if (!(order === '<' || order === '=') || !(kind in DTYPES)) {
    throw new PointCloudError(`${file} holds values of NumPy type ${descr}; point files need float32, float64 or float16 coordinates. Save them with points.astype(np.float32).`);
  }
  const shape = shapeText.split(',').map((s) => s.trim()).filter((s) => s.length > 0).map(Number);
  if (shape.some((d) => !Number.isSafeInteger(d) || d < 0)) throw new PointCloudError(`${file} has a malformed NumPy shape (${shapeText}).`);
  while (shape.length > 2 && shape[0] === 1) shape.shift();
  if (shape.length !== 2 || shape[1]! < 3) {
    throw new PointCloudError(`${file} holds an array of shape (${shape.join(', ')}); a point file needs shape (N, 3) or more columns (x y z first).`);
  }
  const [rows, columns] = shape as [number, number];
  const itemSize = DTYPES[kind];
  const expected = dataStart + rows * columns * itemSize;
  if (source.size < expected) {
    throw new PointCloudError(`${file} is truncated: its header promises ${rows.toLocaleString('en-US')} × ${columns} values (${expected.toLocaleString('en-US')} bytes in all) but the file has ${source.size.toLocaleString('en-US')} bytes. Save it again.`);
  }
  return { dtype: kind, itemSize, fortran: fortran === 'True', rows, columns, dataStart };
}

function getter(dtype: NpyHeader['dtype']): (view: DataView, at: number) => number {
  if (dtype === 'f4') return (v, a) => v.getFloat32(a, true);
  if (dtype === 'f8') return (v, a) => v.getFloat64(a, true);
  return (v, a) => fromHalfBits(v.getUint16(a, true));
}

export async function readNpy(source: ByteSource, opts: ReadOptions): Promise<RawCloud> {
  const file = fileLabel(source.name);
  const h = await readHeader(source, file);
  if (h.rows === 0) throw new PointCloudError(`${file} holds an array with no rows: there are no points to read.`);
  return h.fortran ? readFortran(source, h, opts, file) : readRows(source, h, opts, file);
}

async function readRows(source: ByteSource, h: NpyHeader, opts: ReadOptions, file: string): Promise<RawCloud> {
  const reservoir = new PointReservoir(opts.maxPoints, opts.seed);
  const rowBytes = h.columns * h.itemSize;
  const get = getter(h.dtype);
  const cursor = new BinaryCursor(source, h.dataStart, h.dataStart + h.rows * rowBytes);
  let row = 0;
  while (row < h.rows) {
    await cursor.need(rowBytes);
    const n = Math.min(h.rows - row, cursor.recordsAvailable(rowBytes));
    const view = cursor.view;
    for (let r = 0; r < n; r++) {
      const at = cursor.pos + r * rowBytes;
      const x = get(view, at);
      const y = get(view, at + h.itemSize);
      const z = get(view, at + 2 * h.itemSize);
      if (!Number.isFinite(x) || !Number.isFinite(y) || !Number.isFinite(z)) throw nonFiniteError(file, `row ${(row + r).toLocaleString('en-US')}`, x, y, z);
      reservoir.add(x, y, z);
    }
    cursor.pos += n * rowBytes;
    row += n;
  }
  return { points: reservoir.points(), count: reservoir.count, totalPoints: h.rows, origin: 'points', subsampled: h.rows > reservoir.count };
}

/**
 * Column-major data: x for every row, then y, then z. The kept rows are chosen first (all rows when they
 * fit); only they are read, so only they are checked for non-finite values.
 */
async function readFortran(source: ByteSource, h: NpyHeader, opts: ReadOptions, file: string): Promise<RawCloud> {
  const keep = Math.min(h.rows, opts.maxPoints);
  const rows = keep === h.rows ? null : chooseRows(h.rows, keep, opts.seed);
  const out = new Float32Array(keep * 3);
  const get = getter(h.dtype);
  for (let axis = 0; axis < 3; axis++) {
    const start = h.dataStart + axis * h.rows * h.itemSize;
    const cursor = new BinaryCursor(source, start, start + h.rows * h.itemSize);
    let row = 0;
    let k = 0;
    while (row < h.rows && k < keep) {
      await cursor.need(h.itemSize);
      const n = Math.min(h.rows - row, cursor.recordsAvailable(h.itemSize));
      const view = cursor.view;
      // rows is sorted, so the kept rows of this chunk are the next ones in it.
      while (k < keep) {
        const wanted = rows ? rows[k]! : k;
        if (wanted >= row + n) break;
        out[k * 3 + axis] = get(view, cursor.pos + (wanted - row) * h.itemSize);
        k++;
      }
      cursor.pos += n * h.itemSize;
      row += n;
    }
  }
  for (let k = 0; k < keep; k++) {
    const [x, y, z] = [out[k * 3]!, out[k * 3 + 1]!, out[k * 3 + 2]!];
    if (!Number.isFinite(x) || !Number.isFinite(y) || !Number.isFinite(z)) throw nonFiniteError(file, `row ${(rows ? rows[k]! : k).toLocaleString('en-US')}`, x, y, z);
  }
  return { points: out, count: keep, totalPoints: h.rows, origin: 'points', subsampled: keep < h.rows };
}

/** `keep` distinct row numbers below `total`, sorted, uniformly at random (Floyd's algorithm, seeded). */
function chooseRows(total: number, keep: number, seed: number): Uint32Array {
  const rng = new Rng(seed);
  const chosen = new Set<number>();
  for (let j = total - keep; j < total; j++) {
    const t = Math.floor(rng.next() * (j + 1));
    chosen.add(chosen.has(t) ? j : t);
  }
  return Uint32Array.from(chosen).sort();
}
