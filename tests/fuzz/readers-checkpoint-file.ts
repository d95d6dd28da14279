// The fuzz entry for the training checkpoint file (clora-checkpoint, src/io/checkpoint-file.ts), read as
// `train --resume` reads it: the safetensors file opened, then readCheckpoint for the backbone it was made
// on. Seeds: the engine-written checkpoints of tests/fixtures/checkpoint (every method, both optimizers).
// Half the mutations change the file's bytes; the other half change its content and write a sound file
// again — metadata values (the JSON of the options, sampler, data identity and history included) removed,
// retyped or made hostile, tensors resized or given NaN — so the checks after the safetensors layer are reached.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { trainableLayout } from '../../src/autodiff/params';
import { trainableSpecs } from '../../src/clora/model';
import { SettingsError } from '../../src/clora/settings';
import { ShapeError } from '../../src/gpu/errors';
import { readCheckpoint } from '../../src/io/checkpoint-file';
import { bytesSource, openSafetensors, SafetensorsError } from '../../src/io/safetensors';
import { openWeightsFile } from '../../src/io/weights-file';
import { readBackboneMeta } from '../../src/nn/backbone-meta';
import type { BackboneConfig } from '../../src/nn/backbone';
import { InvariantError, type FuzzReader, type FuzzSeed } from './fuzz-reader';
import { mutateBytes } from './mutate';
import { mutateValue } from './mutate-value';
import { root, seedFiles } from './seed-files';

const MB = 1 << 20;

let backboneCfg: BackboneConfig | undefined;
/** The configuration of the backbone the fixtures were trained on (tests/fixtures/train/backbone.safetensors). */
async function cfg(): Promise<BackboneConfig> {
  if (!backboneCfg) {
    const path = join(root, 'tests/fixtures/train/backbone.safetensors');
    const file = await openWeightsFile(bytesSource(new Uint8Array(readFileSync(path)), 'backbone.safetensors'));
    backboneCfg = readBackboneMeta(file, { spec: 'tests/fixtures/train/backbone.safetensors' }).cfg;
  }
  return backboneCfg;
}

/** A checkpoint file's content as plain values: metadata (JSON values parsed) and tensors. */
interface Content {
  metadata: Record<string, unknown>;
  tensors: Record<string, { dtype: string; shape: number[]; data: Float32Array | number[] }>;
}

/**
 * Safetensors bytes for `content` (which a mutation may have broken anywhere): offsets follow the data
 * actually there, shapes and dtypes are written as given, metadata values become text (an undefined one is
 * left out, as a missing key), and a tensor whose data is no longer a list of numbers is left out.
 */
function write(content: Content): Uint8Array<ArrayBuffer> {
  const metadata = content?.metadata;
  const header: Record<string, unknown> = {
    __metadata__:
      typeof metadata === 'object' && metadata !== null && !Array.isArray(metadata)
        ? Object.fromEntries(Object.entries(metadata).flatMap(([k, v]) => (v === undefined ? [] : [[k, typeof v === 'string' ? v : JSON.stringify(v)]])))
        : metadata,
  };
  const parts: Uint8Array[] = [];
  let offset = 0;
  for (const [name, t] of Object.entries(content?.tensors ?? {})) {
    const data = (t as { data?: unknown } | null)?.data;
    if (!(Array.isArray(data) || ArrayBuffer.isView(data))) continue;
    const numbers = Array.from(data as ArrayLike<unknown>, Number);
    const bytes = t.dtype === 'I32' ? new Uint8Array(Int32Array.from(numbers).buffer) : new Uint8Array(Float32Array.from(numbers).buffer);
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + bytes.length] };
    parts.push(bytes);
    offset += bytes.length;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + padded + offset).fill(0x20, 8, 8 + padded);
  new DataView(out.buffer).setBigUint64(0, BigInt(padded), true);
  out.set(json, 8);
  let at = 8 + padded;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** The content of a sound checkpoint file (a seed). */
async function read(bytes: Uint8Array): Promise<Content> {
  const file = await openSafetensors(bytesSource(bytes));
  const metadata = Object.fromEntries(
    Object.entries(file.metadata).map(([k, v]) => {
      try {
        const parsed: unknown = JSON.parse(v);
        return [k, typeof parsed === 'object' && parsed !== null ? parsed : v];
      } catch {
        return [k, v];
      }
    }),
  );
  const tensors: Content['tensors'] = {};
  for (const [name, info] of file.tensors) {
    tensors[name] = info.dtype === 'I32' ? { dtype: 'I32', shape: [...info.shape], data: [...(await file.readInt(name))] } : { dtype: info.dtype, shape: [...info.shape], data: await file.readF32(name) };
  }
  return { metadata, tensors };
}

const contents = new WeakMap<Uint8Array, Content>();

async function seeds(): Promise<FuzzSeed<Uint8Array<ArrayBuffer>>[]> {
  const found = seedFiles('tests/fixtures/checkpoint', /\.safetensors$/);
  for (const s of found) contents.set(s.value, await read(s.value));
  return found;
}

/** A seed's content changed as `change` says, written again. */
async function variant(name: string, seed: string, change: (c: Content) => void): Promise<FuzzSeed<Uint8Array<ArrayBuffer>>> {
  const content = structuredClone(await read(seedFiles('tests/fixtures/checkpoint', new RegExp(`^${seed}\\.safetensors$`))[0]!.value));
  change(content);
  return { name, value: write(content) };
}

