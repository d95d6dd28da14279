// Zip files through fflate: writing the PEFT pair, and reading a dropped data set as a stream, so a large
// archive is never held whole in memory (each entry is handed on as soon as it is complete).
import { Unzip, UnzipInflate, UnzipPassThrough, zipSync, type UnzipFile } from 'fflate';

/** A zip of the given files (deflated; safetensors data barely compresses, so the level is kept low). */
export function zipFiles(files: Record<string, Uint8Array>): Uint8Array<ArrayBuffer> {
  return zipSync(files, { level: 1 }) as Uint8Array<ArrayBuffer>;
}

export class ZipError extends Error {
  override name = 'ZipError';
}

export interface ZipEntry {
  /** Path inside the archive, with forward slashes. */
  path: string;
  data: Uint8Array<ArrayBuffer>;
}

/**
 * The entries of a zip Blob in archive order (folders and macOS resource forks left out), read as a
 * stream: the archive is read further only when the consumer asks for the next entry, so memory stays
 * bounded by one chunk plus the entries not yet taken.
 */
export async function* zipEntries(blob: Blob, name = 'The zip file'): AsyncGenerator<ZipEntry> {
  const ready: ZipEntry[] = [];
  let failure: Error | undefined;
  const unzip = new Unzip((file: UnzipFile) => {
    if (file.name.endsWith('/') || /(^|\/)__MACOSX\//.test(file.name)) return;
    const chunks: Uint8Array[] = [];
    file.ondata = (error, chunk, final) => {
      if (error) {
        failure ??= new ZipError(`${name} could not be read (${file.name}: ${error.message}): it is corrupt or uses an unsupported compression.`);
        return;
      }
      chunks.push(chunk);
      if (final) {
        const data = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
        let offset = 0;
        for (const c of chunks) {
          data.set(c, offset);
          offset += c.byteLength;
        }
        ready.push({ path: file.name, data });
      }
    };
    try {
      file.start();
    } catch (error) {
      failure ??= new ZipError(`${name}: the entry ${file.name} uses a compression this app cannot read (${(error as Error).message}); re-create the zip with standard deflate.`);
    }
  });
  unzip.register(UnzipInflate);
  unzip.register(UnzipPassThrough);
  const push = (chunk: Uint8Array, final: boolean): void => {
    try {
      unzip.push(chunk, final);
    } catch (error) {
      throw new ZipError(`${name} could not be read: ${(error as Error).message}. It may be corrupt.`);
    }
    if (failure) throw failure;
  };
  const reader = blob.stream().getReader();
  let first = true;
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      if (first && value.byteLength >= 2 && (value[0] !== 0x50 || value[1] !== 0x4b)) throw new ZipError(`${name} is not a zip archive.`);
      first = false;
      push(value, false);
      while (ready.length) yield ready.shift()!;
    }
    push(new Uint8Array(0), true);
    while (ready.length) yield ready.shift()!;
  } finally {
    // Also runs when the consumer stops early: let go of the rest of the file.
    await reader.cancel().catch(() => undefined);
  }
}
