// PyTorch checkpoints (`torch.save`, .pth/.pt/.bin) read directly, with nothing executed: the file is a zip
// holding `<name>/data.pkl` (a pickle of the checkpoint whose tensors point at storages by key),
// `<name>/data/<key>` (each storage's raw little-endian bytes, stored uncompressed) and maybe
// `<name>/byteorder`. The pickle goes through the restricted unpickler (pickle.ts) with a table of the only
// globals a state dict needs — OrderedDict, torch's tensor and parameter rebuild functions, the storage
// types — and anything else it asks for is refused with a sentence naming it. Tensors are read lazily,
// one at a time, as slices of the source (views with offsets and strides copied out element by element).
import { PickleError, PickleRefusal, PyDict, PyTuple, unpickle, type PickleGlobal, type PyValue } from './pickle';
import { decodeFloats, type ByteSource, type Dtype } from './safetensors';
import type { WeightsFile } from './weights-file';
import { openZipIndex, ZipIndexError, type ZipIndex, type ZipIndexEntry } from './zip-index';
import { shapeText } from '../gpu/errors';

export class PthError extends Error {
  override name = 'PthError';
}

/** torch storage classes and the dtypes of their elements. */
const STORAGE_DTYPES: Record<string, Dtype> = {
  FloatStorage: 'F32',
  HalfStorage: 'F16',
  BFloat16Storage: 'BF16',
  DoubleStorage: 'F64',
  LongStorage: 'I64',
  IntStorage: 'I32',
  ShortStorage: 'I16',
  CharStorage: 'I8',
  ByteStorage: 'U8',
  BoolStorage: 'BOOL',
};
const DTYPE_BYTES: Partial<Record<Dtype, number>> = { F32: 4, F16: 2, BF16: 2, F64: 8, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1 };

/** Prefixes official checkpoints put before the model's own names (DataParallel, Point-MAE's wrappers). */
const STRIPPED_PREFIXES = ['module.', 'base_model.', 'MAE_encoder.'] as const;

/** Keys under which checkpoints keep the model's state dict, most specific first. */
const STATE_DICT_KEYS = ['state_dict', 'model_state_dict', 'model', 'base_model', 'module', 'net', 'network', 'model_state', 'weights', 'params'];
/** Top-level entries that hold tensors but are not the model's weights. */
const NOT_MODEL = /optim|sched|scaler|ema|swa/i;

class StorageType implements PickleGlobal {
  constructor(readonly qualifiedName: string, readonly dtype: Dtype) {}
}

class StorageRef {
  constructor(readonly key: string, readonly dtype: Dtype, readonly numel: number, readonly entry: ZipIndexEntry) {}
}

/** A tensor as torch pickles it: a view (offset, shape, strides in elements) on a storage. */
class TensorRef {
  constructor(readonly storage: StorageRef, readonly offset: number, readonly shape: number[], readonly stride: number[]) {}
}

/** The most elements a view that repeats its storage's values may have (4 MB of f32). */
const MAX_REPEATED_ELEMENTS = 1 << 20;

const isIntTuple = (v: PyValue): v is PyTuple => v instanceof PyTuple && v.items.every((x) => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0);

function rebuildTensor(what: string) {
  return (args: PyValue[]): TensorRef => {
    const [storage, offset, size, stride] = args;
    if (!(storage instanceof StorageRef) || typeof offset !== 'number' || !Number.isSafeInteger(offset) || offset < 0 || !isIntTuple(size!) || !isIntTuple(stride!) || size.items.length !== stride.items.length) {
      throw new PickleError(`${what} was called with arguments that are not (storage, offset, size, stride).`);
    }
    const ref = storage;
    const shape = size.items as number[];
    const strides = stride.items as number[];
    const numel = shape.reduce((a, b) => a * b, 1);
    // More elements than the storage holds is a view that repeats values (zero strides: expand()). Small ones
    // are read; a large one would allocate far more than the file holds, from a few bytes.
    if (numel > ref.numel && numel > MAX_REPEATED_ELEMENTS) {
      throw new PickleError(`a tensor of shape [${shape.join(', ')}] repeats the ${ref.numel} values of storage "${ref.key}" to ${numel.toLocaleString('en-US')} elements (an expanded view); save it with .contiguous() first.`);
    }
    const last = numel === 0 ? offset : offset + shape.reduce((sum, d, i) => sum + (d - 1) * strides[i]!, 0);
    if (last >= ref.numel && numel > 0) throw new PickleError(`a tensor of shape ${shapeText(shape)} reaches element ${last} of storage "${ref.key}", which has ${ref.numel}.`);
    return new TensorRef(ref, offset, shape, strides);
  };
}

