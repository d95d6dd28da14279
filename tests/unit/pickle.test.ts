// The restricted unpickler on its own: plain data in every pickle protocol (bytes made by Python's
// pickle.dumps, protocols 0–5), globals only through the caller's table, and refusals of everything else.
import { describe, expect, it } from 'vitest';
import { PickleError, PickleRefusal, PyDict, PySet, PyTuple, unpickle, type PickleGlobal, type PyValue } from '../../src/io/pickle';

/** pickle.dumps(obj, protocol=p).hex() for p = 0…5 (tools: /usr/bin/python3; obj below). */
const DUMPS = [
  '286470300a566e616d650a70310a56e95c75323731330a70320a7356696e74730a70330a286c70340a49300a6149310a61493235350a61493235360a614936353533350a614936353533360a61492d310a61492d323134373438333634380a614c323134373438333634384c0a614c343631313638363031383432373338373930344c0a614c2d313138303539313632303731373431313330333432344c0a617356666c6f6174730a70350a286c70360a46302e350a61462d31652b3330300a6146696e660a6173566e65737465640a70370a28286470380a566b0a70390a4e734930310a4930300a747031300a7356656d7074790a7031310a282874286c7031320a28647031330a747031340a7356610a7031350a286c7031360a49370a617356620a7031370a6731360a732e',
  '7d71002858040000006e616d6571015805000000c3a9e29c9371025804000000696e747371035d7104284b004b014bff4d00014dffff4a000001004affffffff4a000000804c323134373438333634384c0a4c343631313638363031383432373338373930344c0a4c2d313138303539313632303731373431313330333432344c0a655806000000666c6f61747371055d710628473fe000000000000047fe37e43c8800759c477ff00000000000006558060000006e65737465647107287d710858010000006b71094e734930310a4930300a74710a5805000000656d707479710b28295d710c7d710d74710e580100000061710f5d71104b076158010000006271116810752e',
  '80027d71002858040000006e616d6571015805000000c3a9e29c9371025804000000696e747371035d7104284b004b014bff4d00014dffff4a000001004affffffff4a000000808a0500000080008a0800000000000000408a090000000000000000c0655806000000666c6f61747371055d710628473fe000000000000047fe37e43c8800759c477ff00000000000006558060000006e657374656471077d710858010000006b71094e73888987710a5805000000656d707479710b295d710c7d710d87710e580100000061710f5d71104b076158010000006271116810752e',
  '80037d71002858040000006e616d6571015805000000c3a9e29c9371025804000000696e747371035d7104284b004b014bff4d00014dffff4a000001004affffffff4a000000808a0500000080008a0800000000000000408a090000000000000000c0655806000000666c6f61747371055d710628473fe000000000000047fe37e43c8800759c477ff00000000000006558060000006e657374656471077d710858010000006b71094e73888987710a5805000000656d707479710b295d710c7d710d87710e580100000061710f5d71104b076158010000006271116810580500000062797465737112430200ff7113752e',
  '800495da000000000000007d94288c046e616d65948c05c3a9e29c93948c04696e7473945d94284b004b014bff4d00014dffff4a000001004affffffff4a000000808a0500000080008a0800000000000000408a090000000000000000c0658c06666c6f617473945d9428473fe000000000000047fe37e43c8800759c477ff0000000000000658c066e6573746564947d948c016b944e73888987948c05656d70747994295d947d9487948c0161945d944b07618c01629468108c05627974657394430200ff948c03736574948f94284b014b02908c0666726f7a656e94284b039194752e',
  '800595da000000000000007d94288c046e616d65948c05c3a9e29c93948c04696e7473945d94284b004b014bff4d00014dffff4a000001004affffffff4a000000808a0500000080008a0800000000000000408a090000000000000000c0658c06666c6f617473945d9428473fe000000000000047fe37e43c8800759c477ff0000000000000658c066e6573746564947d948c016b944e73888987948c05656d70747994295d947d9487948c0161945d944b07618c01629468108c05627974657394430200ff948c03736574948f94284b014b02908c0666726f7a656e94284b039194752e',
];

const hex = (h: string): Uint8Array => Uint8Array.from(h.match(/../g)!.map((b) => parseInt(b, 16)));
const ascii = (text: string): Uint8Array => Uint8Array.from(text, (c) => c.charCodeAt(0));

