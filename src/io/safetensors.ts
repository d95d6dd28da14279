// safetensors reader and writer (spec §2): an 8-byte little-endian u64 header length N, N bytes of
// UTF-8 JSON {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {string: string}},
// then the data section. Offsets in the header are relative to the start of the data section.
//
// The reader streams: opening reads only the header, and each tensor is read on demand through a
// ByteSource, so a 346 MB ViT-B file given as a browser File is never held in memory twice.
// This module has no Node imports (it is bundled for the browser); fileSource lives in
// safetensors-node.ts.
import { shapeText } from '../gpu/errors';
import { fromHalfBits, halvesToFloats } from './f16';

/** Every problem with a safetensors file or a tensor spec; each message says what to do. */
export class SafetensorsError extends Error {
  override name = 'SafetensorsError';
}

// ---------------------------------------------------------------------------------------------
// Byte sources

/**
 * Random access to a file's bytes. `read` may return a view on shared memory (callers must not
 * modify it); a result that spans a whole ArrayBuffer is taken as fresh and may be adopted as is.
 */
export interface ByteSource {
  readonly size: number;
  /** A name for messages (file name), when known. */
  readonly name?: string;
  read(offset: number, length: number): Promise<Uint8Array>;
}

function checkRange(size: number, offset: number, length: number): void {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > size) {
    throw new RangeError(`Read of ${length} bytes at offset ${offset} is outside a source of ${size} bytes.`);
  }
}

/** Bytes already in memory. Reads are views (no copy). */
export function bytesSource(bytes: Uint8Array, name?: string): ByteSource {
  return {
    size: bytes.byteLength,
    name,
    read(offset, length) {
      checkRange(bytes.byteLength, offset, length);
      return Promise.resolve(bytes.subarray(offset, offset + length));
    },
  };
}

