// A restricted Python unpickler: it rebuilds plain data (None, bools, ints, floats, strings, bytes, lists,
// tuples, dicts, sets) and nothing else on its own. Every class or function a pickle names (GLOBAL,
// STACK_GLOBAL, INST) must be in the caller's table of allowed globals, whose entries are TypeScript
// functions that build data; a name outside the table is refused the moment it is read, before anything
// could be called, and nothing a pickle names is ever imported or run. Persistent ids (how torch.save
// refers to tensor storages) go to the caller's `persistentLoad`. The opcodes are those of the pickle
// protocols 0–5 (Python's Lib/pickletools.py documents each); extension codes and out-of-band buffers are refused.

export class PickleError extends Error {
  override name = 'PickleError';
}

/** The pickle asked for something outside the allowed table (a global, or an instruction). */
export class PickleRefusal extends Error {
  override name = 'PickleRefusal';
  constructor(readonly found: string, readonly kind: 'global' | 'instruction') {
    super(kind === 'global' ? `The pickle asks for ${found}, which is not allowed.` : `The pickle uses the instruction ${found}, which is not allowed.`);
  }
}

export class PyTuple {
  constructor(readonly items: PyValue[]) {}
}

/** dict or collections.OrderedDict (both keep insertion order); `attributes` holds state set by BUILD (e.g. a state dict's `_metadata`). */
export class PyDict {
  readonly entries = new Map<PyValue, PyValue>();
  attributes: PyValue = null;
}

export class PySet {
  constructor(readonly items: PyValue[]) {}
}

/** What an allowed global is: a data constructor (`call`, for REDUCE/NEWOBJ), maybe one that takes BUILD state, or a plain marker. */
export interface PickleGlobal {
  readonly qualifiedName: string;
  call?(args: PyValue[]): PyValue;
}

/** An object built by an allowed global that accepts BUILD state. */
export interface Buildable {
  build(state: PyValue): void;
}

export type PyValue = null | boolean | number | bigint | string | Uint8Array | PyValue[] | PyTuple | PyDict | PySet | PickleGlobal | object;

export interface UnpicklePolicy {
  /** "module.name" → its implementation: the only globals this pickle may name. */
  globals: ReadonlyMap<string, PickleGlobal>;
  persistentLoad?(pid: PyValue): PyValue;
}

const MARK = Symbol('mark');

/** The names of the opcodes this unpickler refuses outright, for the message. */
const REFUSED_OPCODES: Record<number, string> = {
  0x82: 'EXT1 (the copyreg extension registry)',
  0x83: 'EXT2 (the copyreg extension registry)',
  0x84: 'EXT4 (the copyreg extension registry)',
  0x97: 'NEXT_BUFFER (out-of-band data)',
  0x98: 'READONLY_BUFFER (out-of-band data)',
};

