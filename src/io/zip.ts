// Zip files through fflate: writing the PEFT pair, and reading a dropped data set as a stream, so a large
// archive is never held whole in memory (each entry is handed on as soon as it is complete) and no entry,
// however far it inflates, costs more memory than the per-entry limit (zip bombs are refused part-way).
import { Inflate, Unzip, UnzipPassThrough, Zip, ZipDeflate, ZipPassThrough, zipSync, type FlateError, type UnzipDecoder, type UnzipDecoderConstructor, type UnzipFile } from 'fflate';

/** A zip of the given files (deflated; safetensors data barely compresses, so the level is kept low). */
export function zipFiles(files: Record<string, Uint8Array>): Uint8Array<ArrayBuffer> {
  return zipSync(files, { level: 1 }) as Uint8Array<ArrayBuffer>;
}

/**
 * A zip written entry by entry (fflate's streaming Zip): what is written so far is folded into a Blob every
 * few megabytes, so a project of thousands of images is never one array in the page's memory.
 */
export class ZipWriter {
  private blob = new Blob([]);
  private pending: Uint8Array<ArrayBuffer>[] = [];
  private pendingBytes = 0;
  private failure: Error | undefined;
  private readonly zip = new Zip((error, chunk) => {
    if (error) this.failure = error;
    else if (chunk.byteLength) this.keep(chunk);
  });

  private keep(chunk: Uint8Array): void {
    this.pending.push(chunk.slice() as Uint8Array<ArrayBuffer>);
    this.pendingBytes += chunk.byteLength;
    if (this.pendingBytes >= 8 << 20) this.fold();
  }

  private fold(): void {
    this.blob = new Blob([this.blob, ...this.pending]);
    this.pending = [];
    this.pendingBytes = 0;
  }

  /** Adds one file: deflated (text, tensors) or stored as it is (already compressed, as a PNG). */
  add(path: string, data: Uint8Array, how: 'deflate' | 'store' = 'deflate'): void {
    const entry = how === 'deflate' ? new ZipDeflate(path, { level: 6 }) : new ZipPassThrough(path);
    this.zip.add(entry);
    entry.push(data, true);
    if (this.failure) throw new ZipError(`The zip could not be written: ${this.failure.message}.`);
  }

  /** The finished archive. */
  finish(type = 'application/zip'): Blob {
    this.zip.end();
    if (this.failure) throw new ZipError(`The zip could not be written: ${this.failure.message}.`);
    this.fold();
    return new Blob([this.blob], { type });
  }
}

export class ZipError extends Error {
  override name = 'ZipError';
}

/**
 * The largest entry a data set zip may hold, inflated: 256 MB. The biggest image the app accepts is
 * 50 megapixels (MAX_IMAGE_PIXELS), and the largest plausible encoding of one is uncompressed 8-bit RGBA
 * (a 32-bit BMP or a PNG stored without compression), 200 MB; the rest is room for metadata. A point
 * cloud of several million points as binary PLY (xyz, normals and colours: 27 bytes a point) fits as well.
 * Anything larger is not a sample but an accident or a zip bomb.
 */
export const MAX_ZIP_ENTRY_BYTES = 256_000_000;

/**
 * Compressed bytes handed to the unzipper at a time. Deflate expands at most about 1032×, so one piece
 * inflates to at most ~17 MB: the size check runs that often, and what is held beyond the limit is bounded.
 */
const PIECE_BYTES = 16 * 1024;

/** An entry's bytes, or why it was refused (the rest of the archive is still read). */
export type ZipEntry =
  | {
      /** Path inside the archive as plain names (see plainZipPath). */
      path: string;
      data: Uint8Array<ArrayBuffer>;
    }
  | { path: string; refused: string };

export interface ZipReadOptions {
  /** Refuse an entry once it inflates past this many bytes (default MAX_ZIP_ENTRY_BYTES). */
  maxEntryBytes?: number;
}

/**
 * An archive path as plain names: backslashes become slashes, and empty, ".", ".." and drive ("C:")
 * segments are dropped, so "../../x.png" is "x.png" and "/abs/cat/1.png" is "abs/cat/1.png". Paths only
 * ever name classes and files here; nothing is resolved against a file system.
 */
export function plainZipPath(name: string): string {
  return name
    .replace(/\\/g, '/')
    .split('/')
    .filter((part) => part !== '' && part !== '.' && part !== '..' && !/^[A-Za-z]:$/.test(part))
    .join('/');
}

function megabytes(bytes: number): string {
  return `${Math.round(bytes / 1e6)} MB`;
}

/**
 * The entries of a zip Blob in archive order (folders and macOS resource forks left out), read as a
 * stream: the archive is read further only when the consumer asks for the next entry, so memory stays
 * bounded by one chunk, the entry being inflated (at most `maxEntryBytes`) and the entries not yet taken.
 * An entry that inflates past the limit, declares a size over it, is corrupt or uses an unsupported
 * compression comes out as `refused` with the reason; the entries after it are still read.
 */