/** A Blob or browser File, read by slicing so only the requested bytes are ever loaded. */
export function blobSource(blob: Blob, name?: string): ByteSource {
  const label = name ?? (typeof File !== 'undefined' && blob instanceof File ? blob.name : undefined);
  return {
    size: blob.size,
    name: label,
    async read(offset, length) {
      checkRange(blob.size, offset, length);
      if (length === 0) return new Uint8Array(0);
      return new Uint8Array(await blob.slice(offset, offset + length).arrayBuffer());
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Dtypes and exact conversions

/** Byte size of every dtype the safetensors format defines (sub-byte dtypes are not supported). */
const DTYPE_SIZES = {
  BOOL: 1,
  U8: 1,
  I8: 1,
  F8_E4M3: 1,
  F8_E5M2: 1,
  U16: 2,
  I16: 2,
  F16: 2,
  BF16: 2,
  U32: 4,
  I32: 4,
  F32: 4,
  U64: 8,
  I64: 8,
  F64: 8,
} as const;

export type Dtype = keyof typeof DTYPE_SIZES;
const FLOAT_DTYPES: readonly Dtype[] = ['F32', 'F16', 'BF16', 'F64'];
const INT_DTYPES: readonly Dtype[] = ['I32', 'I64'];

function isDtype(value: unknown): value is Dtype {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(DTYPE_SIZES, value);
}

export function dtypeSize(dtype: Dtype): number {
  return DTYPE_SIZES[dtype];
}

// Typed-array views below reinterpret bytes in host order; every WebGPU platform is little-endian,
// but on a big-endian host the slower DataView paths keep the results right.
const HOST_IS_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** bfloat16 bits → f32: bf16 is the top half of an f32. */
export function bf16BitsToF32(bits: number): number {
  const word = new Uint32Array([(bits & 0xffff) << 16]);
  return new Float32Array(word.buffer)[0]!;
}

/** A Uint8Array whose buffer is a plain ArrayBuffer and whose offset is a multiple of `align`. */
function alignedBytes(bytes: Uint8Array, align: number): Uint8Array<ArrayBuffer> {
  if (bytes.buffer instanceof ArrayBuffer && bytes.byteOffset % align === 0) return bytes as Uint8Array<ArrayBuffer>;
  return new Uint8Array(bytes); // copies into a fresh, aligned ArrayBuffer
}

/** Bytes that no one else holds may be reinterpreted in place; shared views must be copied. */
function ownsWholeBuffer(bytes: Uint8Array): boolean {
  return bytes.buffer instanceof ArrayBuffer && bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength;
}

/** count little-endian F32, F16, BF16 or F64 values → f32 (shared with the .pth reader). */
export function decodeFloats(dtype: Dtype, bytes: Uint8Array, count: number): Float32Array<ArrayBuffer> {
  const out = new Float32Array(count);
  if (!HOST_IS_LITTLE_ENDIAN) {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (let i = 0; i < count; i++) {
      if (dtype === 'F32') out[i] = view.getFloat32(i * 4, true);
      else if (dtype === 'F64') out[i] = view.getFloat64(i * 8, true);
      else if (dtype === 'F16') out[i] = fromHalfBits(view.getUint16(i * 2, true));
      else out[i] = bf16BitsToF32(view.getUint16(i * 2, true));
    }
    return out;
  }
  if (dtype === 'F32') {
    // A freshly read buffer (Blob, file) becomes the result without a copy.
    if (ownsWholeBuffer(bytes)) return new Float32Array(bytes.buffer as ArrayBuffer, 0, count);
    const aligned = alignedBytes(bytes, 4);
    out.set(new Float32Array(aligned.buffer, aligned.byteOffset, count));
    return out;
  }
  if (dtype === 'F64') {
    const aligned = alignedBytes(bytes, 8);
    out.set(new Float64Array(aligned.buffer, aligned.byteOffset, count));
    return out;
  }
  const aligned = alignedBytes(bytes, 2);
  const halves = new Uint16Array(aligned.buffer, aligned.byteOffset, count);
  if (dtype === 'F16') return halvesToFloats(halves, out) as Float32Array<ArrayBuffer>;
  const outBits = new Uint32Array(out.buffer);
  for (let i = 0; i < count; i++) outBits[i] = halves[i]! << 16;
  return out;
}

// ---------------------------------------------------------------------------------------------
// Reader

export interface TensorInfo {
  dtype: Dtype;
  shape: number[];
  /** Absolute byte offsets in the file. */
  begin: number;
  end: number;
}

export interface SafetensorsFile {
  readonly source: ByteSource;
  readonly metadata: Record<string, string>;
  /** In data order (the header order of files this module writes). */
  readonly tensors: Map<string, TensorInfo>;
  /** Absolute offset of the data section (8 + header length). */
  readonly dataStart: number;
  names(): string[];
  has(name: string): boolean;
  /** The tensor's info; throws when it is missing or its shape differs. */
  checkShape(name: string, shape: readonly number[]): TensorInfo;
  /** Checks every name → shape at once; the error lists every missing or mis-shaped tensor. */
  expect(spec: Record<string, readonly number[]>): void;
  /** The tensor's raw little-endian bytes (may be a view on shared memory: do not modify). */
  readBytes(name: string): Promise<Uint8Array>;
  /** F32, F16, BF16 (and F64) tensors as f32. */
  readF32(name: string): Promise<Float32Array<ArrayBuffer>>;
  /** I32 or I64 tensors (class labels) as i32; I64 values outside the i32 range throw. */
  readInt(name: string): Promise<Int32Array<ArrayBuffer>>;
}

/** Header length limit; the same as the reference implementation's. */
export const MAX_HEADER_BYTES = 100_000_000;
/** First read when opening: covers the whole header of most models (ViT-B's is about 15 KB). */
const HEAD_READ_BYTES = 64 * 1024;

const DOWNLOAD_SAFETENSORS =
  'Download the model\'s .safetensors file instead (or convert the checkpoint with the Python `safetensors` package).';

/** How messages name the file: its name when known. */
function describeSource(source: ByteSource): { what: string; where: string } {
  const where = source.name ? `"${source.name}"` : 'the file';
  return { what: where.charAt(0).toUpperCase() + where.slice(1), where };
}

/** Names the kind of file when the bytes are a common mistake instead of safetensors; else null. */
function recogniseWrongFile(head: Uint8Array): string | null {
  let i = 0;
  if (head[0] === 0xef && head[1] === 0xbb && head[2] === 0xbf) i = 3; // UTF-8 byte order mark
  while (i < head.length && (head[i] === 0x20 || head[i] === 0x09 || head[i] === 0x0a || head[i] === 0x0d)) i++;
  const text = String.fromCharCode(...head.subarray(i, i + 64)).toLowerCase();
  if (text.startsWith('<')) {
    return 'is an HTML page (for example a login, error or "file not found" page saved instead of the weights), not a safetensors file. ' +
      'Download the file again from its direct download link, signing in first if the site requires it.';
  }
  if (head[0] === 0x50 && head[1] === 0x4b && head[2] === 0x03 && head[3] === 0x04) {
    return `is a zip archive, which is how PyTorch saves .bin/.pth checkpoints, not a safetensors file. ${DOWNLOAD_SAFETENSORS}`;
  }
  if (head[0] === 0x80 && head[1] !== undefined && head[1] >= 2 && head[1] <= 5) {
    return `is a Python pickle (a PyTorch .bin/.pth checkpoint), not a safetensors file. ${DOWNLOAD_SAFETENSORS}`;
  }
  if (text.startsWith('version https://git-lfs')) {
    return 'is a Git LFS pointer, not the weights themselves. Download the file through its "resolve" (download) link, or run `git lfs pull` in the cloned repository.';
  }
  if (head[0] === 0x1f && head[1] === 0x8b) {
    return 'is a gzip archive, not a safetensors file. Decompress it first.';
  }
  if (text.startsWith('\x93numpy')) {
    return 'is a NumPy .npy file, not a safetensors file. Save the arrays with `safetensors.numpy.save_file` instead.';
  }
  if (text.startsWith('{') || text.startsWith('[')) {
    return 'is a JSON file (such as config.json), not a safetensors file. Choose the .safetensors weights file.';
  }
  return null;
}

function fail(message: string): never {
  throw new SafetensorsError(message);
}

/** A header value as messages quote it: JSON, cut short when long. */
function shown(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 77)}…` : text;
}

function isNonNegativeInteger(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function parseHeader(json: string, dataSize: number, dataStart: number, what: string, where: string) {
  let header: unknown;
  try {
    header = JSON.parse(json);
  } catch (error) {
    fail(`${what} has a header that is not valid JSON (${(error as Error).message}): the file is corrupt or not a safetensors file. Download or export it again.`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) {
    fail(`${what} has a header that is not a JSON object (found ${Array.isArray(header) ? 'an array' : String(header === null ? 'null' : typeof header)}): the file is corrupt or not a safetensors file.`);
  }

  const metadata: Record<string, string> = {};
  const byName = new Map<string, TensorInfo>();
  const relative: { name: string; begin: number; end: number }[] = [];
  for (const [name, entry] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
        fail(`${what} has a "__metadata__" entry that is not an object of strings; the file is corrupt.`);
      }
      for (const [key, value] of Object.entries(entry as Record<string, unknown>)) {
        if (typeof value !== 'string') {
          fail(`${what} has a "__metadata__" value for "${key}" that is not a string (found ${shown(value)}); safetensors metadata values must be strings.`);
        }
        metadata[key] = value;
      }
      continue;
    }
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
      fail(`Tensor "${name}" in ${where} has a header entry that is not an object with dtype, shape and data_offsets; the file is corrupt.`);
    }
    const { dtype, shape, data_offsets: offsets } = entry as Record<string, unknown>;
    for (const [field, value] of [['dtype', dtype], ['shape', shape], ['data_offsets', offsets]] as const) {
      if (value === undefined) fail(`Tensor "${name}" in ${where} has no "${field}" in its header entry; the file is corrupt.`);
    }
    if (!isDtype(dtype)) {
      fail(`Tensor "${name}" in ${where} has unknown dtype ${shown(dtype)}; known dtypes are ${Object.keys(DTYPE_SIZES).join(', ')}. ` +
        'Convert the tensor to F32, F16 or BF16 before saving.');
    }
    if (!Array.isArray(shape) || !shape.every(isNonNegativeInteger)) {
      fail(`Tensor "${name}" in ${where} has shape ${shown(shape)}, which is not a list of non-negative integers; the file is corrupt.`);
    }
    const [begin, end] = Array.isArray(offsets) && offsets.length === 2 ? (offsets as unknown[]) : [];
    if (!isNonNegativeInteger(begin) || !isNonNegativeInteger(end) || begin > end) {
      fail(`Tensor "${name}" in ${where} has data_offsets ${shown(offsets)}, which are not [begin, end] with 0 ≤ begin ≤ end; the file is corrupt.`);
    }
    const expectedBytes = shape.reduce((product: number, dim: number) => product * dim, 1) * DTYPE_SIZES[dtype];
    if (end - begin !== expectedBytes) {
      fail(`Tensor "${name}" in ${where} (${dtype} ${shapeText(shape)}) should take ${expectedBytes} bytes ` +
        `(dtype size ${DTYPE_SIZES[dtype]} × shape) but its data_offsets [${begin}, ${end}] hold ${end - begin}; the file is corrupt.`);
    }
    byName.set(name, { dtype, shape: [...shape], begin: dataStart + begin, end: dataStart + end });
    relative.push({ name, begin, end });
  }

  // The data section must be tiled exactly: tensors back to back from offset 0 to the end.
  relative.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let covered = 0;
  let previous: string | null = null;
  for (const t of relative) {
    if (t.begin < covered) {
      fail(`Tensor "${t.name}" in ${where} (data_offsets [${t.begin}, ${t.end}]) overlaps tensor "${previous}" (which ends at ${covered}); the file is corrupt.`);
    }
    if (t.begin > covered) {
      if (previous === null) {
        fail(`The first tensor "${t.name}" in ${where} starts at data offset ${t.begin}, not 0, leaving a gap of ${t.begin} bytes; the file is corrupt.`);
      }
      fail(`In ${where}, there is a gap of ${t.begin - covered} bytes between tensor "${previous}" (ends at ${covered}) and tensor "${t.name}" (starts at ${t.begin}); the file is corrupt.`);
    }
    covered = t.end;
    previous = t.name;
  }
  if (covered > dataSize) {
    const last = relative[relative.length - 1]!;
    fail(`${what} is truncated: its tensors' data_offsets run past the end of the file (tensor "${last.name}" ends at data offset ${last.end}, ` +
      `but the data section holds only ${dataSize} of ${covered} bytes). The download is incomplete; download the file again.`);
  }
  if (covered < dataSize) {
    fail(`${what} has ${dataSize - covered} unused bytes after the last tensor (the header accounts for ${covered} of ${dataSize} data bytes); the file is corrupt.`);
  }
  // Data order is the header order of every writer that lays tensors out in header order, and
  // unlike JSON object order it is not reshuffled for integer-like names.
  const tensors = new Map(relative.map((t) => [t.name, byName.get(t.name)!] as const));
  return { metadata, tensors };
}

