// Random access to a zip archive through a ByteSource: the central directory is read from the end of the
// file (zip64 included), and each entry is read on its own — a stored entry as a plain slice of the source
// (so a 300 MB checkpoint, whose tensors torch.save stores uncompressed, is never loaded whole), a deflated
// one inflated with fflate. fflate's own readers need the whole archive in memory or read it front to back.
import { inflateSync } from 'fflate';
import type { ByteSource } from './safetensors';

export class ZipIndexError extends Error {
  override name = 'ZipIndexError';
}

export interface ZipIndexEntry {
  name: string;
  /** 0 stored, 8 deflated. */
  method: number;
  compressedSize: number;
  size: number;
  localHeaderOffset: number;
  encrypted: boolean;
}

export interface ZipIndex {
  entries: Map<string, ZipIndexEntry>;
  /** The whole (inflated) entry. */
  read(entry: ZipIndexEntry): Promise<Uint8Array>;
  /** `length` bytes at `offset` inside the entry: a direct slice for a stored entry. */
  readRange(entry: ZipIndexEntry, offset: number, length: number): Promise<Uint8Array>;
}

const EOCD = 0x06054b50;
const ZIP64_LOCATOR = 0x07064b50;
const ZIP64_EOCD = 0x06064b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;
/** Largest inflated entry read whole (the pickle of a state dict is a few hundred KB). */
const MAX_INFLATED_BYTES = 256 * 1024 * 1024;
/** Deflate turns one byte into at most 1032 (RFC 1951: a 258-byte match in under 2 bits). */
const MAX_DEFLATE_RATIO = 1032;

function u64(view: DataView, at: number, label: string): number {
  const value = view.getUint32(at, true) + view.getUint32(at + 4, true) * 2 ** 32;
  if (!Number.isSafeInteger(value)) throw new ZipIndexError(`${label} is a zip archive that declares a size beyond 2^53 bytes: it is corrupt. Download or save it again.`);
  return value;
}