/** Python values as plain JS for comparison: dict → object, tuple → { tuple }, set → { set }. */
function plain(value: PyValue): unknown {
  if (value instanceof PyDict) return Object.fromEntries([...value.entries].map(([k, v]) => [String(k), plain(v)]));
  if (value instanceof PyTuple) return { tuple: value.items.map(plain) };
  if (value instanceof PySet) return { set: value.items.map(plain) };
  if (Array.isArray(value)) return value.map(plain);
  if (value instanceof Uint8Array) return { bytes: [...value] };
  return value;
}

describe('plain data', () => {
  it('reads the same object from every pickle protocol, sharing memoised values', () => {
    const base = {
      name: 'é✓',
      ints: [0, 1, 255, 256, 65535, 65536, -1, -(2 ** 31), 2 ** 31, 2n ** 62n, -(2n ** 70n)],
      floats: [0.5, -1e300, Infinity],
      nested: { tuple: [{ k: null }, true, false] },
      empty: { tuple: [{ tuple: [] }, [], {}] },
      a: [7],
      b: [7],
    };
    DUMPS.forEach((h, protocol) => {
      const value = unpickle(hex(h), { globals: new Map() });
      const want = { ...base, ...(protocol >= 3 ? { bytes: { bytes: [0, 255] } } : {}), ...(protocol >= 4 ? { set: { set: [1, 2] }, frozen: { set: [3] } } : {}) };
      expect(plain(value), `protocol ${protocol}`).toEqual(want);
      const dict = value as PyDict;
      expect(dict.entries.get('a'), `protocol ${protocol}: one list, memoised`).toBe(dict.entries.get('b'));
    });
  });
});

describe('globals', () => {
  const made: PyValue[][] = [];
  const table = new Map<string, PickleGlobal>([
    ['lib.make', { qualifiedName: 'lib.make', call: (args) => (made.push(args), { made: args.length }) }],
    ['lib.Marker', { qualifiedName: 'lib.Marker' }],
  ]);

  it('are built only through the caller table (GLOBAL + REDUCE, STACK_GLOBAL + NEWOBJ)', () => {
    expect(unpickle(ascii('\x80\x02clib\nmake\nK\x01K\x02\x86R.'), { globals: table })).toEqual({ made: 2 });
    expect(unpickle(ascii('\x80\x04\x8c\x03lib\x8c\x04make\x93)\x81.'), { globals: table })).toEqual({ made: 0 });
    expect(made).toEqual([[1, 2], []]);
  });

  it('are refused when outside the table, before anything is called', () => {
    const refused = (bytes: string): PickleRefusal => {
      try {
        unpickle(ascii(bytes), { globals: table });
      } catch (error) {
        expect(error).toBeInstanceOf(PickleRefusal);
        return error as PickleRefusal;
      }
      throw new Error('not refused');
    };
    expect(refused('\x80\x02cos\nsystem\nX\x02\x00\x00\x00lsR.').found).toBe('os.system');
    expect(refused('\x80\x04\x8c\x08builtins\x8c\x04eval\x93.').found).toBe('builtins.eval');
    expect(refused('(X\x02\x00\x00\x00lsios\nsystem\n.').found).toBe('os.system'); // INST
    expect(refused('\x80\x02clib\nMarker\n)R.').found).toBe('a call of lib.Marker');
    expect(refused('\x80\x02\x82\x01.')).toMatchObject({ found: 'EXT1 (the copyreg extension registry)', kind: 'instruction' });
    expect(refused('\x80\x02]}b.').kind).toBe('instruction'); // BUILD on a list
    expect(refused('\x80\x02X\x01\x00\x00\x00xQ.').found).toBe('BINPERSID (a persistent reference)');
  });
});

describe('corrupt pickles', () => {
  it('are reported as such', () => {
    const corrupt = (bytes: string, message: RegExp): void => {
      expect(() => unpickle(ascii(bytes), { globals: new Map() })).toThrow(PickleError);
      expect(() => unpickle(ascii(bytes), { globals: new Map() })).toThrow(message);
    };
    corrupt('\x80\x02X\x10\x00\x00\x00abc', /ends in the middle of its data/);
    corrupt('\x80\x02N', /ends in the middle/);
    corrupt('\x80\x02h\x05.', /memo entry 5, which it never stored/);
    corrupt('\x80\x02NN.', /does not hold exactly one value/);
    corrupt('\x80\x02\xff', /byte 0xff at offset 2, which is not a pickle instruction/);
    corrupt('\x80\x02NNa.', /appends to something that is not a list/);
    corrupt('\x80\x02t.', /no mark where one is needed/);
  });
});