/** Reads and validates the header only; tensors are read on demand. */
export async function openSafetensors(source: ByteSource): Promise<SafetensorsFile> {
  const { what, where } = describeSource(source);
  const size = source.size;
  if (size === 0) fail(`${what} is empty (0 bytes): the download or save did not complete. Download or export it again.`);
  const head = await source.read(0, Math.min(size, HEAD_READ_BYTES));
  if (size < 8) {
    const wrong = recogniseWrongFile(head);
    fail(wrong ? `${what} ${wrong}` : `${what} is only ${size} bytes, too short to be a safetensors file (its header length alone takes 8). Download or export it again.`);
  }

  const lengthView = new DataView(head.buffer, head.byteOffset, 8);
  const low = lengthView.getUint32(0, true);
  const high = lengthView.getUint32(4, true);
  const headerLength = high * 2 ** 32 + low; // may exceed 2^53 when high is large; only compared below
  if (headerLength > MAX_HEADER_BYTES || 8 + headerLength > size) {
    const wrong = recogniseWrongFile(head);
    if (wrong) fail(`${what} ${wrong}`);
    if (headerLength > MAX_HEADER_BYTES) {
      fail(`${what} declares a header of ${headerLength} bytes, over the ${MAX_HEADER_BYTES / 1e6} MB limit: it is not a safetensors file or it is corrupt.`);
    }
    fail(`${what} declares a header of ${headerLength} bytes, beyond the end of the file (${size} bytes): ` +
      'the file is truncated (an incomplete download) or not a safetensors file. Download it again.');
  }

  const headerBytes = 8 + headerLength <= head.byteLength ? head.subarray(8, 8 + headerLength) : await source.read(8, headerLength);
  let json: string;
  try {
    json = new TextDecoder('utf-8', { fatal: true }).decode(headerBytes);
  } catch {
    fail(`${what} has a header that is not valid UTF-8 JSON: the file is corrupt or not a safetensors file. Download or export it again.`);
  }
  // Some writers pad with NULs rather than spaces; JSON.parse accepts only whitespace.
  json = json.replace(/\0+$/, '');

  const dataStart = 8 + headerLength;
  const { metadata, tensors } = parseHeader(json, size - dataStart, dataStart, what, where);

  function info(name: string): TensorInfo {
    const found = tensors.get(name);
    if (!found) fail(`${what} has no tensor named "${name}"${suggest(name)}.`);
    return found;
  }

  // A prefix mismatch ("model.", "module.") is the commonest cause of a missing key: point at it.
  function suggest(name: string): string {
    for (const candidate of tensors.keys()) {
      if (candidate.endsWith(`.${name}`) || name.endsWith(`.${candidate}`)) return ` (it has "${candidate}")`;
    }
    return '';
  }

  return {
    source,
    metadata,
    tensors,
    dataStart,
    names: () => [...tensors.keys()],
    has: (name) => tensors.has(name),
    checkShape(name, shape) {
      const found = tensors.get(name);
      if (!found) fail(`${what} is missing tensor "${name}" (expected shape ${shapeText(shape)})${suggest(name)}.`);
      if (found.shape.length !== shape.length || found.shape.some((d, i) => d !== shape[i])) {
        fail(`Tensor "${name}" in ${where} has shape ${shapeText(found.shape)}, expected ${shapeText(shape)}.`);
      }
      return found;
    },
    expect(spec) {
      const problems: string[] = [];
      for (const [name, shape] of Object.entries(spec)) {
        const found = tensors.get(name);
        if (!found) problems.push(`"${name}" is missing (expected shape ${shapeText(shape)})${suggest(name)}`);
        else if (found.shape.length !== shape.length || found.shape.some((d, i) => d !== shape[i])) {
          problems.push(`"${name}" has shape ${shapeText(found.shape)}, expected ${shapeText(shape)}`);
        }
      }
      if (problems.length === 0) return;
      const shown = problems.slice(0, 12);
      const more = problems.length > shown.length ? `; and ${problems.length - shown.length} more` : '';
      fail(`${what} does not fit: ${problems.length === 1 ? 'tensor' : `${problems.length} tensors:`} ${shown.join('; ')}${more}. ` +
        'Check that the file is for this model (architecture and size).');
    },
    async readBytes(name) {
      const t = info(name);
      return source.read(t.begin, t.end - t.begin);
    },
    async readF32(name) {
      const t = info(name);
      if (!FLOAT_DTYPES.includes(t.dtype)) {
        fail(`Tensor "${name}" in ${where} is ${t.dtype}; only ${FLOAT_DTYPES.join(', ')} tensors can be read as floats.`);
      }
      const count = (t.end - t.begin) / DTYPE_SIZES[t.dtype];
      return decodeFloats(t.dtype, await source.read(t.begin, t.end - t.begin), count);
    },
    async readInt(name) {
      const t = info(name);
      if (!INT_DTYPES.includes(t.dtype)) {
        fail(`Tensor "${name}" in ${where} is ${t.dtype}; integer tensors (labels) must be ${INT_DTYPES.join(' or ')}.`);
      }
      const bytes = await source.read(t.begin, t.end - t.begin);
      const count = (t.end - t.begin) / DTYPE_SIZES[t.dtype];
      const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      const out = new Int32Array(count);
      if (t.dtype === 'I32') {
        for (let i = 0; i < count; i++) out[i] = view.getInt32(i * 4, true);
        return out;
      }
      for (let i = 0; i < count; i++) {
        const low = view.getInt32(i * 8, true);
        const high = view.getInt32(i * 8 + 4, true);
        // Fits in i32 exactly when the high word is the sign extension of the low word.
        if (high !== (low < 0 ? -1 : 0)) {
          fail(`Tensor "${name}" in ${where} holds the I64 value ${view.getBigInt64(i * 8, true)} at index ${i}, outside the 32-bit integer range; ` +
            'labels must be class indices. Check that this is the right tensor.');
        }
        out[i] = low;
      }
      return out;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Writer

export interface TensorToWrite {
  name: string;
  shape: readonly number[];
  data: Float32Array | Int32Array;
}

function littleEndianBytes(data: Float32Array | Int32Array): Uint8Array<ArrayBuffer> {
  if (HOST_IS_LITTLE_ENDIAN && data.buffer instanceof ArrayBuffer) {
    return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  }
  // Shared memory is not a valid BlobPart, and big-endian hosts need the bytes swapped: copy.
  const out = new Uint8Array(data.byteLength);
  const view = new DataView(out.buffer);
  for (let i = 0; i < data.length; i++) {
    if (data instanceof Float32Array) view.setFloat32(i * 4, data[i]!, true);
    else view.setInt32(i * 4, data[i]!, true);
  }
  return out;
}

/**
 * The file as parts: the length-prefixed header, then each tensor's own bytes (views, no copy).
 * `new Blob(parts)` or writing them in turn exports a large model without one big buffer.
 */
export function safetensorsParts(tensors: readonly TensorToWrite[], metadata?: Record<string, string>): Uint8Array<ArrayBuffer>[] {
  const entries: string[] = [];
  if (metadata !== undefined) {
    for (const [key, value] of Object.entries(metadata)) {
      if (typeof value !== 'string') {
        fail(`Metadata value for "${key}" is ${JSON.stringify(value)} (${typeof value}); safetensors metadata values must be strings — convert it with String() or JSON.stringify().`);
      }
    }
    entries.push(`"__metadata__":${JSON.stringify(metadata)}`);
  }
  const seen = new Set<string>();
  const parts: Uint8Array<ArrayBuffer>[] = [];
  let offset = 0;
  for (const t of tensors) {
    if (t.name === '' || t.name === '__metadata__') fail(`A tensor cannot be named ${JSON.stringify(t.name)} in a safetensors file.`);
    if (seen.has(t.name)) fail(`Tensor "${t.name}" is given twice; tensor names in a safetensors file must be unique.`);
    seen.add(t.name);
    if (!t.shape.every(isNonNegativeInteger)) {
      fail(`Tensor "${t.name}" has shape ${JSON.stringify(t.shape)}, which is not a list of non-negative integers.`);
    }
    const count = t.shape.reduce((product, dim) => product * dim, 1);
    if (t.data.length !== count) {
      fail(`Tensor "${t.name}" has ${t.data.length} values but shape ${shapeText(t.shape)} needs ${count}.`);
    }
    const dtype = t.data instanceof Float32Array ? 'F32' : 'I32';
    const bytes = littleEndianBytes(t.data);
    // Built by hand rather than from one object so the header keeps the given order even for
    // integer-like names, which JavaScript objects would move to the front.
    entries.push(`${JSON.stringify(t.name)}:${JSON.stringify({ dtype, shape: [...t.shape], data_offsets: [offset, offset + bytes.byteLength] })}`);
    offset += bytes.byteLength;
    parts.push(bytes);
  }
  const json = new TextEncoder().encode(`{${entries.join(',')}}`);
  // Padding the header with spaces to a multiple of 8 puts the data section on an 8-byte boundary.
  const headerLength = Math.ceil(json.byteLength / 8) * 8;
  const head = new Uint8Array(8 + headerLength).fill(0x20);
  const view = new DataView(head.buffer);
  view.setUint32(0, headerLength % 2 ** 32, true);
  view.setUint32(4, Math.floor(headerLength / 2 ** 32), true);
  head.set(json, 8);
  return [head, ...parts];
}

/** The whole file in one buffer (F32 for Float32Array, I32 for Int32Array). */
export function writeSafetensors(tensors: readonly TensorToWrite[], metadata?: Record<string, string>): Uint8Array<ArrayBuffer> {
  const parts = safetensorsParts(tensors, metadata);
  const out = new Uint8Array(parts.reduce((total, part) => total + part.byteLength, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.byteLength;
  }
  return out;
}