export async function openZipIndex(source: ByteSource, label = 'The file'): Promise<ZipIndex> {
  const corrupt = (what: string): ZipIndexError => new ZipIndexError(`${label} is a zip archive whose ${what}: it is truncated or corrupt. Download or save it again.`);
  // The end-of-central-directory record is in the last 22 bytes plus a comment of up to 65,535 bytes.
  const tailLength = Math.min(source.size, 22 + 65535 + 20);
  const tailStart = source.size - tailLength;
  const tail = await source.read(tailStart, tailLength);
  const tv = new DataView(tail.buffer, tail.byteOffset, tail.byteLength);
  let eocd = -1;
  for (let i = tail.length - 22; i >= 0; i--) {
    if (tv.getUint32(i, true) === EOCD) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw corrupt('end-of-directory record is missing');
  let count = tv.getUint16(eocd + 10, true);
  let directorySize = tv.getUint32(eocd + 12, true);
  let directoryOffset = tv.getUint32(eocd + 16, true);
  if (count === 0xffff || directorySize === 0xffffffff || directoryOffset === 0xffffffff) {
    const at = eocd - 20;
    if (at < 0 || tv.getUint32(at, true) !== ZIP64_LOCATOR) throw corrupt('zip64 directory locator is missing');
    const recordOffset = u64(tv, at + 8, label);
    if (recordOffset + 56 > source.size) throw corrupt('zip64 directory lies beyond the end of the file');
    const record = await source.read(recordOffset, 56);
    const rv = new DataView(record.buffer, record.byteOffset, record.byteLength);
    if (rv.getUint32(0, true) !== ZIP64_EOCD) throw corrupt('zip64 directory record is missing');
    count = u64(rv, 32, label);
    directorySize = u64(rv, 40, label);
    directoryOffset = u64(rv, 48, label);
  }
  if (directoryOffset + directorySize > source.size) throw corrupt('directory lies beyond the end of the file');
  const directory = await source.read(directoryOffset, directorySize);
  const dv = new DataView(directory.buffer, directory.byteOffset, directory.byteLength);
  const entries = new Map<string, ZipIndexEntry>();
  const decoder = new TextDecoder('utf-8');
  let at = 0;
  for (let k = 0; k < count; k++) {
    if (at + 46 > directory.length || dv.getUint32(at, true) !== CENTRAL) throw corrupt(`directory entry ${k + 1} of ${count} is damaged`);
    const flags = dv.getUint16(at + 8, true);
    const method = dv.getUint16(at + 10, true);
    let compressedSize = dv.getUint32(at + 20, true);
    let size = dv.getUint32(at + 24, true);
    const nameLength = dv.getUint16(at + 28, true);
    const extraLength = dv.getUint16(at + 30, true);
    const commentLength = dv.getUint16(at + 32, true);
    let localHeaderOffset = dv.getUint32(at + 42, true);
    if (at + 46 + nameLength + extraLength > directory.length) throw corrupt(`directory entry ${k + 1} of ${count} is damaged`);
    const name = decoder.decode(directory.subarray(at + 46, at + 46 + nameLength));
    // Zip64 sizes and offset live in extra field 0x0001, in this order, for the fields saturated above.
    for (let e = at + 46 + nameLength; e + 4 <= at + 46 + nameLength + extraLength; ) {
      const id = dv.getUint16(e, true);
      const length = dv.getUint16(e + 2, true);
      if (id === 0x0001) {
        let field = e + 4;
        if (size === 0xffffffff) (size = u64(dv, field, label)), (field += 8);
        if (compressedSize === 0xffffffff) (compressedSize = u64(dv, field, label)), (field += 8);
        if (localHeaderOffset === 0xffffffff) localHeaderOffset = u64(dv, field, label);
      }
      e += 4 + length;
    }
    entries.set(name, { name, method, compressedSize, size, localHeaderOffset, encrypted: (flags & 1) !== 0 });
    at += 46 + nameLength + extraLength + commentLength;
  }

  const dataStarts = new Map<ZipIndexEntry, number>();
  async function dataStart(entry: ZipIndexEntry): Promise<number> {
    const known = dataStarts.get(entry);
    if (known !== undefined) return known;
    if (entry.localHeaderOffset + 30 > source.size) throw corrupt(`entry "${entry.name}" lies beyond the end of the file`);
    const head = await source.read(entry.localHeaderOffset, 30);
    const hv = new DataView(head.buffer, head.byteOffset, head.byteLength);
    if (hv.getUint32(0, true) !== LOCAL) throw corrupt(`entry "${entry.name}" has no local header where the directory says`);
    const start = entry.localHeaderOffset + 30 + hv.getUint16(26, true) + hv.getUint16(28, true);
    if (start + entry.compressedSize > source.size) throw corrupt(`entry "${entry.name}" runs past the end of the file`);
    dataStarts.set(entry, start);
    return start;
  }

  function checkReadable(entry: ZipIndexEntry): void {
    if (entry.encrypted) throw new ZipIndexError(`${label}: the zip entry "${entry.name}" is encrypted; save the archive without a password.`);
    if (entry.method !== 0 && entry.method !== 8) {
      throw new ZipIndexError(`${label}: the zip entry "${entry.name}" uses compression method ${entry.method}; only stored and deflated entries can be read. Re-create the archive with standard deflate.`);
    }
    // Sizes that the data cannot have, refused before anything is allocated for them.
    if (entry.method === 0 && entry.size !== entry.compressedSize) throw corrupt(`stored entry "${entry.name}" declares ${entry.size} bytes but holds ${entry.compressedSize}`);
    if (entry.method === 8 && entry.size > MAX_DEFLATE_RATIO * entry.compressedSize + 64) {
      throw corrupt(`entry "${entry.name}" declares ${entry.size.toLocaleString('en-US')} bytes, more than its ${entry.compressedSize.toLocaleString('en-US')} compressed bytes can hold`);
    }
  }

  async function read(entry: ZipIndexEntry): Promise<Uint8Array> {
    checkReadable(entry);
    const start = await dataStart(entry);
    const raw = await source.read(start, entry.compressedSize);
    if (entry.method === 0) return raw;
    if (entry.size > MAX_INFLATED_BYTES) throw new ZipIndexError(`${label}: the zip entry "${entry.name}" would inflate to ${entry.size.toLocaleString('en-US')} bytes, more than this reader accepts: the file is damaged or not what it claims to be.`);
    // One byte more than declared: fflate stops at the end of `out`, so a full buffer means the data is longer.
    const out = new Uint8Array(entry.size + 1);
    let inflated: Uint8Array;
    try {
      inflated = inflateSync(raw, { out });
    } catch (error) {
      throw corrupt(`entry "${entry.name}" does not inflate (${(error as Error).message})`);
    }
    if (inflated.byteLength !== entry.size) throw corrupt(`entry "${entry.name}" inflates to ${inflated.byteLength} bytes instead of the ${entry.size} its directory declares`);
    return inflated;
  }

  return {
    entries,
    read,
    async readRange(entry, offset, length) {
      if (offset < 0 || length < 0 || offset + length > entry.size) throw new RangeError(`Read of ${length} bytes at ${offset} is outside the zip entry "${entry.name}" (${entry.size} bytes).`);
      checkReadable(entry);
      if (entry.method === 0) {
        return source.read((await dataStart(entry)) + offset, length);
      }
      return (await read(entry)).subarray(offset, offset + length);
    },
  };
}
