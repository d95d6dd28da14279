// The fuzz entry for PyTorch checkpoints (.pth), opened as the app and the command line open any weights
// file (openWeightsFile: by content) and read tensor by tensor. Seeds: the genuine torch.save files of the
// fixtures. Mutations reach the pickle inside the zip as well as the archive around it: half of them change
// data.pkl's bytes and write the zip again, so the directory stays sound and the unpickler sees the damage.
import { unzipSync } from 'fflate';
import { PthError } from '../../src/io/pth';
import { bytesSource, SafetensorsError } from '../../src/io/safetensors';
import { openWeightsFile } from '../../src/io/weights-file';
import type { Rng } from '../../src/train/rng';
import { f32Bytes, PickleWriter, pthZip, stateDictPickle, writeTensor, type TensorSpec } from '../helpers/pth-writer';
import { makeZip } from '../helpers/zip-bomb';
import { InvariantError, type FuzzReader, type FuzzSeed } from './fuzz-reader';
import { mutateBytes } from './mutate';
import { seedFiles } from './seed-files';

const MB = 1 << 20;

/** Words of torch's pickles: opcodes' neighbours, the globals it names, storage types and keys. */
const PICKLE_TOKENS = ['torch._utils', '_rebuild_tensor_v2', '_rebuild_parameter', 'collections', 'OrderedDict', 'FloatStorage', 'HalfStorage', 'BFloat16Storage', 'LongStorage', 'DoubleStorage', 'ByteStorage', 'storage', 'cpu', 'state_dict', 'base_model', 'torch', 'builtins', 'eval', 'os', 'system'];
const ZIP_TOKENS = ['PK\x03\x04', 'PK\x01\x02', 'PK\x05\x06', 'PK\x06\x06', 'PK\x06\x07', 'data.pkl', 'byteorder', 'little', 'archive/'];

const tensor = (name: string, spec: Partial<TensorSpec> = {}): TensorSpec => ({ name, key: '0', numel: 6, shape: [2, 3], ...spec });
/** A checkpoint of one f32 storage of six values and the given tensors over it. */
const withTensors = (...tensors: TensorSpec[]): Uint8Array<ArrayBuffer> => pthZip(stateDictPickle(tensors), { '0': f32Bytes([1, 2, 3, 4, 5, 6]) });
/** A checkpoint whose pickle is `pickle` (with the usual storage beside it). */
const withPickle = (pickle: Uint8Array): Uint8Array<ArrayBuffer> => pthZip(pickle, { '0': f32Bytes([1, 2, 3, 4, 5, 6]) });

/** A pickle that names `module.name` and calls it with a string, as an attack would. */
function calling(module: string, name: string): Uint8Array<ArrayBuffer> {
  return new PickleWriter().proto(2).global(module, name).mark().str('echo pwned').tuple().reduce().stop();
}

/** zip64.pth with one of its zip64 fields replaced. */
function zip64Lie(zip64: Uint8Array, field: 'count' | 'directory size' | 'directory offset' | 'entry size', value: bigint): Uint8Array<ArrayBuffer> {
  const out = zip64.slice();
  const view = new DataView(out.buffer);
  const find = (signature: number, from = out.length - 4): number => {
    for (let i = from; i >= 0; i--) if (view.getUint32(i, true) === signature) return i;
    throw new Error(`no signature ${signature.toString(16)} in zip64.pth`);
  };
  if (field === 'entry size') {
    // The first central entry with a zip64 extra field (0x0001) gets a huge uncompressed size.
    for (let at = find(0x06064b50); at >= 0; at--) {
      if (view.getUint32(at, true) !== 0x02014b50 || view.getUint32(at + 24, true) !== 0xffffffff) continue;
      const nameLength = view.getUint16(at + 28, true);
      view.setBigUint64(at + 46 + nameLength + 4, value, true);
      return out;
    }
    throw new Error('zip64.pth has no entry with a zip64 size');
  }
  const record = find(0x06064b50);
  view.setBigUint64(record + { count: 32, 'directory size': 40, 'directory offset': 48 }[field], value, true);
  return out;
}

