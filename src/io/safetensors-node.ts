// Node-only ByteSource over a file on disk: each read is a positioned read, so opening a model
// reads only its header and each tensor is loaded once, when asked for.
import { open } from 'node:fs/promises';
import { basename } from 'node:path';
import type { ByteSource } from './safetensors';

export type FileSource = ByteSource & { close(): Promise<void> };

export async function fileSource(path: string): Promise<FileSource> {
  const handle = await open(path, 'r');
  let size: number;
  try {
    size = (await handle.stat()).size;
  } catch (error) {
    await handle.close();
    throw error;
  }
  return {
    size,
    name: basename(path),
    async read(offset, length) {
      if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > size) {
        throw new RangeError(`Read of ${length} bytes at offset ${offset} is outside ${path} (${size} bytes).`);
      }
      // A fresh ArrayBuffer per read (not Node's pooled Buffers) so F32 data can be used in place.
      const out = new Uint8Array(length);
      let done = 0;
      while (done < length) {
        // read() may return fewer bytes than asked (large reads, some file systems): continue.
        const { bytesRead } = await handle.read(out, done, length - done, offset + done);
        if (bytesRead === 0) throw new RangeError(`${path} ended after ${offset + done} bytes while ${size} were expected; was it changed while open?`);
        done += bytesRead;
      }
      return out;
    },
    close: () => handle.close(),
  };
}
