// The readers the fuzz harness feeds: each entry names its seeds (real files of the repository), its
// hand-made hostile inputs, how it opens an input the way the app does, its own error classes and how
// much it may allocate. A new reader (the .pth reader, point-cloud readers, the project file) plugs in
// with one more entry.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { deserialize, serialize } from 'node:v8';
import { declaredSize } from '../../src/data/declared-size';
import { expandZips, precheck, sniffImage, type FoundFile } from '../../src/data/intake';
import { decodeImage } from '../../src/data/decode-node';
import { ImageDecodeError, imageFormat, jpegHeader, MAX_IMAGE_PIXELS, pngHeader, smallestImageBytes, type RgbaImage } from '../../src/data/preprocess';
import { checkCheckpoint, CheckpointError } from '../../src/io/checkpoint-record';
import { bytesSource, openSafetensors, SafetensorsError } from '../../src/io/safetensors';
import { ZipError } from '../../src/io/zip';
import { declaring, PILLOW_3X5, pillowImage } from '../helpers/pillow-images';
import { crc32, makeZip } from '../helpers/zip-bomb';
import { InvariantError, type FuzzReader, type FuzzSeed } from './fuzz-reader';
import { mutateBytes } from './mutate';
import { mutateValue } from './mutate-value';
import { checkpointFileReader } from './readers-checkpoint-file';
import { POINT_READERS } from './readers-points';
import { projectFileReader } from './readers-project';
import { pthReader } from './readers-pth';
import { root, seedFiles } from './seed-files';

const MB = 1 << 20;

const files = seedFiles;

const u8 = (...parts: (number[] | string | Uint8Array)[]): Uint8Array<ArrayBuffer> => {
  const arrays = parts.map((p) => (typeof p === 'string' ? new TextEncoder().encode(p) : p instanceof Uint8Array ? p : Uint8Array.from(p)));
  const out = new Uint8Array(arrays.reduce((n, a) => n + a.length, 0));
  let at = 0;
  for (const a of arrays) {
    out.set(a, at);
    at += a.length;
  }
  return out;
};

function le64(n: number): number[] {
  return [n % 256, (n >>> 8) % 256, (n >>> 16) % 256, (n >>> 24) % 256, Math.floor(n / 2 ** 32) % 256, Math.floor(n / 2 ** 40) % 256, Math.floor(n / 2 ** 48) % 256, 0];
}

/** A safetensors file with this header text (padded to 8) and `data` bytes. */
function safetensorsWith(header: string, data = 0): Uint8Array<ArrayBuffer> {
  const json = new TextEncoder().encode(header);
  const length = Math.ceil(json.length / 8) * 8;
  const padded = new Uint8Array(length).fill(0x20);
  padded.set(json);
  return u8(le64(length), padded, new Uint8Array(data));
}

const byteMutations = (tokens: readonly string[]) => (value: Uint8Array<ArrayBuffer>, rng: import('../../src/train/rng').Rng) => {
  const m = mutateBytes(value, rng, tokens);
  return { value: m.bytes, steps: m.steps };
};

// ---------------------------------------------------------------------------------------------