function allowedGlobals(): Map<string, PickleGlobal> {
  const table = new Map<string, PickleGlobal>();
  const add = (qualifiedName: string, call?: (args: PyValue[]) => PyValue): void => void table.set(qualifiedName, { qualifiedName, call });
  add('collections.OrderedDict', (args) => {
    const dict = new PyDict();
    const pairs = args[0];
    if (Array.isArray(pairs)) for (const p of pairs) if (p instanceof PyTuple && p.items.length === 2) dict.entries.set(p.items[0]!, p.items[1]!);
    return dict;
  });
  add('torch._utils._rebuild_tensor_v2', rebuildTensor('torch._utils._rebuild_tensor_v2'));
  add('torch._utils._rebuild_tensor', rebuildTensor('torch._utils._rebuild_tensor'));
  // nn.Parameter: the data tensor (requires_grad, hooks and extra state do not matter to weights).
  add('torch._utils._rebuild_parameter', (args) => args[0]!);
  add('torch._utils._rebuild_parameter_with_state', (args) => args[0]!);
  // Tensors with Python attributes: (rebuild function, type, its arguments, state) for plain tensor types.
  add('torch._tensor._rebuild_from_type_v2', (args) => {
    const [fn, type, fnArgs] = args;
    const g = fn as PickleGlobal;
    if (!g?.call || !(fnArgs instanceof PyTuple) || !['torch.Tensor', 'torch.nn.parameter.Parameter'].includes((type as PickleGlobal)?.qualifiedName)) {
      throw new PickleError('torch._tensor._rebuild_from_type_v2 was called with arguments that are not a plain tensor rebuild.');
    }
    return g.call(fnArgs.items);
  });
  add('torch.Tensor');
  add('torch.nn.parameter.Parameter');
  for (const [name, dtype] of Object.entries(STORAGE_DTYPES)) table.set(`torch.${name}`, new StorageType(`torch.${name}`, dtype));
  return table;
}

export interface PthFile extends WeightsFile {
  readonly tensors: ReadonlyMap<string, { readonly shape: readonly number[]; readonly dtype: Dtype }>;
  /** Where the state dict was found ("base_model", "state_dict", or "" for a bare state dict). */
  readonly stateDictKey: string;
}

function label(source: ByteSource): string {
  return source.name ? `"${source.name}"` : 'The checkpoint';
}

function refusalSentence(file: string, refusal: PickleRefusal): string {
  if (refusal.kind === 'instruction') {
    return `${file} uses the pickle instruction ${refusal.found}, which a weights file never needs: refused, and nothing in it was run. Convert the checkpoint to .safetensors in Python (safetensors.torch.save_file(state_dict, path)).`;
  }
  const wholeModel = /^(torch\.nn\.|__main__\.|models?\.|timm\.)/.test(refusal.found);
  const hint = wholeModel
    ? 'It looks like a whole pickled model rather than its weights: in Python, save model.state_dict() with torch.save, or as .safetensors.'
    : 'Only open checkpoints from sources you trust; if you trust this one, load it in Python and save its state dict as .safetensors.';
  return `${file} asks for ${refusal.found}, which a weights file never needs: refused, and nothing in it was run. ${hint}`;
}

const LEGACY_MAGIC = [0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19];