async function hostile(): Promise<FuzzSeed<Uint8Array<ArrayBuffer>>[]> {
  const meta = (c: Content) => c.metadata as Record<string, Record<string, unknown> | string | unknown[]>;
  return Promise.all([
    variant('a newer format version', 'clora_adamw.step2', (c) => (c.metadata.format_version = '2')),
    variant('an adapter file, not a checkpoint', 'lora_adamw.step2', (c) => (c.metadata.format = 'lora')),
    variant('an unknown method', 'lora_adamw.step2', (c) => (c.metadata.method = 'dora')),
    variant('a sampler order with a repeat', 'clora_adamw.step2', (c) => ((c.tensors['sampler.order']!.data as number[])[1] = (c.tensors['sampler.order']!.data as number[])[0]!)),
    variant('a sampler order of another data set', 'head_adamw.step5', (c) => (c.tensors['sampler.order']!.data as number[]).push(6)),
    variant('a cursor past the epoch', 'head_adamw.step5', (c) => ((meta(c).sampler as Record<string, unknown>).cursor = 1e9)),
    variant('no sampler order', 'full_sgd.step2', (c) => delete c.tensors['sampler.order']),
    variant('moments for another class count', 'clora_adamw.step5', (c) => ((c.tensors['optimizer.m.head.bias']!.data = new Float32Array(7)), (c.tensors['optimizer.m.head.bias']!.shape = [7]))),
    variant('no moments under adamw', 'lora_adamw.step5', (c) => Object.keys(c.tensors).filter((k) => k.startsWith('optimizer.')).forEach((k) => delete c.tensors[k])),
    variant('a learning rate that is text', 'lora_adamw.step2', (c) => ((meta(c).train as Record<string, unknown>).lr = 'fast')),
    variant('an optimizer named adam', 'lora_adamw.step2', (c) => ((meta(c).train as Record<string, unknown>).optimizer = 'adam')),
    variant('a history of nulls', 'clora_adamw.step5', (c) => (c.metadata.history = [null, null])),
    variant('a history that is an object', 'clora_adamw.step5', (c) => (c.metadata.history = { step: 1 })),
    variant('a step of −1', 'full_sgd.step5', (c) => (c.metadata.step = '-1')),
    variant('a step of 2^53 + 1', 'full_sgd.step5', (c) => (c.metadata.step = '9007199254740993')),
    variant('class names that are not a list', 'head_adamw.step2', (c) => (c.metadata.classes = '{"a":1}')),
    variant('class names with markup', 'head_adamw.step2', (c) => (c.metadata.classes = ['<img src=x onerror=alert(1)>', '<script>alert(2)</script>', '"><b>'])),
    variant('a rank of 10^6', 'lora_adamw.step2', (c) => (c.metadata.rank = '1000000')),
    variant('targets that do not exist', 'clora_adamw.step2', (c) => (c.metadata.targets = 'q,v,gate,__proto__')),
    variant('a NaN weight', 'clora_adamw.step2', (c) => ((Object.values(c.tensors).find((t) => t.dtype === 'F32')!.data as Float32Array)[0] = Number.NaN)),
    variant('__proto__ in the metadata', 'head_adamw.step2', (c) => Object.defineProperty(c.metadata, '__proto__', { value: '{"polluted":true}', enumerable: true })),
  ]);
}

export const checkpointFileReader: FuzzReader = {
  name: 'training checkpoint file (clora-checkpoint)',
  seeds,
  hostile,
  // The harness's mutate is synchronous: each seed's content is read once in seeds() and looked up here.
  mutate: (value, rng) => {
    const content = contents.get(value);
    if (content && rng.next() < 0.5) {
      const m = mutateValue(content, rng);
      return { value: write(m.value as Content), steps: m.steps };
    }
    const m = mutateBytes(value, rng, ['"clora-checkpoint"', '"adamw"', '"sgd"', 'optimizer.m.', 'optimizer.v.', 'sampler.order', '"F32"', '"I32"', 'total_steps', 'format_version', '"history"', 'null', 'true', 'false']);
    return { value: m.bytes, steps: m.steps };
  },
  size: (v) => v.byteLength,
  async open(bytes) {
    const c = await cfg();
    const run = await readCheckpoint(await openSafetensors(bytesSource(bytes, 'fuzz.safetensors')), c);
    // What --resume and the trainer rely on once a checkpoint is accepted.
    const layout = trainableLayout(trainableSpecs(c, run.settings, run.classes.length));
    for (const slot of layout.slots) {
      const t = run.state.trainable.get(slot.name);
      if (t?.length !== slot.size) throw new InvariantError(`accepted ${slot.name} with ${t?.length} values where the layout has ${slot.size}`);
    }
    const { m, v } = run.state.optimizer;
    const moments = run.train.optimizer === 'adamw' ? layout.floats : 0;
    if (m.length !== moments || v.length !== moments) throw new InvariantError(`accepted moments of ${m.length} and ${v.length} floats for a layout of ${layout.floats} (${run.train.optimizer})`);
    const { order, cursor } = run.state;
    if (order.length !== run.data.count || new Set(order).size !== order.length || order.some((i) => !(i >= 0 && i < run.data.count)) || !(cursor >= 0 && cursor <= order.length)) {
      throw new InvariantError(`accepted a sampler state (${order.length} in the order, cursor ${cursor}) that is not an epoch of ${run.data.count} samples`);
    }
    for (const n of [run.state.step, run.totalSteps, run.state.optimizer.step]) if (!Number.isSafeInteger(n) || n < 0) throw new InvariantError(`accepted a step count of ${n}`);
    if (!run.classes.every((k) => typeof k === 'string')) throw new InvariantError('accepted class names that are not text');
    if (!run.state.history.every((h) => typeof h === 'object' && h !== null && typeof h.step === 'number')) throw new InvariantError('accepted a history entry without a step');
    return undefined;
  },
  errors: [SafetensorsError, SettingsError, ShapeError],
  // The tensors, their moments and the internal copies of both (a few times the file), and the JSON.
  budget: (v) => 16 * MB + 16 * v.byteLength,
};

