import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  blobSource,
  bf16BitsToF32,
  bytesSource,
  MAX_HEADER_BYTES,
  openSafetensors,
  SafetensorsError,
  safetensorsParts,
  writeSafetensors,
  type ByteSource,
  type TensorToWrite,
} from '../../src/io/safetensors';
import { fromHalfBits } from '../../src/io/f16';
import { fileSource } from '../../src/io/safetensors-node';
import { mulberry32 } from '../reference/ops';

function randomF32(n: number, seed: number): Float32Array<ArrayBuffer> {
  const rng = mulberry32(seed);
  return Float32Array.from({ length: n }, () => rng() * 2 - 1);
}

/** A file built by hand: the header exactly as given (string or object), then the data bytes. */
function rawFile(header: string | object, data: Uint8Array = new Uint8Array(0)): Uint8Array<ArrayBuffer> {
  const json = new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  const out = new Uint8Array(8 + json.byteLength + data.byteLength);
  new DataView(out.buffer).setUint32(0, json.byteLength, true);
  out.set(json, 8);
  out.set(data, 8 + json.byteLength);
  return out;
}

function u16Bytes(values: number[]): Uint8Array {
  const out = new Uint8Array(values.length * 2);
  const view = new DataView(out.buffer);
  values.forEach((v, i) => view.setUint16(i * 2, v, true));
  return out;
}

function concat(...parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.byteLength;
  }
  return out;
}

async function openBytes(bytes: Uint8Array) {
  return openSafetensors(bytesSource(bytes));
}

/** Expects opening to fail with a SafetensorsError whose message matches. */
async function rejects(bytes: Uint8Array, message: RegExp): Promise<void> {
  const error = await openBytes(bytes).then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(SafetensorsError);
  expect((error as Error).message).toMatch(message);
}

const TENSORS: TensorToWrite[] = [
  { name: 'blocks.0.attn.qkv.weight', shape: [7, 3, 5], data: randomF32(105, 1) },
  { name: 'scalar', shape: [], data: new Float32Array([3.5]) },
  { name: 'empty', shape: [4, 0, 2], data: new Float32Array(0) },
  { name: '1', shape: [2], data: new Float32Array([-1, 1]) }, // integer-like: JS objects would reorder it
  { name: 'labels', shape: [7], data: new Int32Array([0, 3, -1, 2147483647, -2147483648, 5, 6]) },
  { name: 'odd', shape: [1, 33, 1], data: randomF32(33, 2) },
];
const METADATA = { format: 'clora', format_version: '1', classes: '["cat","dog"]', note: 'ünïcødé ✓', empty: '' };