export const safetensorsReader: FuzzReader = {
  name: 'safetensors',
  seeds: async () => [...files('tests/fixtures', /\.safetensors$/), ...files('tests/fixtures/train', /^(backbone|data|init_.*|expected_(head|clora)_adamw_k1)\.safetensors$/), ...files('tests/fixtures/images', /\.safetensors$/)],
  hostile: async () => [
    { name: 'header length 2^56', value: u8([0, 0, 0, 0, 0, 0, 0, 1], '{}') },
    { name: 'header length beyond the file', value: u8(le64(1000), '{}') },
    { name: 'header of 99 MB declared in a 20-byte file', value: u8(le64(99_000_000), '{"a":1}    ') },
    { name: 'tensor of 2^40 elements over 8 bytes', value: safetensorsWith('{"x":{"dtype":"F32","shape":[1099511627776],"data_offsets":[0,4398046511104]}}', 8) },
    { name: 'shape product overflowing 2^53', value: safetensorsWith('{"x":{"dtype":"F64","shape":[4294967296,4294967296],"data_offsets":[0,8]}}', 8) },
    { name: 'offsets past the end', value: safetensorsWith('{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}', 4) },
    { name: 'overlapping tensors', value: safetensorsWith('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}', 12) },
    { name: 'negative and fractional offsets', value: safetensorsWith('{"a":{"dtype":"F32","shape":[1],"data_offsets":[-4,0.5]}}', 4) },
    { name: 'deeply nested header', value: safetensorsWith(`{"__metadata__":${'['.repeat(200_000)}${']'.repeat(200_000)}}`) },
    { name: '__proto__ in the metadata and as a tensor name', value: safetensorsWith('{"__metadata__":{"__proto__":"x","constructor":"y"},"__proto__":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', 4) },
    { name: 'invalid UTF-8 header', value: u8(le64(8), [0x7b, 0xff, 0xfe, 0x22, 0x7d, 0x20, 0x20, 0x20]) },
    { name: 'I64 labels outside i32', value: safetensorsWith('{"labels":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}}', 8).map((b, i, a) => (i >= a.length - 8 ? 0x7f : b)) },
    { name: 'thirty thousand empty tensors', value: safetensorsWith(`{${Array.from({ length: 30_000 }, (_, i) => `"t${i}":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}`).join(',')}}`) },
    { name: 'HTML page', value: u8('<!doctype html><html><body>Sign in</body></html>') },
    { name: 'empty', value: new Uint8Array(0) },
  ],
  mutate: byteMutations(['"F32"', '"F16"', '"BF16"', '"I64"', '"I32"', '"U8"', '"F64"', '"BOOL"', '"dtype"', '"shape"', '"data_offsets"', '"__metadata__"', '[', ']', '{', '}', ',', '"']),
  size: (v) => v.byteLength,
  async open(bytes) {
    const file = await openSafetensors(bytesSource(bytes, 'fuzz.safetensors'));
    for (const [name, info] of file.tensors) {
      const count = info.shape.reduce((a, b) => a * b, 1);
      if (info.dtype === 'I32' || info.dtype === 'I64') {
        const data = await file.readInt(name);
        if (data.length !== count) throw new InvariantError(`${name}: ${data.length} integers read for shape [${info.shape}]`);
      } else if (['F32', 'F16', 'BF16', 'F64'].includes(info.dtype)) {
        const data = await file.readF32(name);
        if (data.length !== count) throw new InvariantError(`${name}: ${data.length} floats read for shape [${info.shape}]`);
      } else {
        await file.readBytes(name);
      }
    }
    return undefined;
  },
  errors: [SafetensorsError],
  // The tensors' bytes, plus the header's JSON as JavaScript objects: about 20 times its text (30,000
  // tensors in a 1.7 MB header take 35 MB of heap).
  budget: (v) => 16 * MB + 8 * v.byteLength + 32 * headerBytes(v),
};

/** The header length a safetensors file declares, clamped to the file. */
function headerBytes(bytes: Uint8Array): number {
  if (bytes.length < 8) return 0;
  const view = new DataView(bytes.buffer, bytes.byteOffset, 8);
  return Math.min(bytes.length, view.getUint32(0, true) + view.getUint32(4, true) * 2 ** 32);
}

// ---------------------------------------------------------------------------------------------

/** The fuzz pass reads zips with a 4 MB entry limit (the app's is 256 MB), so bombs cost little time. */
const FUZZ_ZIP_ENTRY_LIMIT = 4 * MB;