export function unpickle(bytes: Uint8Array, policy: UnpicklePolicy): PyValue {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let pos = 0;
  const stack: (PyValue | typeof MARK)[] = [];
  const memo = new Map<number, PyValue>();

  const truncated = (): PickleError => new PickleError('The pickle ends in the middle of its data (it is truncated).');
  const need = (n: number): number => {
    // A negative length (BINSTRING's is signed) would walk back over bytes already read.
    if (n < 0) throw new PickleError(`The pickle declares a length of ${n} bytes: it is corrupt.`);
    if (pos + n > bytes.length) throw truncated();
    const at = pos;
    pos += n;
    return at;
  };
  const line = (): string => {
    const end = bytes.indexOf(0x0a, pos);
    if (end < 0) throw truncated();
    const text = new TextDecoder('latin1').decode(bytes.subarray(pos, end));
    pos = end + 1;
    return text;
  };
  const utf8 = (n: number): string => {
    const at = need(n);
    return new TextDecoder('utf-8').decode(bytes.subarray(at, at + n));
  };
  const latin1 = (n: number): string => {
    const at = need(n);
    return new TextDecoder('latin1').decode(bytes.subarray(at, at + n));
  };
  const u64 = (): number => {
    const at = need(8);
    const value = view.getUint32(at, true) + view.getUint32(at + 4, true) * 2 ** 32;
    if (value > bytes.length) throw truncated();
    return value;
  };
  const pop = (): PyValue => {
    if (stack.length === 0) throw new PickleError('The pickle pops from an empty stack: it is corrupt.');
    const value = stack.pop()!;
    if (value === MARK) throw new PickleError('The pickle uses a mark as a value: it is corrupt.');
    return value;
  };
  const top = (): PyValue => {
    const value = stack.at(-1);
    if (value === undefined || value === MARK) throw new PickleError('The pickle reads from an empty stack: it is corrupt.');
    return value;
  };
  /** Everything above the topmost mark, which is removed. */
  const popMark = (): PyValue[] => {
    let i = stack.length - 1;
    while (i >= 0 && stack[i] !== MARK) i--;
    if (i < 0) throw new PickleError('The pickle has no mark where one is needed: it is corrupt.');
    const items = stack.slice(i + 1) as PyValue[];
    stack.length = i;
    return items;
  };
  const lookup = (module: string, name: string): PickleGlobal => {
    const qualified = `${module}.${name}`;
    // Not a Python name at all: damaged bytes rather than a request (quoted short, so the sentence stays readable).
    if (!/^[A-Za-z_][\w.]*$/.test(module) || !/^[A-Za-z_][\w.]*$/.test(name)) {
      const quoted = JSON.stringify(qualified.length > 60 ? `${qualified.slice(0, 60)}…` : qualified);
      throw new PickleError(`The pickle names a global that is not a Python name (${quoted}): it is corrupt.`);
    }
    const found = policy.globals.get(qualified);
    if (!found) throw new PickleRefusal(qualified, 'global');
    return found;
  };
  const call = (fn: PyValue, args: PyValue[]): PyValue => {
    const g = fn as PickleGlobal;
    if (typeof g !== 'object' || g === null || typeof g.qualifiedName !== 'string') throw new PickleError('The pickle calls something that is not a class or function: it is corrupt.');
    if (!g.call) throw new PickleRefusal(`a call of ${g.qualifiedName}`, 'global');
    return g.call(args);
  };
  const setItems = (target: PyValue, items: PyValue[]): void => {
    if (!(target instanceof PyDict)) throw new PickleError('The pickle sets items on something that is not a dict: it is corrupt.');
    if (items.length % 2) throw new PickleError('The pickle sets a dict key without a value: it is corrupt.');
    for (let i = 0; i < items.length; i += 2) target.entries.set(items[i]!, items[i + 1]!);
  };
  const append = (target: PyValue, items: PyValue[]): void => {
    // One at a time: spreading a list of a few hundred thousand items into push() overflows the call stack.
    const into = Array.isArray(target) ? target : target instanceof PySet ? target.items : undefined;
    if (into) for (const item of items) into.push(item);
    else throw new PickleError('The pickle appends to something that is not a list: it is corrupt.');
  };
  const longFromBytes = (at: number, n: number): number | bigint => {
    if (n === 0) return 0;
    let value = 0n;
    for (let i = n - 1; i >= 0; i--) value = (value << 8n) | BigInt(bytes[at + i]!);
    if (bytes[at + n - 1]! & 0x80) value -= 1n << BigInt(8 * n);
    return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value;
  };
  const textInt = (text: string): number | bigint => {
    const trimmed = text.replace(/L$/, '');
    if (!/^[+-]?\d+$/.test(trimmed)) throw new PickleError(`The pickle holds "${text}" where an integer belongs: it is corrupt.`);
    const value = BigInt(trimmed);
    return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value;
  };

  for (;;) {
    if (pos >= bytes.length) throw truncated();
    const op = bytes[pos++]!;
    switch (op) {
      case 0x80: // PROTO
        need(1);
        break;
      case 0x95: // FRAME: a length prefix for what follows; the data is read as it comes
        need(8);
        break;
      case 0x2e: // STOP
        if (stack.length !== 1) throw new PickleError('The pickle ends with a stack that does not hold exactly one value: it is corrupt.');
        return pop();
      case 0x28: // MARK
        stack.push(MARK);
        break;
      case 0x30: // POP
        if (stack.at(-1) === MARK) stack.pop();
        else pop();
        break;
      case 0x31: // POP_MARK
        popMark();
        break;
      case 0x32: // DUP
        stack.push(top());
        break;
      case 0x4e: // NONE
        stack.push(null);
        break;
      case 0x88: // NEWTRUE
        stack.push(true);
        break;
      case 0x89: // NEWFALSE
        stack.push(false);
        break;
      case 0x4a: // BININT
        stack.push(view.getInt32(need(4), true));
        break;
      case 0x4b: // BININT1
        stack.push(bytes[need(1)]!);
        break;
      case 0x4d: // BININT2
        stack.push(view.getUint16(need(2), true));
        break;
      case 0x8a: { // LONG1
        const n = bytes[need(1)]!;
        stack.push(longFromBytes(need(n), n));
        break;
      }
      case 0x8b: { // LONG4
        const n = view.getInt32(need(4), true);
        if (n < 0 || n > 4096) throw new PickleError(`The pickle holds an integer of ${n} bytes: it is corrupt.`);
        stack.push(longFromBytes(need(n), n));
        break;
      }
      case 0x49: { // INT (text; I00/I01 are False/True)
        const text = line();
        stack.push(text === '00' ? false : text === '01' ? true : textInt(text));
        break;
      }
      case 0x4c: // LONG (text)
        stack.push(textInt(line()));
        break;
      case 0x47: // BINFLOAT (big-endian f64)
        stack.push(view.getFloat64(need(8), false));
        break;
      case 0x46: { // FLOAT (Python's repr: also inf, -inf, nan)
        const text = line();
        const value = ({ inf: Infinity, '-inf': -Infinity, nan: NaN } as Record<string, number>)[text] ?? Number(text);
        if (Number.isNaN(value) && text !== 'nan') throw new PickleError('The pickle holds a float that is not a number in text: it is corrupt.');
        stack.push(value);
        break;
      }
      case 0x58: // BINUNICODE
        stack.push(utf8(view.getUint32(need(4), true)));
        break;
      case 0x8c: // SHORT_BINUNICODE
        stack.push(utf8(bytes[need(1)]!));
        break;
      case 0x8d: // BINUNICODE8
        stack.push(utf8(u64()));
        break;
      case 0x56: // UNICODE (raw-unicode-escape text)
        stack.push(line().replace(/\\u([0-9a-fA-F]{4})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16))));
        break;
      case 0x54: // BINSTRING (Python 2 str)
        stack.push(latin1(view.getInt32(need(4), true)));
        break;
      case 0x55: // SHORT_BINSTRING
        stack.push(latin1(bytes[need(1)]!));
        break;
      case 0x53: { // STRING (quoted text)
        const text = line();
        if (!/^(['"]).*\1$/.test(text)) throw new PickleError('The pickle holds a STRING without quotes: it is corrupt.');
        stack.push(text.slice(1, -1));
        break;
      }
      case 0x42: { // BINBYTES
        const n = view.getUint32(need(4), true);
        const at = need(n);
        stack.push(bytes.slice(at, at + n));
        break;
      }
      case 0x43: { // SHORT_BINBYTES
        const n = bytes[need(1)]!;
        const at = need(n);
        stack.push(bytes.slice(at, at + n));
        break;
      }
      case 0x8e: { // BINBYTES8
        const n = u64();
        const at = need(n);
        stack.push(bytes.slice(at, at + n));
        break;
      }
      case 0x96: { // BYTEARRAY8
        const n = u64();
        const at = need(n);
        stack.push(bytes.slice(at, at + n));
        break;
      }
      case 0x29: // EMPTY_TUPLE
        stack.push(new PyTuple([]));
        break;
      case 0x74: // TUPLE
        stack.push(new PyTuple(popMark()));
        break;
      case 0x85: // TUPLE1
        stack.push(new PyTuple([pop()]));
        break;
      case 0x86: { // TUPLE2
        const b = pop();
        stack.push(new PyTuple([pop(), b]));
        break;
      }
      case 0x87: { // TUPLE3
        const c = pop();
        const b = pop();
        stack.push(new PyTuple([pop(), b, c]));
        break;
      }
      case 0x5d: // EMPTY_LIST
        stack.push([]);
        break;
      case 0x6c: // LIST
        stack.push(popMark());
        break;
      case 0x61: { // APPEND
        const item = pop();
        append(top(), [item]);
        break;
      }
      case 0x65: { // APPENDS
        const items = popMark();
        append(top(), items);
        break;
      }
      case 0x7d: // EMPTY_DICT
        stack.push(new PyDict());
        break;
      case 0x64: { // DICT
        const dict = new PyDict();
        setItems(dict, popMark());
        stack.push(dict);
        break;
      }
      case 0x73: { // SETITEM
        const value = pop();
        const key = pop();
        setItems(top(), [key, value]);
        break;
      }
      case 0x75: { // SETITEMS
        const items = popMark();
        setItems(top(), items);
        break;
      }
      case 0x8f: // EMPTY_SET
        stack.push(new PySet([]));
        break;
      case 0x90: { // ADDITEMS
        const items = popMark();
        append(top(), items);
        break;
      }
      case 0x91: // FROZENSET
        stack.push(new PySet(popMark()));
        break;
      case 0x71: // BINPUT
        memo.set(bytes[need(1)]!, top());
        break;
      case 0x72: // LONG_BINPUT
        memo.set(view.getUint32(need(4), true), top());
        break;
      case 0x70: // PUT (text)
        memo.set(Number(line()), top());
        break;
      case 0x94: // MEMOIZE
        memo.set(memo.size, top());
        break;
      case 0x68: // BINGET
      case 0x6a: // LONG_BINGET
      case 0x67: { // GET (text)
        const key = op === 0x68 ? bytes[need(1)]! : op === 0x6a ? view.getUint32(need(4), true) : Number(line());
        if (!memo.has(key)) throw new PickleError(`The pickle refers to memo entry ${key}, which it never stored: it is corrupt.`);
        stack.push(memo.get(key)!);
        break;
      }
      case 0x63: { // GLOBAL "module\nname\n"
        const module = line();
        stack.push(lookup(module, line()));
        break;
      }
      case 0x93: { // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') throw new PickleError('The pickle names a global with something that is not text: it is corrupt.');
        stack.push(lookup(module, name));
        break;
      }
      case 0x69: { // INST "module\nname\n": a class created from the items above the mark
        const module = line();
        const cls = lookup(module, line());
        stack.push(call(cls, popMark()));
        break;
      }
      case 0x6f: { // OBJ: class and arguments above the mark
        const [cls, ...args] = popMark();
        stack.push(call(cls ?? null, args));
        break;
      }
      case 0x52: { // REDUCE
        const args = pop();
        const fn = pop();
        if (!(args instanceof PyTuple)) throw new PickleError('The pickle calls a function without an argument tuple: it is corrupt.');
        stack.push(call(fn, args.items));
        break;
      }
      case 0x81: { // NEWOBJ: cls.__new__(cls, *args)
        const args = pop();
        const cls = pop();
        if (!(args instanceof PyTuple)) throw new PickleError('The pickle creates an object without an argument tuple: it is corrupt.');
        stack.push(call(cls, args.items));
        break;
      }
      case 0x92: { // NEWOBJ_EX: cls, args, kwargs (keyword arguments are not part of any state dict)
        const kwargs = pop();
        const args = pop();
        const cls = pop();
        if (!(args instanceof PyTuple) || !(kwargs instanceof PyDict)) throw new PickleError('The pickle creates an object with malformed arguments: it is corrupt.');
        if (kwargs.entries.size) throw new PickleRefusal(`keyword arguments for ${(cls as PickleGlobal).qualifiedName ?? 'an object'}`, 'instruction');
        stack.push(call(cls, args.items));
        break;
      }
      case 0x62: { // BUILD: obj.__setstate__(state)
        const state = pop();
        const target = top();
        if (target instanceof PyDict) target.attributes = state;
        else if (typeof target === 'object' && target !== null && typeof (target as Buildable).build === 'function') (target as Buildable).build(state);
        else throw new PickleRefusal('BUILD (setting the state of an object that does not take one)', 'instruction');
        break;
      }
      case 0x51: { // BINPERSID
        const pid = pop();
        if (!policy.persistentLoad) throw new PickleRefusal('BINPERSID (a persistent reference)', 'instruction');
        stack.push(policy.persistentLoad(pid));
        break;
      }
      case 0x50: { // PERSID (text)
        const pid = line();
        if (!policy.persistentLoad) throw new PickleRefusal('PERSID (a persistent reference)', 'instruction');
        stack.push(policy.persistentLoad(pid));
        break;
      }
      default: {
        const refused = REFUSED_OPCODES[op];
        if (refused) throw new PickleRefusal(refused, 'instruction');
        throw new PickleError(`The pickle holds byte 0x${op.toString(16).padStart(2, '0')} at offset ${pos - 1}, which is not a pickle instruction: it is corrupt or not a pickle.`);
      }
    }
  }
}
