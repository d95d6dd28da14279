// Seeded, bounded mutations of real files: bit flips, truncations, inserted and deleted bytes, enlarged
// numbers (binary fields and ASCII digits alike), swapped length fields, copied ranges and swapped format
// tokens. Each mutation says what it did, so a failing case can be read and replayed from its seed.
import { Rng } from '../../src/train/rng';

export interface Mutated {
  bytes: Uint8Array<ArrayBuffer>;
  /** What was done, in order, e.g. "flip bit 3 of byte 12; truncate to 200". */
  steps: string[];
}

/** Values that break length and size arithmetic: boundaries of every integer width, and their neighbours. */
const INTERESTING_U32 = [0, 1, 2, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff];
/** Numbers written as text (JSON headers, PLY/OBJ counts): huge, negative, fractional, beyond f64 and 2^53. */
const INTERESTING_TEXT = ['0', '-1', '1e309', '9007199254740993', '18446744073709551616', '4294967296', '0.5', '1e3', '99999999999', '-0', 'NaN'];

/** Where headers live: mutations land in the first kilobyte half the time. */
function position(rng: Rng, length: number): number {
  if (length === 0) return 0;
  return rng.next() < 0.5 ? rng.int(Math.min(length, 1024)) : rng.int(length);
}

function splice(bytes: Uint8Array, at: number, remove: number, insert: Uint8Array): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(bytes.length - remove + insert.length);
  out.set(bytes.subarray(0, at));
  out.set(insert, at);
  out.set(bytes.subarray(at + remove), at + insert.length);
  return out;
}

type Mutation = (bytes: Uint8Array<ArrayBuffer>, rng: Rng, tokens: readonly string[]) => { bytes: Uint8Array<ArrayBuffer>; step: string } | undefined;

const MUTATIONS: Mutation[] = [
  function flipBit(bytes, rng) {
    if (bytes.length === 0) return undefined;
    const at = position(rng, bytes.length);
    const bit = rng.int(8);
    const out = bytes.slice();
    out[at]! ^= 1 << bit;
    return { bytes: out, step: `flip bit ${bit} of byte ${at}` };
  },
  function truncate(bytes, rng) {
    if (bytes.length === 0) return undefined;
    const at = rng.next() < 0.3 ? rng.int(Math.min(bytes.length, 64)) : rng.int(bytes.length);
    return { bytes: bytes.slice(0, at), step: `truncate to ${at}` };
  },
  function insertBytes(bytes, rng) {
    const at = position(rng, bytes.length + 1);
    const count = 1 + rng.int(64);
    const fill = rng.next() < 0.5 ? Uint8Array.from({ length: count }, () => rng.int(256)) : new Uint8Array(count).fill(rng.next() < 0.5 ? 0 : 0xff);
    return { bytes: splice(bytes, at, 0, fill), step: `insert ${count} bytes at ${at}` };
  },
  function deleteBytes(bytes, rng) {
    if (bytes.length < 2) return undefined;
    const at = position(rng, bytes.length - 1);
    const count = 1 + rng.int(Math.min(64, bytes.length - at - 1) || 1);
    return { bytes: splice(bytes, at, count, new Uint8Array(0)), step: `delete ${count} bytes at ${at}` };
  },
  function enlargeBinaryNumber(bytes, rng) {
    if (bytes.length < 4) return undefined;
    const at = position(rng, bytes.length - 3);
    const width = [1, 2, 4][rng.int(3)]!;
    const little = rng.next() < 0.5;
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const old = width === 4 ? view.getUint32(at, little) : width === 2 ? view.getUint16(at, little) : view.getUint8(at);
    const max = 2 ** (8 * width) - 1;
    const choices = [...INTERESTING_U32.filter((v) => v <= max), Math.min(max, old * 2 + 1), Math.min(max, old + 1), Math.min(max, old * 256)];
    const value = choices[rng.int(choices.length)]!;
    const out = bytes.slice();
    const outView = new DataView(out.buffer);
    if (width === 4) outView.setUint32(at, value, little);
    else if (width === 2) outView.setUint16(at, value, little);
    else outView.setUint8(at, value);
    return { bytes: out, step: `set u${8 * width}${width > 1 ? (little ? 'le' : 'be') : ''} at ${at} from ${old} to ${value}` };
  },
  function enlargeTextNumber(bytes, rng) {
    // A run of ASCII digits (a JSON or text header's number) replaced by a hostile one.
    const runs: [number, number][] = [];
    for (let i = 0; i < Math.min(bytes.length, 1 << 16) && runs.length < 512; i++) {
      if (bytes[i]! >= 0x30 && bytes[i]! <= 0x39) {
        let j = i;
        while (j < bytes.length && bytes[j]! >= 0x30 && bytes[j]! <= 0x39) j++;
        runs.push([i, j]);
        i = j;
      }
    }
    if (runs.length === 0) return undefined;
    const [start, end] = runs[rng.int(runs.length)]!;
    const value = INTERESTING_TEXT[rng.int(INTERESTING_TEXT.length)]!;
    return { bytes: splice(bytes, start, end - start, new TextEncoder().encode(value)), step: `replace the number at ${start} (${end - start} digits) with ${value}` };
  },
  function swapLengthFields(bytes, rng) {
    // Two 4-byte words in the header region swapped: sizes and offsets trade places.
    const region = Math.min(bytes.length, 4096);
    if (region < 8) return undefined;
    const a = rng.int(region - 3);
    const b = rng.int(region - 3);
    if (Math.abs(a - b) < 4) return undefined;
    const out = bytes.slice();
    const wordA = bytes.slice(a, a + 4);
    out.set(bytes.subarray(b, b + 4), a);
    out.set(wordA, b);
    return { bytes: out, step: `swap the words at ${a} and ${b}` };
  },
  function copyRange(bytes, rng) {
    // A chunk repeated elsewhere (duplicated records, chunks and headers).
    if (bytes.length < 8) return undefined;
    const from = position(rng, bytes.length - 1);
    const count = 1 + rng.int(Math.min(256, bytes.length - from));
    const to = position(rng, bytes.length);
    return { bytes: splice(bytes, to, 0, bytes.slice(from, from + count)), step: `copy ${count} bytes from ${from} to ${to}` };
  },
  function swapToken(bytes, rng, tokens) {
    // One of the format's own words (dtype names, chunk types, keys) replaced by another.
    if (tokens.length < 2) return undefined;
    const text = new TextDecoder('latin1').decode(bytes.subarray(0, 1 << 16));
    const found = tokens.flatMap((t) => {
      const at = text.indexOf(t);
      return at >= 0 ? [[t, at] as const] : [];
    });
    if (found.length === 0) return undefined;
    const [token, at] = found[rng.int(found.length)]!;
    const other = tokens[rng.int(tokens.length)]!;
    const encoded = Uint8Array.from(other, (c) => c.charCodeAt(0) & 0xff);
    return { bytes: splice(bytes, at, token.length, encoded), step: `replace "${token}" at ${at} with "${other}"` };
  },
];

/** One to four mutations of `bytes`, chosen by `rng`. */
export function mutateBytes(bytes: Uint8Array, rng: Rng, tokens: readonly string[] = []): Mutated {
  let current = new Uint8Array(bytes);
  const steps: string[] = [];
  const count = 1 + rng.int(4);
  for (let tries = 0; steps.length < count && tries < 16; tries++) {
    const done = MUTATIONS[rng.int(MUTATIONS.length)]!(current, rng, tokens);
    if (!done) continue;
    current = done.bytes;
    steps.push(done.step);
  }
  return { bytes: current, steps };
}