const imageSeeds = async (): Promise<FuzzSeed<Uint8Array<ArrayBuffer>>[]> => [
  ...files('tests/fixtures/images', /\.(png|jpg)$/),
  ...readdirSync(join(root, 'public/samples/fashion'), { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => ({ name: `public/samples/fashion/${d.name}/001.png`, value: new Uint8Array(readFileSync(join(root, 'public/samples/fashion', d.name, '001.png'))) })),
];

function isPlainPath(path: string): boolean {
  return path !== '' && !path.includes('\\') && !path.startsWith('/') && path.split('/').every((p) => p !== '' && p !== '.' && p !== '..' && !/^[A-Za-z]:$/.test(p));
}

export const zipReader: FuzzReader = {
  name: 'zip intake',
  async seeds() {
    const images = await imageSeeds();
    const pick = (i: number) => images[i % images.length]!.value;
    return [
      { name: 'a data set zip (deflated)', value: makeZip([{ name: 'set/cat/1.png', data: pick(0) }, { name: 'set/cat/2.jpg', data: pick(3) }, { name: 'set/dog/1.png', data: pick(5) }, { name: 'set/dog/notes.txt', data: new TextEncoder().encode('hello') }]) },
      { name: 'a stored zip with data descriptors', value: makeZip([{ name: 'a/1.png', data: pick(7), method: 'store', descriptor: true }, { name: 'b/2.png', data: pick(9), descriptor: true }]) },
      { name: 'a small bomb among images', value: makeZip([{ name: 'x/1.png', data: pick(11) }, { name: 'x/bomb.png', zerosMB: 8, declaredSize: 100 }, { name: 'y/2.png', data: pick(12) }]) },
    ];
  },
  async hostile() {
    const png = (await imageSeeds())[0]!.value;
    return [
      { name: '600 MB of zeros declared honestly', value: makeZip([{ name: 'a/bomb.png', zerosMB: 600 }, { name: 'a/1.png', data: png }]) },
      { name: '600 MB of zeros declared as 1000 bytes', value: makeZip([{ name: 'a/bomb.png', zerosMB: 600, declaredSize: 1000 }, { name: 'a/1.png', data: png }]) },
      { name: '600 MB of zeros behind a data descriptor', value: makeZip([{ name: 'a/bomb.png', zerosMB: 600, descriptor: true }, { name: 'a/1.png', data: png }]) },
      { name: 'ten 64 MB bombs', value: makeZip(Array.from({ length: 10 }, (_, i) => ({ name: `b/${i}.png`, zerosMB: 64, declaredSize: 64 }))) },
      { name: 'names that climb out', value: makeZip(['../../x.png', '/etc/cat/1.png', 'C:\\Windows\\dog\\2.png', '..\\..\\3.png', 'a/./../../4.png', '....//5.png'].map((name) => ({ name, data: png }))) },
      { name: 'entry declaring 4 GB in a tiny file', value: makeZip([{ name: 'c/big.png', data: png, declaredSize: 0xffffffff }]) },
      { name: 'unknown compression methods', value: makeZip([1, 6, 9, 12, 14, 95, 99].map((method) => ({ name: `m/${method}.png`, data: png, method }))) },
      { name: 'a zip inside a zip', value: makeZip([{ name: 'inner/set.zip', data: makeZip([{ name: 'cat/1.png', data: png }]) }]) },
      { name: 'a thousand empty entries', value: makeZip(Array.from({ length: 1000 }, (_, i) => ({ name: `e/${i}.png`, data: new Uint8Array(0) }))) },
      { name: 'only the end-of-directory record', value: makeZip([]) },
    ];
  },
  mutate: byteMutations(['PK\x03\x04', 'PK\x01\x02', 'PK\x05\x06', 'PK\x07\x08', '.png', '/']),
  size: (v) => v.byteLength,
  async open(bytes) {
    async function* dropped(): AsyncGenerator<FoundFile> {
      yield { path: 'drop/set.zip', file: new Blob([bytes]) };
    }
    // As the intake does: every entry that is not refused gets the precheck from its first bytes. Refused
    // entries leave the archive opened; an archive refused as a whole (ZipError) comes out as the zip itself.
    let archiveRefused: string | undefined;
    // After a large or refused entry, a collection: the budget is for what one entry costs (at most the
    // limit), not for the garbage of every earlier one, which the engine would collect as it needs to.
    const collect = (globalThis as { gc?: (options: { type: 'minor' }) => void }).gc;
    for await (const f of expandZips(dropped(), { maxEntryBytes: FUZZ_ZIP_ENTRY_LIMIT })) {
      if (f.refused !== undefined || f.file.size > MB) collect?.({ type: 'minor' });
      if (f.path === 'drop/set.zip' && f.refused !== undefined) {
        archiveRefused = f.refused;
        continue;
      }
      if (!isPlainPath(f.path)) throw new InvariantError(`the entry path ${JSON.stringify(f.path)} is not plain names`);
      if (f.file.size > FUZZ_ZIP_ENTRY_LIMIT) throw new InvariantError(`an entry of ${f.file.size} bytes passed the ${FUZZ_ZIP_ENTRY_LIMIT}-byte limit`);
      if (f.refused !== undefined) {
        if (f.refused.trim().length < 12) throw new InvariantError(`the refusal "${f.refused}" says nothing`);
        continue;
      }
      await precheck(f.path, f.file);
    }
    return archiveRefused;
  },
  errors: [ZipError],
  budget: (v) => 32 * MB + 8 * v.byteLength + 4 * FUZZ_ZIP_ENTRY_LIMIT,
};

// ---------------------------------------------------------------------------------------------

/**
 * Pixels the header declares, when the file may decode to them: within the limit, and with enough bytes to
 * hold them. Anything else must be refused from the header, before a decoder allocates for it.
 */
function declaredPixels(bytes: Uint8Array): number {
  const format = imageFormat(bytes);
  const header = format === 'png' ? pngHeader(bytes) : format === 'jpeg' ? jpegHeader(bytes) : undefined;
  if (!header) return 0;
  const pixels = header.width * header.height;
  return pixels <= MAX_IMAGE_PIXELS && bytes.length >= smallestImageBytes(header) ? pixels : 0;
}

const IMAGE_TOKENS = ['IHDR', 'IDAT', 'IEND', 'PLTE', 'tRNS', '\xff\xd8', '\xff\xc0', '\xff\xc2', '\xff\xc4', '\xff\xda', '\xff\xd9', '\xff\xdd', 'Exif\0\0', 'MM\0*', 'II*\0'];

/** PNG and JPEG files whose header declares a huge size, or whose data is cut or damaged. */
async function hostileImages(): Promise<FuzzSeed<Uint8Array<ArrayBuffer>>[]> {
  const png = new Uint8Array(readFileSync(join(root, 'tests/fixtures/images/rgb.png')));
  const jpg = new Uint8Array(readFileSync(join(root, 'tests/fixtures/images/rgb_q90_420.jpg')));
  // The IHDR's CRC is made to match, so only the declared size is wrong.
  const withPngSize = (w: number, h: number): Uint8Array<ArrayBuffer> => {
    const out = png.slice();
    const view = new DataView(out.buffer);
    view.setUint32(16, w);
    view.setUint32(20, h);
    view.setUint32(29, crc32(out.subarray(12, 29)));
    return out;
  };
  const sof = jpg.findIndex((b, i) => b === 0xff && jpg[i + 1] === 0xc0);
  const withJpegSize = (w: number, h: number): Uint8Array<ArrayBuffer> => {
    const out = jpg.slice();
    const view = new DataView(out.buffer);
    view.setUint16(sof + 5, h);
    view.setUint16(sof + 7, w);
    return out;
  };
  const badCrc = png.slice();
  badCrc[29]! ^= 0xff; // IHDR's CRC
  const scan = jpg.findIndex((b, i) => b === 0xff && jpg[i + 1] === 0xda);
  return [
    { name: 'PNG declaring 4294967295 × 4294967295', value: withPngSize(0xffffffff, 0xffffffff) },
    { name: 'PNG declaring 20000 × 10000 (200 MP)', value: withPngSize(20000, 10000) },
    { name: 'PNG declaring 7000 × 7000 (49 MP, under the limit) with a few bytes of data', value: withPngSize(7000, 7000) },
    { name: 'PNG declaring 0 × 5', value: withPngSize(0, 5) },
    { name: 'PNG with a bad IHDR CRC', value: badCrc },
    { name: 'PNG cut inside IDAT', value: png.slice(0, 60) },
    { name: 'PNG signature only', value: png.slice(0, 8) },
    { name: 'PNG with a chunk length of 2^31', value: ((b) => (new DataView(b.buffer).setUint32(33, 0x80000000), b))(png.slice()) },
    { name: 'JPEG declaring 65535 × 65535', value: withJpegSize(65535, 65535) },
    { name: 'JPEG declaring 7000 × 7000 with its small scan', value: withJpegSize(7000, 7000) },
    { name: 'JPEG declaring 0 × 0', value: withJpegSize(0, 0) },
    { name: 'JPEG cut in the scan', value: jpg.slice(0, scan + 40) },
    { name: 'JPEG cut before the frame header', value: jpg.slice(0, sof) },
    { name: 'JPEG whose scan is all 0xFF bytes', value: u8(jpg.slice(0, scan + 14), new Uint8Array(2000).fill(0xff), [0xff, 0xd9]) },
    { name: 'JPEG start marker alone', value: u8([0xff, 0xd8, 0xff]) },
    { name: 'JPEG with an EXIF block whose IFD points far away', value: u8([0xff, 0xd8, 0xff, 0xe1, 0x00, 0x16], 'Exif\0\0', 'II*\0', [0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0], jpg.slice(2)) },
  ];
}

export const imageDecoderReader: FuzzReader = {
  name: 'image decoder (Node: pngjs, jpeg-js)',
  seeds: imageSeeds,
  hostile: hostileImages,
  mutate: byteMutations(IMAGE_TOKENS),
  size: (v) => v.byteLength,
  async open(bytes) {
    // Decoded twice, with other data written into freed memory in between: a decoder that reads memory it
    // never wrote gives different pixels (or a different error) the second time.
    const decode = (): { image?: RgbaImage; error?: unknown } => {
      try {
        return { image: decodeImage(bytes, 'fuzz image') };
      } catch (error) {
        return { error };
      }
    };
    const first = decode();
    dirtyFreedMemory();
    const second = decode();
    const same = first.image && second.image ? first.image.data.every((v, i) => v === second.image!.data[i]) && first.image.data.length === second.image.data.length : String(first.error) === String(second.error);
    if (!same) throw new InvariantError(`the same bytes decoded differently twice (${first.image ? 'pixels' : String(first.error)} / ${second.image ? 'pixels' : String(second.error)}): the decoder reads memory it never wrote`);
    if (first.error) throw first.error;
    const { width, height, data } = first.image!;
    if (!(width >= 1 && height >= 1 && width * height <= MAX_IMAGE_PIXELS)) throw new InvariantError(`decoded to ${width} × ${height}`);
    if (data.length !== 4 * width * height) throw new InvariantError(`${data.length} bytes for ${width} × ${height} RGBA`);
    return undefined;
  },
  errors: [ImageDecodeError],
  budget: (v) => 32 * MB + 8 * v.byteLength + 24 * declaredPixels(v),
};

/** Fills freed memory with a pattern: the pool small Buffers come from, and a few larger blocks, collected. */
function dirtyFreedMemory(): void {
  for (const size of [512, 1024, 2048, 4000, 65536, 1 << 20]) Buffer.allocUnsafe(size).fill(0xa5);
  (globalThis as { gc?: (options: { type: 'minor' }) => void }).gc?.({ type: 'minor' });
}

export const imagePrecheckReader: FuzzReader = {
  name: 'image precheck (intake)',
  seeds: async () => [
    ...(await imageSeeds()),
    ...Object.keys(PILLOW_3X5).map((name) => ({ name: `Pillow's 3 × 5 ${name}`, value: pillowImage(name) as Uint8Array<ArrayBuffer> })),
    { name: 'a text file', value: new TextEncoder().encode('just some notes\n') },
  ],
  hostile: async () => [
    ...(await hostileImages()),
    { name: 'GIF declaring 65535 × 65535', value: declaring('gif', 65535, 65535) as Uint8Array<ArrayBuffer> },
    { name: 'BMP declaring 2^31 − 1 × 2^31 (top-down)', value: declaring('bmp', 0x7fffffff, 0x7fffffff) as Uint8Array<ArrayBuffer> },
    { name: 'WebP (VP8X) declaring 2^24 × 2^24', value: declaring('webp VP8X', 2 ** 24, 2 ** 24) as Uint8Array<ArrayBuffer> },
    { name: 'WebP (VP8L) declaring 16384 × 16384', value: declaring('webp VP8L', 16384, 16384) as Uint8Array<ArrayBuffer> },
  ],
  mutate: byteMutations([...IMAGE_TOKENS, 'GIF89a', 'RIFF', 'WEBP', 'BM', 'ftyp']),
  size: (v) => v.byteLength,
  async open(bytes) {
    const reason = await precheck('fuzz/cat/image.png', new Blob([bytes]));
    if (reason === undefined) {
      const format = imageFormat(bytes);
      const header = format === 'png' ? pngHeader(bytes) : format === 'jpeg' ? jpegHeader(bytes) : undefined;
      if (header && (header.width * header.height > MAX_IMAGE_PIXELS || header.width === 0 || header.height === 0)) {
        throw new InvariantError(`accepted an image declaring ${header.width} × ${header.height}`);
      }
      const kind = sniffImage(bytes);
      const declared = kind ? declaredSize(kind, bytes) : undefined;
      if (declared && declared.width * declared.height > MAX_IMAGE_PIXELS) throw new InvariantError(`accepted a ${kind} declaring ${declared.width} × ${declared.height}`);
    }
    return reason;
  },
  errors: [],
  budget: () => 4 * MB,
};

// ---------------------------------------------------------------------------------------------

type Record = { meta: unknown; data: unknown };

export const checkpointReader: FuzzReader<Record> = {
  name: 'checkpoint records (IndexedDB)',
  seeds: async () => [{ name: 'tests/fixtures/idb-checkpoint/tiny-clora-step3.v8', value: deserialize(readFileSync(join(root, 'tests/fixtures/idb-checkpoint/tiny-clora-step3.v8'))) as Record }],
  async hostile() {
    const seed = (await this.seeds())[0]!.value as { meta: Record_; data: { state: State } };
    type Record_ = { [key: string]: unknown };
    type State = { [key: string]: unknown; optimizer: { m: Float32Array; v: Float32Array } };
    const variant = (name: string, change: (r: { meta: Record_; data: { state: State; accuracy: unknown[] } }) => void): { name: string; value: Record } => {
      const copy = structuredClone(seed) as { meta: Record_; data: { state: State; accuracy: unknown[] } };
      change(copy);
      return { name, value: copy };
    };
    return [
      variant('a newer record version', (r) => (r.meta.version = 2)),
      variant('no version (the first layout)', (r) => delete r.meta.version),
      variant('no settings', (r) => delete r.meta.settings),
      variant('moments one float short', (r) => (r.data.state.optimizer.m = r.data.state.optimizer.m.slice(1))),
      variant('moments as plain lists', (r) => (r.data.state.optimizer.v = [...r.data.state.optimizer.v] as unknown as Float32Array)),
      variant('the head for another class count', (r) => (r.data.state.trainable as Map<string, Float32Array>).set('head.bias', new Float32Array(7))),
      variant('a sample order with a repeat', (r) => ((r.data.state.order as number[])[1] = (r.data.state.order as number[])[0]!)),
      variant('a cursor past the order', (r) => (r.data.state.cursor = 1e6)),
      variant('the state of another step', (r) => (r.data.state.step = 5)),
      variant('weights as a plain object', (r) => (r.data.state.trainable = Object.fromEntries(r.data.state.trainable as Map<string, Float32Array>))),
      variant('a NaN weight', (r) => ((r.data.state.trainable as Map<string, Float32Array>).values().next().value![0] = NaN)),
      variant('class names with markup', (r) => (r.meta.classes = ['<script>alert(1)</script>', '<img src=x onerror=alert(2)>'])),
      variant('a string where the loss is', (r) => (r.meta.loss = 'low')),
      variant('no data at all', (r) => ((r as { data: unknown }).data = null)),
      { name: 'a record that is a number', value: { meta: 42, data: 'x' } },
    ];
  },
  mutate: (value, rng) => {
    const m = mutateValue(value, rng);
    return { value: m.value as Record, steps: m.steps };
  },
  size: (v) => serialize(v).byteLength,
  async open(record) {
    const { meta, data } = checkCheckpoint(record.meta, record.data);
    // What the page and the worker rely on once a record is accepted.
    if (data.state.optimizer.m.length !== data.state.optimizer.v.length) throw new InvariantError('accepted moments of different lengths');
    if (typeof meta.step !== 'number' || meta.step > meta.totalSteps) throw new InvariantError(`accepted step ${meta.step} of ${meta.totalSteps}`);
    if (!meta.classes.every((c) => typeof c === 'string')) throw new InvariantError('accepted class names that are not text');
    return undefined;
  },
  errors: [CheckpointError],
  budget: (v) => MB + 4 * serialize(v).byteLength,
};

/** Every reader the harness knows (each with its own input type). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const READERS: FuzzReader<any>[] = [safetensorsReader, zipReader, imagePrecheckReader, imageDecoderReader, checkpointReader, checkpointFileReader, pthReader, ...POINT_READERS, projectFileReader];