describe('safetensors writer and reader', () => {
  it('round-trips tensors, odd shapes (scalar, zero-size) and metadata', async () => {
    const file = await openBytes(writeSafetensors(TENSORS, METADATA));
    expect(file.metadata).toEqual(METADATA);
    expect(file.names()).toEqual(TENSORS.map((t) => t.name));
    for (const t of TENSORS) {
      const info = file.tensors.get(t.name)!;
      expect(info.shape).toEqual(t.shape);
      if (t.data instanceof Float32Array) {
        expect(info.dtype).toBe('F32');
        expect(await file.readF32(t.name)).toEqual(t.data);
      } else {
        expect(info.dtype).toBe('I32');
        expect(await file.readInt(t.name)).toEqual(t.data);
      }
    }
    expect(file.tensors.get('scalar')!.end - file.tensors.get('scalar')!.begin).toBe(4);
    expect((await file.readF32('empty')).length).toBe(0);
    // No metadata: no __metadata__ entry and an empty record.
    const bare = await openBytes(writeSafetensors([{ name: 'x', shape: [1], data: new Float32Array([2]) }]));
    expect(bare.metadata).toEqual({});
    const none = await openBytes(writeSafetensors([]));
    expect(none.names()).toEqual([]);
  });

  it('pads the header with spaces to a multiple of 8 and lays tensors out contiguously in the given order', async () => {
    for (let nameLength = 1; nameLength <= 9; nameLength++) {
      const tensors: TensorToWrite[] = [
        { name: 'a'.repeat(nameLength), shape: [3], data: new Float32Array([1.5, 2, 3]) },
        { name: 'z', shape: [2, 2], data: new Float32Array([4, 5, 6, 7]) },
        { name: 'b', shape: [1], data: new Int32Array([9]) },
      ];
      const bytes = writeSafetensors(tensors);
      const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      const headerLength = view.getUint32(0, true);
      expect(view.getUint32(4, true)).toBe(0);
      expect(headerLength % 8).toBe(0);
      const headerText = new TextDecoder().decode(bytes.subarray(8, 8 + headerLength));
      const jsonEnd = headerText.lastIndexOf('}') + 1;
      expect(headerText.slice(jsonEnd)).toMatch(/^ *$/);
      expect(headerLength - jsonEnd).toBeLessThan(8);
      // The header's keys are in the given order and the first data byte follows the padding.
      const header = JSON.parse(headerText) as Record<string, { data_offsets: [number, number] }>;
      expect(Object.keys(header)).toEqual(['a'.repeat(nameLength), 'z', 'b']);
      expect(header['a'.repeat(nameLength)]!.data_offsets).toEqual([0, 12]);
      expect(header.z!.data_offsets).toEqual([12, 28]);
      expect(header.b!.data_offsets).toEqual([28, 32]);
      expect(view.getFloat32(8 + headerLength, true)).toBe(1.5);
      expect(view.getFloat32(8 + headerLength + 12, true)).toBe(4);
      expect(view.getInt32(8 + headerLength + 28, true)).toBe(9);
      expect(bytes.byteLength).toBe(8 + headerLength + 32);

      const file = await openBytes(bytes);
      expect(file.dataStart).toBe(8 + headerLength);
      const infos = [...file.tensors.values()];
      expect(infos[0]!.begin).toBe(file.dataStart);
      for (let i = 1; i < infos.length; i++) expect(infos[i]!.begin).toBe(infos[i - 1]!.end);
      expect(infos[infos.length - 1]!.end).toBe(bytes.byteLength);
    }
  });

  it('safetensorsParts gives the header and views of the tensors themselves, the same bytes as writeSafetensors', async () => {
    const parts = safetensorsParts(TENSORS, METADATA);
    expect(parts.length).toBe(1 + TENSORS.length);
    TENSORS.forEach((t, i) => {
      expect(parts[i + 1]!.buffer).toBe(t.data.buffer); // no copy
      expect(parts[i + 1]!.byteLength).toBe(t.data.byteLength);
    });
    expect(concat(...parts)).toEqual(writeSafetensors(TENSORS, METADATA));
    // A Blob made of the parts is a valid file.
    const file = await openSafetensors(blobSource(new Blob(parts)));
    expect(await file.readF32('odd')).toEqual(TENSORS[5]!.data);
    // A view into a larger array writes only its own elements.
    const big = randomF32(20, 3);
    const sub = big.subarray(5, 11);
    const fromView = await openBytes(writeSafetensors([{ name: 'v', shape: [2, 3], data: sub }]));
    expect(await fromView.readF32('v')).toEqual(new Float32Array(sub));
  });

  it('the writer rejects non-string metadata, wrong lengths, bad shapes and duplicate names', () => {
    const one = { name: 'x', shape: [2], data: new Float32Array(2) };
    expect(() => writeSafetensors([one], { rank: 4 } as unknown as Record<string, string>)).toThrow(/"rank".*must be strings/);
    expect(() => writeSafetensors([{ ...one, shape: [3] }])).toThrow(/"x" has 2 values but shape \[3\] needs 3/);
    expect(() => writeSafetensors([{ ...one, shape: [-2] }])).toThrow(/non-negative integers/);
    expect(() => writeSafetensors([one, one])).toThrow(/"x" is given twice/);
    expect(() => writeSafetensors([{ ...one, name: '__metadata__' }])).toThrow(SafetensorsError);
  });
});

