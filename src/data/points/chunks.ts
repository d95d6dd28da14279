// Reading a ByteSource front to back without ever asking for the whole file: fixed-size chunks for text
// (split into lines, the last partial line carried into the next chunk), and a cursor for binary records.
import type { ByteSource } from '../../io/safetensors';

/** Bytes per read: large enough that a read's overhead vanishes, small enough to bound memory. */
const READ_CHUNK_BYTES = 1 << 20;

export async function* byteChunks(source: ByteSource, start = 0, end = source.size, chunkBytes = READ_CHUNK_BYTES): AsyncGenerator<Uint8Array> {
  for (let at = start; at < end; at += chunkBytes) yield await source.read(at, Math.min(chunkBytes, end - at));
}

/**
 * The text of `chunks` as batches of lines (without "\n" or a trailing "\r"), one batch per chunk, so a
 * reader loops over plain arrays and awaits once per chunk, not once per line. The last line comes
 * even without a final newline.
 */
export async function* lineBatches(chunks: AsyncIterable<Uint8Array>): AsyncGenerator<string[]> {
  const decoder = new TextDecoder('utf-8'); // drops a leading byte order mark
  let carry = '';
  for await (const chunk of chunks) {
    const text = carry + decoder.decode(chunk, { stream: true });
    const lines = text.split('\n');
    carry = lines.pop()!;
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!;
      if (line.endsWith('\r')) lines[i] = line.slice(0, -1);
    }
    if (lines.length) yield lines;
  }
  const last = carry + decoder.decode();
  if (last.length) yield [last.endsWith('\r') ? last.slice(0, -1) : last];
}

/**
 * Sequential reads of binary records from a ByteSource: `need(n)` makes n bytes available at `pos` in
 * `bytes`/`view` (re-reading from the source at the current position when the buffer runs out), and
 * `skip(n)` moves on. Only one chunk is held at a time.
 */
export class BinaryCursor {
  bytes: Uint8Array = new Uint8Array(0);
  view: DataView = new DataView(new ArrayBuffer(0));
  /** Offset of the next unread byte inside `bytes`. */
  pos = 0;
  /** Absolute file offset of bytes[0]. */
  private base: number;

  constructor(private readonly source: ByteSource, start: number, private readonly end = source.size) {
    this.base = start;
  }

  /** Absolute offset of the next unread byte. */
  get offset(): number {
    return this.base + this.pos;
  }

  /** Bytes left before the end. */
  get remaining(): number {
    return this.end - this.offset;
  }

  /** Makes `n` bytes available from `pos`; false when the source ends first. */
  async need(n: number): Promise<boolean> {
    if (this.pos + n <= this.bytes.byteLength) return true;
    const at = this.offset;
    if (at + n > this.end) return false;
    const length = Math.min(Math.max(n, READ_CHUNK_BYTES), this.end - at);
    this.bytes = await this.source.read(at, length);
    this.view = new DataView(this.bytes.buffer, this.bytes.byteOffset, this.bytes.byteLength);
    this.base = at;
    this.pos = 0;
    return true;
  }

  /** Whole records of `size` bytes available now without another read (at least one after need(size)). */
  recordsAvailable(size: number): number {
    return Math.floor((this.bytes.byteLength - this.pos) / size);
  }
}
