// Hand-made zip archives for hostile-input tests, written byte by byte so every header field can lie:
// real zip bombs (an entry of N megabytes of zeros made in a few milliseconds: one compressed megabyte of
// zeros repeated, each piece ending in a sync flush so the pieces form one valid deflate stream, with the
// true CRC-32 of N MB of zeros computed without touching them), declared sizes that differ from the data,
// unknown compression methods and names such as "../../x.png".
import { constants, deflateRawSync } from 'node:zlib';

const MB = 1 << 20;

export type ZipPart =
  /** Real bytes, deflated (or stored, or labelled with another method number as is). */
  | { name: string; data: Uint8Array; method?: 'deflate' | 'store' | number; declaredSize?: number; descriptor?: boolean }
  /** `zerosMB` megabytes of zeros, deflated: a bomb (about 1 KB per MB). */
  | { name: string; zerosMB: number; declaredSize?: number; descriptor?: boolean };

interface Entry {
  name: Uint8Array;
  method: number;
  crc: number;
  size: number;
  declaredSize: number;
  compressed: Uint8Array[];
  /** Sizes and CRC in a data descriptor after the data (as streaming zip writers do), zeros in the local header. */
  descriptor: boolean;
}

let zeroPiece: Buffer | undefined;
let zeroLast: Buffer | undefined;

function entryOf(part: ZipPart): Entry {
  const name = new TextEncoder().encode(part.name);
  if ('zerosMB' in part) {
    zeroPiece ??= deflateRawSync(new Uint8Array(MB), { level: 9, finishFlush: constants.Z_SYNC_FLUSH });
    zeroLast ??= deflateRawSync(new Uint8Array(MB), { level: 9 });
    const size = part.zerosMB * MB;
    const compressed = [...Array.from({ length: part.zerosMB - 1 }, () => zeroPiece!), zeroLast];
    return { name, method: 8, crc: crc32OfZeros(size), size, declaredSize: part.declaredSize ?? size, compressed, descriptor: part.descriptor ?? false };
  }
  const method = part.method === undefined || part.method === 'deflate' ? 8 : part.method === 'store' ? 0 : part.method;
  const compressed = method === 8 ? deflateRawSync(part.data) : part.data;
  return { name, method, crc: crc32(part.data), size: part.data.byteLength, declaredSize: part.declaredSize ?? part.data.byteLength, compressed: [compressed], descriptor: part.descriptor ?? false };
}

/** A zip of the parts, in order, with sizes in the local headers (no data descriptors). */
export function makeZip(parts: ZipPart[]): Uint8Array<ArrayBuffer> {
  const entries = parts.map(entryOf);
  const chunks: Uint8Array[] = [];
  let offset = 0;
  const put = (bytes: Uint8Array): void => {
    chunks.push(bytes);
    offset += bytes.byteLength;
  };
  const offsets: number[] = [];
  for (const e of entries) {
    offsets.push(offset);
    const compressedSize = e.compressed.reduce((n, c) => n + c.byteLength, 0);
    const head = new DataView(new ArrayBuffer(30));
    head.setUint32(0, 0x04034b50, true);
    head.setUint16(4, 20, true);
    head.setUint16(6, 0x800 | (e.descriptor ? 8 : 0), true); // UTF-8 names, data descriptor
    head.setUint16(8, e.method, true);
    if (!e.descriptor) {
      head.setUint32(14, e.crc, true);
      head.setUint32(18, compressedSize, true);
      head.setUint32(22, e.declaredSize, true);
    }
    head.setUint16(26, e.name.byteLength, true);
    put(new Uint8Array(head.buffer));
    put(e.name);
    for (const c of e.compressed) put(c);
    if (e.descriptor) {
      const descriptor = new DataView(new ArrayBuffer(16));
      descriptor.setUint32(0, 0x08074b50, true);
      descriptor.setUint32(4, e.crc, true);
      descriptor.setUint32(8, compressedSize, true);
      descriptor.setUint32(12, e.declaredSize, true);
      put(new Uint8Array(descriptor.buffer));
    }
  }
  const directoryStart = offset;
  entries.forEach((e, i) => {
    const compressedSize = e.compressed.reduce((n, c) => n + c.byteLength, 0);
    const head = new DataView(new ArrayBuffer(46));
    head.setUint32(0, 0x02014b50, true);
    head.setUint16(4, 20, true);
    head.setUint16(6, 20, true);
    head.setUint16(8, 0x800 | (e.descriptor ? 8 : 0), true);
    head.setUint16(10, e.method, true);
    head.setUint32(16, e.crc, true);
    head.setUint32(20, compressedSize, true);
    head.setUint32(24, e.declaredSize, true);
    head.setUint16(28, e.name.byteLength, true);
    head.setUint32(42, offsets[i]!, true);
    put(new Uint8Array(head.buffer));
    put(e.name);
  });
  const end = new DataView(new ArrayBuffer(22));
  end.setUint32(0, 0x06054b50, true);
  end.setUint16(8, entries.length, true);
  end.setUint16(10, entries.length, true);
  end.setUint32(12, offset - directoryStart, true);
  end.setUint32(16, directoryStart, true);
  put(new Uint8Array(end.buffer));
  const bytes = new Uint8Array(offset);
  let at = 0;
  for (const c of chunks) {
    bytes.set(c, at);
    at += c.byteLength;
  }
  return bytes;
}

let crcTable: Uint32Array | undefined;

export function crc32(bytes: Uint8Array): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = crcTable[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

// CRC-32 of n zero bytes: feeding zeros is a linear map of the CRC register over GF(2), applied by
// repeated squaring of the one-zero-bit operator (as zlib's crc32_combine does).
function gf2Times(matrix: Uint32Array, vector: number): number {
  let sum = 0;
  for (let i = 0; vector !== 0; i++, vector >>>= 1) if (vector & 1) sum ^= matrix[i]!;
  return sum >>> 0;
}

function gf2Square(matrix: Uint32Array): Uint32Array<ArrayBuffer> {
  const out = new Uint32Array(32);
  for (let n = 0; n < 32; n++) out[n] = gf2Times(matrix, matrix[n]!);
  return out;
}

export function crc32OfZeros(bytes: number): number {
  let operator: Uint32Array<ArrayBuffer> = new Uint32Array(32);
  operator[0] = 0xedb88320; // one zero bit
  for (let n = 1; n < 32; n++) operator[n] = 1 << (n - 1);
  for (let i = 0; i < 3; i++) operator = gf2Square(operator); // one zero byte
  let register = 0xffffffff;
  for (let n = bytes; n > 0; n = Math.floor(n / 2)) {
    if (n % 2) register = gf2Times(operator, register);
    operator = gf2Square(operator);
  }
  return ~register >>> 0;
}