export async function openPth(source: ByteSource): Promise<PthFile> {
  const file = label(source);
  const head = await source.read(0, Math.min(source.size, 16));
  if (!(head[0] === 0x50 && head[1] === 0x4b)) {
    if (LEGACY_MAGIC.every((b, i) => head[i] === b) || head[0] === 0x80) {
      throw new PthError(`${file} is a PyTorch checkpoint in the legacy format (before PyTorch 1.6), which this reader does not open. ` +
        'Load it in Python and save it again with torch.save (the zip format), or as .safetensors.');
    }
    throw new PthError(`${file} is not a PyTorch checkpoint (it is not a zip archive).`);
  }
  let zip: ZipIndex;
  try {
    zip = await openZipIndex(source, file);
  } catch (error) {
    if (error instanceof ZipIndexError) throw new PthError(error.message);
    throw error;
  }
  const pickles = [...zip.entries.keys()].filter((name) => /^([^/]+\/)?data\.pkl$/.test(name));
  if (pickles.length !== 1) {
    throw new PthError(pickles.length === 0
      ? `${file} is a zip archive without a data.pkl, so it is not a PyTorch checkpoint. Choose the .pth/.pt file torch.save wrote, or a .safetensors file.`
      : `${file} holds ${pickles.length} data.pkl entries (${pickles.join(', ')}); a PyTorch checkpoint has one.`);
  }
  const prefix = pickles[0]!.slice(0, -'data.pkl'.length);
  const byteorder = zip.entries.get(`${prefix}byteorder`);
  if (byteorder) {
    const order = new TextDecoder().decode(await zip.read(byteorder)).trim();
    if (order !== 'little') {
      throw new PthError(`${file} was saved on a ${order}-endian machine (byteorder "${order}"), which this reader does not convert. Load it with PyTorch on a little-endian machine and save it again, or as .safetensors.`);
    }
  }

  const storages = new Map<string, StorageRef>();
  const persistentLoad = (pid: PyValue): PyValue => {
    if (!(pid instanceof PyTuple) || pid.items[0] !== 'storage' || pid.items.length < 5) {
      throw new PickleRefusal('a persistent reference that is not a tensor storage', 'instruction');
    }
    const [, type, key, , numel] = pid.items;
    if (!(type instanceof StorageType) || typeof key !== 'string' || typeof numel !== 'number' || !Number.isSafeInteger(numel) || numel < 0) {
      throw new PickleError('a storage reference is not (storage type, key, location, size).');
    }
    const known = storages.get(key);
    if (known) return known;
    const entry = zip.entries.get(`${prefix}data/${key}`);
    if (!entry) {
      throw new PthError(`${file} refers to the tensor storage "${key}" (${prefix}data/${key}), which the archive does not hold: the file is incomplete or damaged. Download or save it again.`);
    }
    const bytes = numel * DTYPE_BYTES[type.dtype]!;
    if (entry.size < bytes) {
      throw new PthError(`${file} has a tensor storage "${key}" of ${entry.size} bytes where ${numel} ${type.dtype} values need ${bytes}: the file is damaged. Download or save it again.`);
    }
    const ref = new StorageRef(key, type.dtype, numel, entry);
    storages.set(key, ref);
    return ref;
  };

  let root: PyValue;
  try {
    root = unpickle(await zip.read(zip.entries.get(pickles[0]!)!), { globals: allowedGlobals(), persistentLoad });
  } catch (error) {
    if (error instanceof PickleRefusal) throw new PthError(refusalSentence(file, error));
    if (error instanceof PickleError) throw new PthError(`${file} has a damaged pickle (${pickles[0]}): ${error.message.replace(/^The pickle /, 'it ')} Download or save the checkpoint again.`);
    if (error instanceof ZipIndexError) throw new PthError(error.message);
    throw error;
  }

  const { dict, key } = findStateDict(root, file);
  const tensors = new Map<string, TensorRef>();
  for (const [name, value] of dict.entries) {
    let stripped = name as string;
    for (let again = true; again; ) {
      again = false;
      for (const p of STRIPPED_PREFIXES) {
        if (stripped.startsWith(p) && stripped.length > p.length) {
          stripped = stripped.slice(p.length);
          again = true;
        }
      }
    }
    if (tensors.has(stripped)) throw new PthError(`${file} has two tensors that are both "${stripped}" once the prefixes ${STRIPPED_PREFIXES.join(', ')} are removed; it mixes two models.`);
    tensors.set(stripped, value as TensorRef);
  }
  const shapes = new Map([...tensors].map(([name, t]) => [name, { shape: t.shape, dtype: t.storage.dtype }] as const));

  return {
    metadata: {},
    tensors: shapes,
    stateDictKey: key,
    names: () => [...tensors.keys()],
    has: (name) => tensors.has(name),
    async readF32(name) {
      const t = tensors.get(name);
      if (!t) throw new PthError(`${file} has no tensor named "${name}".`);
      try {
        return await readTensor(zip, t);
      } catch (error) {
        // A storage entry the archive cannot give (damaged, encrypted, another compression) is the checkpoint's fault.
        if (error instanceof ZipIndexError) throw new PthError(error.message);
        throw error;
      }
    },
  };
}

function isTensorDict(value: PyValue): value is PyDict {
  return value instanceof PyDict && value.entries.size > 0 && [...value.entries].every(([k, v]) => typeof k === 'string' && v instanceof TensorRef);
}

/**
 * The model's state dict: the checkpoint itself when it is a dict of tensors; else the value under the first
 * of STATE_DICT_KEYS that is one (or holds one under those keys, one level down); else the only top-level dict
 * of tensors whose key does not name an optimizer, scheduler or EMA copy. An optimizer's state is a dict of
 * parameter numbers → dicts, never a dict of tensors itself, so it cannot be mistaken for the model.
 */