async function hostile(): Promise<FuzzSeed<Uint8Array<ArrayBuffer>>[]> {
  const zip64 = seedFiles('tests/fixtures/pth', /^zip64\.pth$/)[0]!.value;
  const deep = new PickleWriter().proto(2);
  for (let i = 0; i < 100_000; i++) deep.emptyDict().str('state_dict');
  deep.emptyDict();
  for (let i = 0; i < 100_000; i++) deep.setItem();
  const longList = new PickleWriter().proto(2).emptyList().mark();
  for (let i = 0; i < 300_000; i++) longList.raw('N');
  const manyMarks = new PickleWriter().proto(2);
  for (let i = 0; i < 200_000; i++) manyMarks.mark();
  return [
    ...seedFiles('tests/fixtures/pth/hostile', /\.pth$/),
    { name: 'a pickle calling subprocess.Popen', value: withPickle(calling('subprocess', 'Popen')) },
    { name: 'a pickle calling builtins.getattr', value: withPickle(calling('builtins', 'getattr')) },
    { name: 'a pickle calling torch.load', value: withPickle(calling('torch', 'load')) },
    { name: 'a pickle calling numpy.core.multiarray._reconstruct', value: withPickle(calling('numpy.core.multiarray', '_reconstruct')) },
    { name: 'a bare pickle (no zip) calling posix.system', value: calling('posix', 'system') },
    { name: 'a storage type called as a function', value: withPickle(new PickleWriter().proto(2).global('torch', 'FloatStorage').mark().str('x').tuple().reduce().stop()) },
    { name: 'dicts nested 100,000 deep', value: withPickle(deep.stop()) },
    { name: 'a list of 300,000 items appended at once', value: withPickle(longList.raw('e').stop()) },
    { name: '200,000 marks and nothing else', value: withPickle(manyMarks.stop()) },
    { name: 'a string of length -8', value: withPickle(new PickleWriter().proto(2).raw('T', 0xf8, 0xff, 0xff, 0xff).stop()) },
    { name: 'a unicode string of 4 GB declared', value: withPickle(new PickleWriter().proto(2).raw('X', 0xff, 0xff, 0xff, 0xff, 'abc').stop()) },
    { name: 'a memo index of 2^32 − 1', value: withPickle(new PickleWriter().proto(2).raw(0x6a, 0xff, 0xff, 0xff, 0xff).stop()) },
    { name: 'a storage declaring 2^52 floats', value: withTensors(tensor('w', { numel: 2 ** 52 })) },
    { name: 'a storage declaring 2^70 floats', value: withTensors(tensor('w', { numel: 2n ** 70n })) },
    { name: 'a storage declaring −1 floats', value: withTensors(tensor('w', { numel: -1 })) },
    { name: 'a tensor whose strides run past the storage', value: withTensors(tensor('w', { stride: [1000, 1] })) },
    { name: 'a tensor whose offset runs past the storage', value: withTensors(tensor('w', { offset: 5 })) },
    { name: 'a negative offset', value: withTensors(tensor('w', { offset: -4 })) },
    { name: 'an offset of 2^60', value: withTensors(tensor('w', { offset: 2n ** 60n })) },
    { name: 'a view of 2^90 elements by zero strides', value: withTensors(tensor('w', { shape: [2 ** 30, 2 ** 30, 2 ** 30], stride: [0, 0, 0] })) },
    { name: 'a view of 2^28 elements by zero strides on one value', value: withTensors(tensor('w', { shape: [2 ** 14, 2 ** 14], stride: [0, 0] })) },
    { name: 'a shape and strides of different ranks', value: withTensors(tensor('w', { shape: [2, 3], stride: [3] })) },
    { name: 'a negative dimension', value: withTensors(tensor('w', { shape: [-2, -3], stride: [-3, -1] })) },
    { name: 'a fractional offset', value: withTensors(tensor('w', { offset: 0.5 })) },
    { name: 'two tensors on one storage, one past its end', value: withTensors(tensor('a'), tensor('b', { shape: [7], stride: [1] })) },
    { name: 'a storage of another dtype than its bytes', value: withTensors(tensor('w', { storage: 'DoubleStorage' })) },
    { name: 'an unknown storage type', value: withTensors(tensor('w', { storage: 'ComplexFloatStorage' })) },
    { name: 'a tensor whose storage is not in the zip', value: withTensors(tensor('w', { key: '7' })) },
    { name: 'byteorder "big"', value: pthZip(stateDictPickle([tensor('w')]), { '0': f32Bytes([1, 2, 3, 4, 5, 6]) }, { byteorder: 'big' }) },
    { name: 'a deflated storage declaring 200 MB', value: makeZip([{ name: 'archive/data.pkl', data: stateDictPickle([tensor('w')]), method: 'store' }, { name: 'archive/data/0', data: f32Bytes([1, 2, 3, 4, 5, 6]), declaredSize: 200 * MB }]) },
    { name: 'a stored storage declaring more than it holds', value: makeZip([{ name: 'archive/data.pkl', data: stateDictPickle([tensor('w', { numel: 1000 })]), method: 'store' }, { name: 'archive/data/0', data: f32Bytes([1, 2, 3, 4, 5, 6]), method: 'store', declaredSize: 4000 }]) },
    { name: 'a zip bomb as data.pkl', value: makeZip([{ name: 'archive/data.pkl', zerosMB: 300 }]) },
    { name: 'two data.pkl', value: makeZip([{ name: 'a/data.pkl', data: stateDictPickle([]) }, { name: 'b/data.pkl', data: stateDictPickle([]) }]) },
    { name: 'zip64: a count of 2^40 entries', value: zip64Lie(zip64, 'count', 2n ** 40n) },
    { name: 'zip64: a directory of 2^52 bytes', value: zip64Lie(zip64, 'directory size', 2n ** 52n) },
    { name: 'zip64: a directory at 2^60', value: zip64Lie(zip64, 'directory offset', 2n ** 60n) },
    { name: 'zip64: an entry of 2^50 bytes', value: zip64Lie(zip64, 'entry size', 2n ** 50n) },
    { name: 'zip64: an entry of 2^63 bytes', value: zip64Lie(zip64, 'entry size', 2n ** 63n) },
    { name: 'a tensor nested in a list', value: withPickle((() => {
      const w = new PickleWriter().proto(2).emptyDict().str('model').emptyList().mark();
      writeTensor(w, tensor('w'));
      return w.raw('e').setItem().stop();
    })()) },
  ];
}

