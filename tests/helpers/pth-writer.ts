// Hand-made PyTorch checkpoints for hostile-input tests: a pickle written opcode by opcode (so any field can
// lie: offsets, strides, storage sizes, the globals it names) and the zip torch.save wraps it in
// (`archive/data.pkl`, `archive/byteorder`, `archive/data/<key>`, stored). Python's Lib/pickletools.py
// documents the opcodes.
import { makeZip, type ZipPart } from './zip-bomb';

const encoder = new TextEncoder();

/** A pickle built opcode by opcode. */
export class PickleWriter {
  private bytes: number[] = [];

  raw(...parts: (number | string | Uint8Array)[]): this {
    for (const p of parts) {
      if (typeof p === 'number') this.bytes.push(p);
      else if (typeof p === 'string') for (const c of p) this.bytes.push(c.charCodeAt(0) & 0xff);
      else this.bytes.push(...p);
    }
    return this;
  }

  private u32(n: number): number[] {
    return [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff];
  }

  proto(version = 2): this {
    return this.raw(0x80, version);
  }

  mark(): this {
    return this.raw('(');
  }

  /** GLOBAL: names `module.name` (the unpickler must refuse what its table lacks). */
  global(module: string, name: string): this {
    return this.raw('c', encoder.encode(`${module}\n${name}\n`));
  }

  str(text: string): this {
    const utf8 = encoder.encode(text);
    return this.raw('X', ...this.u32(utf8.length), utf8);
  }

  /** An int of any size: BININT1/2, BININT (signed 32-bit) or LONG1 (two's complement, little-endian). */
  int(n: number | bigint): this {
    const v = BigInt(n);
    if (v >= 0n && v < 256n) return this.raw('K', Number(v));
    if (v >= 0n && v < 65536n) return this.raw('M', Number(v) & 0xff, Number(v) >>> 8);
    if (v >= -(2n ** 31n) && v < 2n ** 31n) return this.raw('J', ...this.u32(Number(BigInt.asUintN(32, v))));
    const out: number[] = [];
    let rest = v;
    for (;;) {
      out.push(Number(BigInt.asUintN(8, rest)));
      rest >>= 8n;
      if ((rest === 0n && (out.at(-1)! & 0x80) === 0) || (rest === -1n && (out.at(-1)! & 0x80) !== 0)) break;
    }
    return this.raw(0x8a, out.length, ...out);
  }

  float(x: number): this {
    const b = new DataView(new ArrayBuffer(8));
    b.setFloat64(0, x);
    return this.raw('G', new Uint8Array(b.buffer));
  }

  tuple(): this {
    return this.raw('t');
  }

  emptyTuple(): this {
    return this.raw(')');
  }

  emptyDict(): this {
    return this.raw('}');
  }

  emptyList(): this {
    return this.raw(']');
  }

  reduce(): this {
    return this.raw('R');
  }

  setItem(): this {
    return this.raw('s');
  }

  setItems(): this {
    return this.raw('u');
  }

  persistentId(): this {
    return this.raw('Q');
  }

  newFalse(): this {
    return this.raw(0x89);
  }

  stop(): Uint8Array<ArrayBuffer> {
    this.raw('.');
    return Uint8Array.from(this.bytes);
  }
}

/** One tensor of a hand-made state dict: a view (offset, shape, strides in elements) on storage `key`. */
export interface TensorSpec {
  name: string;
  key: string;
  /** torch's storage class, e.g. "FloatStorage". */
  storage?: string;
  /** The element count the storage reference declares. */
  numel: number | bigint;
  offset?: number | bigint;
  shape: (number | bigint)[];
  stride?: (number | bigint)[];
}

/** Writes `_rebuild_tensor_v2((storage…), offset, shape, stride, False, OrderedDict())` for one tensor. */
export function writeTensor(w: PickleWriter, t: TensorSpec): void {
  const stride = t.stride ?? t.shape.map((_, i) => t.shape.slice(i + 1).reduce<bigint>((a, b) => a * BigInt(b), 1n));
  w.global('torch._utils', '_rebuild_tensor_v2').mark();
  w.mark().str('storage').global('torch', t.storage ?? 'FloatStorage').str(t.key).str('cpu').int(t.numel).tuple().persistentId();
  const offset = t.offset ?? 0;
  if (typeof offset === 'number' && !Number.isInteger(offset)) w.float(offset);
  else w.int(offset);
  w.mark();
  for (const d of t.shape) w.int(d);
  w.tuple().mark();
  for (const s of stride) w.int(s);
  w.tuple().newFalse().global('collections', 'OrderedDict').emptyTuple().reduce().tuple().reduce();
}

/** A bare state dict {name: tensor} as torch pickles it. */
export function stateDictPickle(tensors: TensorSpec[]): Uint8Array<ArrayBuffer> {
  const w = new PickleWriter().proto(2).global('collections', 'OrderedDict').emptyTuple().reduce().mark();
  for (const t of tensors) {
    w.str(t.name);
    writeTensor(w, t);
  }
  return w.setItems().stop();
}

/** The zip torch.save writes around a pickle: data.pkl, byteorder and one stored entry per storage. */
export function pthZip(pickle: Uint8Array, storages: Record<string, Uint8Array>, opts: { byteorder?: string; extra?: ZipPart[] } = {}): Uint8Array<ArrayBuffer> {
  return makeZip([
    { name: 'archive/data.pkl', data: pickle, method: 'store' },
    { name: 'archive/byteorder', data: encoder.encode(opts.byteorder ?? 'little'), method: 'store' },
    ...Object.entries(storages).map(([key, data]) => ({ name: `archive/data/${key}`, data, method: 'store' as const })),
    ...(opts.extra ?? []),
  ]);
}

/** f32 values as little-endian bytes. */
export function f32Bytes(values: number[]): Uint8Array<ArrayBuffer> {
  return new Uint8Array(Float32Array.from(values).buffer);
}