function findStateDict(root: PyValue, file: string): { dict: PyDict; key: string } {
  if (isTensorDict(root)) return { dict: root, key: '' };
  if (!(root instanceof PyDict)) throw new PthError(`${file} holds a ${describe(root)}, not a dict of tensors (a state dict): it is not a weights checkpoint.`);
  for (const key of STATE_DICT_KEYS) {
    const value = root.entries.get(key);
    if (isTensorDict(value ?? null)) return { dict: value as PyDict, key };
    if (value instanceof PyDict) {
      for (const inner of STATE_DICT_KEYS) {
        const nested = value.entries.get(inner);
        if (isTensorDict(nested ?? null)) return { dict: nested as PyDict, key: `${key}.${inner}` };
      }
    }
  }
  const candidates = [...root.entries].filter(([k, v]) => typeof k === 'string' && !NOT_MODEL.test(k) && isTensorDict(v));
  if (candidates.length === 1) return { dict: candidates[0]![1] as PyDict, key: candidates[0]![0] as string };
  const keys = [...root.entries.keys()].map((k) => JSON.stringify(typeof k === 'bigint' ? String(k) : k)).join(', ');
  if (candidates.length === 0) {
    throw new PthError(`${file} holds no state dict (no dict of tensors at its top level or under ${STATE_DICT_KEYS.slice(0, 4).join(', ')}, …); its keys are ${keys}. Save model.state_dict() in Python.`);
  }
  throw new PthError(`${file} holds several sets of weights (${candidates.map(([k]) => JSON.stringify(k)).join(', ')}) and none under a usual name; save the one you want on its own with torch.save(checkpoint[name], path).`);
}

function describe(value: PyValue): string {
  if (value === null) return 'None';
  if (Array.isArray(value)) return 'list';
  if (value instanceof PyTuple) return 'tuple';
  if (value instanceof TensorRef) return 'single tensor';
  return typeof value;
}

function isContiguous(t: TensorRef): boolean {
  let expected = 1;
  for (let i = t.shape.length - 1; i >= 0; i--) {
    if (t.shape[i]! !== 1 && t.stride[i] !== expected) return false;
    expected *= t.shape[i]!;
  }
  return true;
}

/** count values of an integer or bool dtype → f32 (int64 via BigInt: exact up to 2^24, rounded beyond). */
function decodeInts(dtype: Dtype, bytes: Uint8Array, count: number): Float32Array<ArrayBuffer> {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    if (dtype === 'I64') out[i] = Number(view.getBigInt64(i * 8, true));
    else if (dtype === 'I32') out[i] = view.getInt32(i * 4, true);
    else if (dtype === 'I16') out[i] = view.getInt16(i * 2, true);
    else if (dtype === 'I8') out[i] = view.getInt8(i);
    else out[i] = view.getUint8(i); // U8, BOOL
  }
  return out;
}

async function readTensor(zip: ZipIndex, t: TensorRef): Promise<Float32Array<ArrayBuffer>> {
  const numel = t.shape.reduce((a, b) => a * b, 1);
  if (numel === 0) return new Float32Array(0);
  const size = DTYPE_BYTES[t.storage.dtype]!;
  const decode = (bytes: Uint8Array, count: number): Float32Array<ArrayBuffer> =>
    ['F32', 'F16', 'BF16', 'F64'].includes(t.storage.dtype) ? decodeFloats(t.storage.dtype, bytes, count) : decodeInts(t.storage.dtype, bytes, count);
  if (isContiguous(t)) return decode(await zip.readRange(t.storage.entry, t.offset * size, numel * size), numel);
  // A view: decode the span it covers, then copy its elements out in row-major order.
  const span = t.shape.reduce((sum, d, i) => sum + (d - 1) * t.stride[i]!, 0) + 1;
  const values = decode(await zip.readRange(t.storage.entry, t.offset * size, span * size), span);
  const out = new Float32Array(numel);
  const index = new Array<number>(t.shape.length).fill(0);
  let at = 0;
  for (let k = 0; k < numel; k++) {
    out[k] = values[at]!;
    for (let d = t.shape.length - 1; d >= 0; d--) {
      index[d]!++;
      at += t.stride[d]!;
      if (index[d]! < t.shape[d]!) break;
      at -= index[d]! * t.stride[d]!;
      index[d] = 0;
    }
  }
  return out;
}