describe('safetensors dtypes', () => {
  it('reads F16 (normal, subnormal, zero, inf, nan) and BF16 tensors exactly as f32', async () => {
    const f16Bits = [0x3c00, 0xc100, 0x7bff, 0x0001, 0x03ff, 0x0400, 0x8000, 0x7c00, 0xfc00, 0x7e00, 0x3555];
    const f16Expected = [1, -2.5, 65504, 2 ** -24, 1023 * 2 ** -24, 2 ** -14, -0, Infinity, -Infinity, NaN, 0.333251953125];
    const bf16Bits = [0x3f80, 0x4049, 0xc020, 0x0001, 0x7f80, 0xff80, 0x7fc0, 0x8000];
    const bf16Expected = [1, 3.140625, -2.5, 2 ** -133, Infinity, -Infinity, NaN, -0];
    // A 3-byte U8 tensor first puts the F16 data at an odd offset, exercising the unaligned path.
    const data = concat(new Uint8Array([1, 2, 3]), u16Bytes(f16Bits), u16Bytes(bf16Bits));
    const f16End = 3 + f16Bits.length * 2;
    const bytes = rawFile(
      {
        pad: { dtype: 'U8', shape: [3], data_offsets: [0, 3] },
        half: { dtype: 'F16', shape: [f16Bits.length], data_offsets: [3, f16End] },
        brain: { dtype: 'BF16', shape: [1, bf16Bits.length], data_offsets: [f16End, f16End + bf16Bits.length * 2] },
      },
      data,
    );
    for (const source of [bytesSource(bytes), blobSource(new Blob([bytes]))]) {
      const file = await openSafetensors(source);
      const half = await file.readF32('half');
      f16Expected.forEach((v, i) => expect(Object.is(half[i], v), `f16 0x${f16Bits[i]!.toString(16)} → ${half[i]}`).toBe(true));
      const brain = await file.readF32('brain');
      bf16Expected.forEach((v, i) => expect(Object.is(brain[i], v), `bf16 0x${bf16Bits[i]!.toString(16)} → ${brain[i]}`).toBe(true));
      await expect(file.readF32('pad')).rejects.toThrow(/"pad".*is U8; only F32, F16, BF16/);
    }
    bf16Bits.forEach((bits, i) => expect(Object.is(bf16BitsToF32(bits), bf16Expected[i])).toBe(true));
  });

  it('converts every one of the 65536 f16 bit patterns exactly', async () => {
    const all = Array.from({ length: 65536 }, (_, i) => i);
    const file = await openBytes(rawFile({ all: { dtype: 'F16', shape: [65536], data_offsets: [0, 131072] } }, u16Bytes(all)));
    const values = await file.readF32('all');
    for (let h = 0; h < 65536; h++) {
      const sign = h & 0x8000 ? -1 : 1;
      const e = (h >> 10) & 31;
      const f = h & 1023;
      const want = e === 31 ? (f ? NaN : sign * Infinity) : e === 0 ? sign * (f / 1024) * 2 ** -14 : sign * (1 + f / 1024) * 2 ** (e - 15);
      if (!Object.is(values[h], want)) throw new Error(`f16 0x${h.toString(16)}: got ${values[h]}, want ${want}`);
      if (!Object.is(fromHalfBits(h), want)) throw new Error(`fromHalfBits(0x${h.toString(16)}) = ${fromHalfBits(h)}, want ${want}`);
    }
  });

  it('reads F64 tensors rounded to f32', async () => {
    const doubles = new Float64Array([0.1, -1e300, 2 ** -140]);
    const file = await openBytes(rawFile({ d: { dtype: 'F64', shape: [3], data_offsets: [0, 24] } }, new Uint8Array(doubles.buffer)));
    expect(await file.readF32('d')).toEqual(Float32Array.from(doubles));
  });

  it('reads I32 and I64 labels; I64 values outside i32 throw', async () => {
    const i64 = new BigInt64Array([0n, 7n, -1n, 2147483647n, -2147483648n]);
    const i32 = new Int32Array([4, 0, -3]);
    const bad = new BigInt64Array([1n, 2147483648n]);
    const bytes = rawFile(
      {
        labels64: { dtype: 'I64', shape: [5], data_offsets: [0, 40] },
        labels32: { dtype: 'I32', shape: [3], data_offsets: [40, 52] },
        bad: { dtype: 'I64', shape: [2], data_offsets: [52, 68] },
        pixel_values: { dtype: 'F32', shape: [1], data_offsets: [68, 72] },
      },
      concat(new Uint8Array(i64.buffer), new Uint8Array(i32.buffer), new Uint8Array(bad.buffer), new Uint8Array(4)),
    );
    const file = await openBytes(bytes);
    expect([...(await file.readInt('labels64'))]).toEqual([0, 7, -1, 2147483647, -2147483648]);
    expect([...(await file.readInt('labels32'))]).toEqual([4, 0, -3]);
    await expect(file.readInt('bad')).rejects.toThrow(/"bad".*I64 value 2147483648 at index 1, outside the 32-bit/);
    await expect(file.readInt('pixel_values')).rejects.toThrow(/"pixel_values".*is F32; integer tensors \(labels\) must be I32 or I64/);
    await expect(file.readF32('labels32')).rejects.toThrow(/"labels32".*is I32; only F32/);
    await expect(file.readF32('nope')).rejects.toThrow(/no tensor named "nope"/);
  });
});