export async function* zipEntries(blob: Blob, name = 'The zip file', options: ZipReadOptions = {}): AsyncGenerator<ZipEntry> {
  const limit = options.maxEntryBytes ?? MAX_ZIP_ENTRY_BYTES;
  if (blob.size === 0) throw new ZipError(`${name} is empty (0 bytes): it did not finish downloading or saving.`);
  const ready: ZipEntry[] = [];
  let files = 0;
  const unzip = new Unzip((file: UnzipFile) => {
    files++;
    const path = plainZipPath(file.name);
    if (/[\\/]$/.test(file.name) || path === '' || /(^|\/)__MACOSX\//.test(path)) {
      skipData(unzip, file);
      return;
    }
    const refuse = (reason: string): void => {
      ready.push({ path, refused: reason });
    };
    if (file.compression !== 0 && file.compression !== 8) {
      refuse(`it uses compression method ${file.compression}, which this app cannot read; re-create the zip with standard deflate`);
      skipData(unzip, file);
      return;
    }
    if (file.originalSize !== undefined && file.originalSize > limit) {
      refuse(`it declares ${megabytes(file.originalSize)} once unpacked, over the ${megabytes(limit)} limit for one file in a zip (larger than any image): a zip bomb or not a data file`);
      skipData(unzip, file);
      return;
    }
    const chunks: Uint8Array[] = [];
    let total = 0;
    let done = false;
    file.ondata = (error, chunk, final) => {
      if (done) return;
      if (error) {
        done = true;
        refuse(`it is corrupt (${error.message}); the rest of the zip was read`);
        file.terminate();
        return;
      }
      total += chunk.byteLength;
      if (total > limit) {
        done = true;
        chunks.length = 0;
        refuse(`it unpacks to more than ${megabytes(limit)}, the limit for one file in a zip (larger than any image): a zip bomb or not a data file`);
        file.terminate();
        return;
      }
      if (chunk.byteLength) chunks.push(chunk);
      if (final) {
        done = true;
        ready.push({ path, data: concat(chunks, total) });
      }
    };
    file.start();
  });
  unzip.register(UnzipPassThrough);
  unzip.register(BoundedInflate);
  const push = (chunk: Uint8Array, final: boolean): void => {
    try {
      unzip.push(chunk, final);
    } catch (error) {
      throw new ZipError(`${name} could not be read: ${(error as Error).message}. It may be truncated or corrupt; the files before that point were read.`);
    }
  };
  const reader = blob.stream().getReader();
  let first = true;
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      if (first && value.byteLength >= 2 && (value[0] !== 0x50 || value[1] !== 0x4b)) throw new ZipError(`${name} is not a zip archive.`);
      first = false;
      for (let start = 0; start < value.byteLength; start += PIECE_BYTES) {
        push(value.subarray(start, start + PIECE_BYTES), false);
        while (ready.length) yield ready.shift()!;
      }
    }
    push(new Uint8Array(0), true);
    while (ready.length) yield ready.shift()!;
    if (files === 0) throw new ZipError(`${name} holds no files: it is empty, corrupt or not a zip archive.`);
  } finally {
    // Also runs when the consumer stops early: let go of the rest of the file.
    await reader.cancel().catch(() => undefined);
  }
}

function concat(chunks: Uint8Array[], total: number): Uint8Array<ArrayBuffer> {
  if (chunks.length === 1 && chunks[0]!.byteLength === chunks[0]!.buffer.byteLength && chunks[0]!.buffer instanceof ArrayBuffer) {
    return chunks[0] as Uint8Array<ArrayBuffer>;
  }
  const data = new Uint8Array(total);
  let offset = 0;
  for (const c of chunks) {
    data.set(c, offset);
    offset += c.byteLength;
  }
  return data;
}

/**
 * Reads past an entry without keeping or inflating its data. fflate keeps the compressed bytes of an entry
 * that is never started, so even a skipped entry is started, through a decoder that drops them.
 */
function skipData(unzip: Unzip, file: UnzipFile): void {
  if (file.compression !== 0 && file.compression !== 8) unzip.register(discardingDecoder(file.compression));
  file.ondata = () => undefined;
  file.start();
  file.terminate();
}

function discardingDecoder(compression: number): UnzipDecoderConstructor {
  return class Discard implements UnzipDecoder {
    static compression = compression;
    ondata: UnzipDecoder['ondata'] = () => undefined;
    push(_chunk: Uint8Array, final: boolean): void {
      if (final) this.ondata(null, new Uint8Array(0), true);
    }
  };
}

/**
 * Deflate for zip entries, like fflate's UnzipInflate, that stops for good when terminated: after an entry
 * passes the size limit (or fails), the rest of its data is skipped instead of inflated.
 */
class BoundedInflate implements UnzipDecoder {
  static compression = 8;
  ondata: UnzipDecoder['ondata'] = () => undefined;
  private stopped = false;
  private inflate = new Inflate((data, final) => {
    if (!this.stopped) this.ondata(null, data, final);
  });

  push(chunk: Uint8Array, final: boolean): void {
    if (this.stopped) return;
    try {
      this.inflate.push(chunk, final);
    } catch (error) {
      this.stopped = true;
      this.ondata(error as FlateError, new Uint8Array(0), final);
    }
  }

  terminate(): void {
    this.stopped = true;
  }
}