/** Half the time the pickle inside is changed (and the zip written again), else the file's bytes. */
function mutatePth(value: Uint8Array<ArrayBuffer>, rng: Rng): { value: Uint8Array<ArrayBuffer>; steps: string[] } {
  if (rng.next() < 0.5) {
    let entries: Record<string, Uint8Array> | undefined;
    try {
      entries = unzipSync(value);
    } catch {
      entries = undefined;
    }
    const pickle = entries && Object.keys(entries).find((n) => n.endsWith('data.pkl'));
    if (entries && pickle) {
      const m = mutateBytes(entries[pickle]!, rng, PICKLE_TOKENS);
      const parts = Object.entries(entries).map(([name, data]) => ({ name, data: name === pickle ? m.bytes : data, method: 'store' as const }));
      return { value: makeZip(parts), steps: m.steps.map((s) => `data.pkl: ${s}`) };
    }
  }
  const m = mutateBytes(value, rng, ZIP_TOKENS);
  return { value: m.bytes, steps: m.steps };
}

export const pthReader: FuzzReader = {
  name: '.pth (PyTorch checkpoints)',
  seeds: async () => [...seedFiles('tests/fixtures/pth', /\.pth$/), ...seedFiles('tests/fixtures/points/pth', /\.pth$/)],
  hostile,
  mutate: mutatePth,
  size: (v) => v.byteLength,
  async open(bytes) {
    const file = await openWeightsFile(bytesSource(bytes, 'fuzz.pth'));
    for (const [name, info] of file.tensors) {
      const count = info.shape.reduce((a, b) => a * b, 1);
      const data = await file.readF32(name);
      if (data.length !== count) throw new InvariantError(`${name}: ${data.length} floats read for shape [${info.shape}]`);
    }
    return undefined;
  },
  // A .pth opened by content may be refused as safetensors (a mutated first byte makes it one).
  errors: [PthError, SafetensorsError],
  // Tensors are read one at a time from the file's bytes: a few copies of the input, and the pickle's
  // objects (a few hundred bytes of heap per byte of pickle at worst: 100,000 nested dicts).
  budget: (v) => 16 * MB + 8 * v.byteLength + 64 * Math.min(v.byteLength, 2 * MB),
};