describe('safetensors validation', () => {
  const f32 = (begin: number, end: number, shape: number[] = [(end - begin) / 4]) => ({ dtype: 'F32', shape, data_offsets: [begin, end] });

  it('rejects empty, too short and impossible header lengths', async () => {
    await rejects(new Uint8Array(0), /is empty \(0 bytes\).*again/);
    await rejects(new Uint8Array([1, 0, 0]), /only 3 bytes, too short to be a safetensors file/);
    const beyond = rawFile('{}');
    new DataView(beyond.buffer).setUint32(0, 4000, true);
    await rejects(beyond, /header of 4000 bytes, beyond the end of the file \(10 bytes\).*truncated/);
    const huge = new Uint8Array(64);
    new DataView(huge.buffer).setUint32(0, MAX_HEADER_BYTES + 8, true);
    await rejects(huge, /header of 100000008 bytes, over the 100 MB limit/);
    const enormous = new Uint8Array(64);
    new DataView(enormous.buffer).setUint32(4, 7, true);
    await rejects(enormous, /over the 100 MB limit/);
  });

  it('rejects headers that are not valid JSON or not an object', async () => {
    await rejects(rawFile('{"a": {"dtype": "F32",'), /header that is not valid JSON/);
    await rejects(rawFile(new Uint8Array([0xff, 0xfe]).reduce((s, b) => s + String.fromCharCode(b), '{') + '}'), /not valid JSON/);
    await rejects(rawFile('[1, 2]'), /header that is not a JSON object \(found an array\)/);
    await rejects(rawFile('null'), /not a JSON object \(found null\)/);
    await rejects(rawFile('{"t": 5}'), /"t".*not an object with dtype, shape and data_offsets/);
    await rejects(rawFile({ __metadata__: { rank: 4 } }), /"__metadata__" value for "rank" that is not a string/);
    await rejects(rawFile({ __metadata__: 'x' }), /"__metadata__" entry that is not an object/);
  });

  it('rejects unknown dtypes and bad shapes', async () => {
    await rejects(rawFile({ w: { dtype: 'Q4', shape: [2], data_offsets: [0, 1] } }, new Uint8Array(1)), /"w".*unknown dtype "Q4"/);
    await rejects(rawFile({ w: { dtype: 'float32', shape: [2], data_offsets: [0, 8] } }, new Uint8Array(8)), /unknown dtype "float32".*F32/);
    for (const shape of [[2, -1], [1.5], '3', [null]]) {
      await rejects(rawFile({ w: { dtype: 'F32', shape, data_offsets: [0, 8] } }, new Uint8Array(8)), /"w".*shape .*not a list of non-negative integers/);
    }
    // Found by the fuzz pass: a missing field was quoted as "undefined".
    for (const missing of ['dtype', 'shape', 'data_offsets']) {
      const entry: Record<string, unknown> = { dtype: 'F32', shape: [2], data_offsets: [0, 8] };
      delete entry[missing];
      await rejects(rawFile({ w: entry }, new Uint8Array(8)), new RegExp(`^Tensor "w" in the file has no "${missing}" in its header entry; the file is corrupt\\.$`));
    }
    // A long value is quoted cut short, so the message stays a sentence.
    await rejects(rawFile({ w: { dtype: 'F32', shape: [...Array(500).fill(1), -1], data_offsets: [0, 4] } }, new Uint8Array(4)), /^Tensor "w" in the file has shape \[1,1,1,.{0,70}…, which is not a list/);
    await rejects(rawFile({ w: { dtype: 'F32', shape: [2], data_offsets: [8, 0] } }, new Uint8Array(8)), /"w".*data_offsets \[8,0\].*not \[begin, end\]/);
    await rejects(rawFile({ w: { dtype: 'F32', shape: [2], data_offsets: [0] } }, new Uint8Array(8)), /data_offsets/);
  });

  it('rejects byte counts that do not match dtype × shape', async () => {
    await rejects(rawFile({ w: f32(0, 20, [2, 3]) }, new Uint8Array(20)), /"w" .*F32 \[2, 3\].*should take 24 bytes.*hold 20/);
    await rejects(rawFile({ h: { dtype: 'F16', shape: [3], data_offsets: [0, 8] } }, new Uint8Array(8)), /"h".*should take 6 bytes/);
  });

  it('rejects offsets that overlap, leave gaps, do not start at 0, run past the end or leave bytes unused', async () => {
    await rejects(rawFile({ a: f32(0, 8), b: f32(4, 12) }, new Uint8Array(12)), /"b".*overlaps tensor "a"/);
    await rejects(rawFile({ a: f32(0, 8), b: f32(0, 8) }, new Uint8Array(8)), /overlaps/);
    await rejects(rawFile({ a: f32(0, 8), b: f32(12, 16) }, new Uint8Array(16)), /gap of 4 bytes between tensor "a".*and tensor "b"/);
    await rejects(rawFile({ a: f32(4, 12) }, new Uint8Array(12)), /first tensor "a".*starts at data offset 4, not 0/);
    await rejects(rawFile({ a: f32(0, 8), b: f32(8, 16) }, new Uint8Array(12)), /truncated.*run past the end of the file.*"b".*12 of 16 bytes.*download is incomplete/);
    await rejects(rawFile({ a: f32(0, 8) }, new Uint8Array(12)), /4 unused bytes after the last tensor/);
  });

  it('calls a truncated download incomplete', async () => {
    const whole = writeSafetensors(TENSORS, METADATA);
    for (const cut of [1, 100, whole.byteLength - 500]) {
      const error = await openBytes(whole.subarray(0, whole.byteLength - cut)).catch((e: Error) => e);
      expect(error).toBeInstanceOf(SafetensorsError);
      expect((error as Error).message).toMatch(/truncated|incomplete/);
    }
  });

  it('recognises HTML pages, PyTorch checkpoints and other wrong files', async () => {
    const text = (s: string) => new TextEncoder().encode(s);
    const html = /HTML page .*login.*not a safetensors file/;
    await rejects(text('<!DOCTYPE html>\n<html><head><title>Sign in</title></head><body>Please log in</body></html>'), html);
    await rejects(text('  \r\n\t<html lang="en"><body>404 Not Found</body></html>'), html);
    await rejects(text('<html>'), html); // shorter than 8 bytes
    await rejects(text('\ufeff<?xml version="1.0"?><Error><Code>AccessDenied</Code></Error>'), html);
    const zip = concat(new Uint8Array([0x50, 0x4b, 0x03, 0x04, 0x14, 0, 0, 8]), new Uint8Array(200));
    await rejects(zip, /zip archive.*PyTorch saves \.bin\/\.pth checkpoints.*Download the model's \.safetensors file instead/);
    for (const protocol of [2, 3, 4, 5]) {
      await rejects(concat(new Uint8Array([0x80, protocol, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20]), new Uint8Array(100)),
        /Python pickle \(a PyTorch \.bin\/\.pth checkpoint\).*\.safetensors file instead/);
    }
    await rejects(text('version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 346000000\n'), /Git LFS pointer/);
    await rejects(text('{\n  "architecture": "vit_base_patch16_224",\n  "num_classes": 1000\n}'), /JSON file \(such as config\.json\)/);
    await rejects(concat(new Uint8Array([0x1f, 0x8b, 8, 0, 0, 0, 0, 0]), new Uint8Array(40)), /gzip/);
  });
});

describe('safetensors shape checks', () => {
  it('checkShape and expect name the key, the expected and the found shape', async () => {
    const file = await openBytes(writeSafetensors(TENSORS));
    expect(file.checkShape('blocks.0.attn.qkv.weight', [7, 3, 5]).dtype).toBe('F32');
    expect(file.checkShape('scalar', []).shape).toEqual([]);
    expect(() => file.checkShape('blocks.0.attn.qkv.weight', [7, 15])).toThrow(/"blocks\.0\.attn\.qkv\.weight" .*has shape \[7, 3, 5\], expected \[7, 15\]/);
    expect(() => file.checkShape('head.weight', [10, 4])).toThrow(/missing tensor "head\.weight" \(expected shape \[10, 4\]\)/);
    expect(() => file.checkShape('scalar', [1])).toThrow(SafetensorsError);
    // A prefix difference is pointed out.
    expect(() => file.checkShape('attn.qkv.weight', [7, 3, 5])).toThrow(/it has "blocks\.0\.attn\.qkv\.weight"/);

    file.expect({ scalar: [], empty: [4, 0, 2], labels: [7] });
    let message = '';
    try {
      file.expect({ scalar: [], odd: [33], 'norm.weight': [768], labels: [7] });
    } catch (e) {
      expect(e).toBeInstanceOf(SafetensorsError);
      message = (e as Error).message;
    }
    expect(message).toMatch(/2 tensors/);
    expect(message).toMatch(/"odd" has shape \[1, 33, 1\], expected \[33\]/);
    expect(message).toMatch(/"norm\.weight" is missing \(expected shape \[768\]\)/);
  });
});

/** A Blob that counts the bytes of every slice it hands out. */
class CountingBlob extends Blob {
  bytesSliced = 0;
  override slice(start?: number, end?: number, contentType?: string): Blob {
    this.bytesSliced += (end ?? this.size) - (start ?? 0);
    return super.slice(start, end, contentType);
  }
}

describe('safetensors sources', () => {
  it('blobSource reads only the header to open, then each tensor on demand', async () => {
    const bigCount = 262144; // 1 MiB of f32
    const big = randomF32(bigCount, 7);
    const bytes = writeSafetensors([
      { name: 'small', shape: [3], data: new Float32Array([1, 2, 3]) },
      { name: 'big', shape: [512, 512], data: big },
      { name: 'tail', shape: [5], data: new Float32Array([5, 4, 3, 2, 1]) },
    ]);
    const blob = new CountingBlob([bytes]);
    const file = await openSafetensors(blobSource(blob));
    expect(blob.bytesSliced).toBeLessThan(100 * 1024);
    expect(blob.bytesSliced).toBeGreaterThan(0);

    blob.bytesSliced = 0;
    expect(await file.readF32('tail')).toEqual(new Float32Array([5, 4, 3, 2, 1]));
    expect(blob.bytesSliced).toBe(20);

    blob.bytesSliced = 0;
    const readBig = await file.readF32('big');
    // Compared as bytes: a deep equal over 262144 elements is slow.
    expect(Buffer.from(readBig.buffer, readBig.byteOffset, readBig.byteLength).equals(Buffer.from(big.buffer))).toBe(true);
    expect(blob.bytesSliced).toBe(bigCount * 4);
  });

  it('opens a header larger than the first read', async () => {
    const tensors: TensorToWrite[] = Array.from({ length: 1500 }, (_, i) => ({
      name: `blocks.${i}.some.rather.long.parameter.name.weight`,
      shape: [2],
      data: new Float32Array([i, -i]),
    }));
    const bytes = writeSafetensors(tensors, { note: 'x'.repeat(1000) });
    const headerLength = new DataView(bytes.buffer).getUint32(0, true);
    expect(headerLength).toBeGreaterThan(64 * 1024);
    const blob = new CountingBlob([bytes]);
    const file = await openSafetensors(blobSource(blob));
    expect(file.names().length).toBe(1500);
    expect(blob.bytesSliced).toBeLessThan(headerLength + 8 + 64 * 1024 + 1);
    expect(await file.readF32('blocks.1234.some.rather.long.parameter.name.weight')).toEqual(new Float32Array([1234, -1234]));
  });

  it('a custom ByteSource is only asked for the bytes it needs', async () => {
    const bytes = writeSafetensors(TENSORS, METADATA);
    const reads: [number, number][] = [];
    const source: ByteSource = { size: bytes.byteLength, read: async (o, l) => (reads.push([o, l]), bytes.slice(o, o + l)) };
    const file = await openSafetensors(source);
    expect(reads.length).toBe(1);
    reads.length = 0;
    await file.readF32('odd');
    const info = file.tensors.get('odd')!;
    expect(reads).toEqual([[info.begin, info.end - info.begin]]);
  });

  it('fileSource reads a file on disk and names it in errors', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'clora-safetensors-'));
    try {
      const path = join(dir, 'adapter.safetensors');
      await writeFile(path, writeSafetensors(TENSORS, METADATA));
      const source = await fileSource(path);
      try {
        const file = await openSafetensors(source);
        expect(file.metadata).toEqual(METADATA);
        expect(await file.readF32('blocks.0.attn.qkv.weight')).toEqual(TENSORS[0]!.data);
        expect(await file.readInt('labels')).toEqual(TENSORS[4]!.data);
        expect((await file.readF32('empty')).length).toBe(0);
        await expect(source.read(source.size - 2, 4)).rejects.toThrow(RangeError);
      } finally {
        await source.close();
      }

      const htmlPath = join(dir, 'vit_base.safetensors');
      await writeFile(htmlPath, '<!doctype html><html><body>Access denied</body></html>');
      const htmlSource = await fileSource(htmlPath);
      try {
        await expect(openSafetensors(htmlSource)).rejects.toThrow(/^"vit_base\.safetensors" is an HTML page/);
      } finally {
        await htmlSource.close();
      }
      await expect(fileSource(join(dir, 'missing.safetensors'))).rejects.toThrow(/ENOENT/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
