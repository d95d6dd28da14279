// PLY (Stanford polygon format) point clouds, ASCII and binary little-endian: the header lists elements
// with counts and typed properties; this reader keeps the vertex element's x y z (any numeric type) and
// walks every other element (faces, edges, …) only to check that the body matches the header's counts.
// Vertices stream through a reservoir, so a scan of any size is read in bounded memory. Big-endian binary
// PLY is refused, saying so.
import type { ByteSource } from '../../io/safetensors';
import { BinaryCursor, byteChunks, lineBatches } from './chunks';
import { fileLabel, nonFiniteError, PointCloudError, textXyz, type RawCloud, type ReadOptions } from './cloud';
import { PointReservoir } from './reservoir';

const SCALAR_SIZES: Record<string, number> = {
  char: 1, int8: 1, uchar: 1, uint8: 1,
  short: 2, int16: 2, ushort: 2, uint16: 2,
  int: 4, int32: 4, uint: 4, uint32: 4,
  float: 4, float32: 4, double: 8, float64: 8,
};

interface Property {
  name: string;
  /** Scalar type, or the item type of a list. */
  type: string;
  /** For a list: the type of its length prefix. */
  countType?: string;
}

interface Element {
  name: string;
  count: number;
  properties: Property[];
}

interface Header {
  format: 'ascii' | 'binary_little_endian';
  elements: Element[];
  /** Absolute offset of the first body byte. */
  bodyStart: number;
}

/** Headers longer than this are not PLY headers (a real one is a few hundred bytes, with comments a few KB). */
const MAX_HEADER_BYTES = 1 << 20;

function typeSize(type: string, file: string, line: string): number {
  const size = SCALAR_SIZES[type];
  if (size === undefined) throw new PointCloudError(`${file} has a PLY property of unknown type "${type}" ("${line}"); PLY types are char, uchar, short, ushort, int, uint, float and double.`);
  return size;
}

async function readHeader(source: ByteSource, file: string): Promise<Header> {
  let text = '';
  let end = -1;
  for (let at = 0; end < 0; ) {
    if (at >= source.size || at >= MAX_HEADER_BYTES) {
      throw new PointCloudError(`${file} starts like a PLY file but its header never ends (no "end_header" line): the file is truncated or not a PLY file.`);
    }
    const bytes = await source.read(at, Math.min(64 * 1024, source.size - at));
    text += new TextDecoder('latin1').decode(bytes);
    at += bytes.byteLength;
    const match = /end_header[ \t]*\r?\n/.exec(text) ?? (at >= source.size ? /end_header[ \t]*$/.exec(text) : null);
    if (match) end = match.index + match[0].length;
  }
  const lines = text.slice(0, end).split(/\r?\n/);
  if (lines[0]!.trim() !== 'ply') throw new PointCloudError(`${file} is not a PLY file: its first line is not "ply".`);
  let format: Header['format'] | undefined;
  const elements: Element[] = [];
  for (const raw of lines.slice(1)) {
    const line = raw.trim();
    const words = line.split(/\s+/);
    const keyword = words[0];
    if (!line || keyword === 'comment' || keyword === 'obj_info' || keyword === 'end_header') continue;
    if (keyword === 'format') {
      if (words[1] === 'binary_big_endian') {
        throw new PointCloudError(`${file} is a big-endian binary PLY, which this app does not read. ` +
          'Save it again as binary little-endian or ASCII PLY (MeshLab, CloudCompare or Open3D can convert it).');
      }
      if (words[1] !== 'ascii' && words[1] !== 'binary_little_endian') {
        throw new PointCloudError(`${file} has an unknown PLY format "${words[1] ?? ''}"; PLY files are ascii, binary_little_endian or binary_big_endian.`);
      }
      format = words[1];
    } else if (keyword === 'element') {
      const count = Number(words[2]);
      if (words.length !== 3 || !Number.isSafeInteger(count) || count < 0) throw new PointCloudError(`${file} has a malformed PLY element line "${line}" (expected "element <name> <count>").`);
      elements.push({ name: words[1]!, count, properties: [] });
    } else if (keyword === 'property') {
      const element = elements.at(-1);
      if (!element) throw new PointCloudError(`${file} declares a PLY property before any element ("${line}"): the header is malformed.`);
      if (words[1] === 'list') {
        if (words.length !== 5) throw new PointCloudError(`${file} has a malformed PLY list property "${line}" (expected "property list <count type> <item type> <name>").`);
        typeSize(words[2]!, file, line);
        typeSize(words[3]!, file, line);
        element.properties.push({ name: words[4]!, countType: words[2]!, type: words[3]! });
      } else {
        if (words.length !== 3) throw new PointCloudError(`${file} has a malformed PLY property "${line}" (expected "property <type> <name>").`);
        typeSize(words[1]!, file, line);
        element.properties.push({ name: words[2]!, type: words[1]! });
      }
    } else {
      throw new PointCloudError(`${file} has an unknown PLY header line "${line}": the header is malformed.`);
    }
  }
  if (!format) throw new PointCloudError(`${file} has no "format" line in its PLY header: the header is malformed.`);
  // latin1 maps bytes to characters one to one, so the character index is the byte offset.
  return { format, elements, bodyStart: end };
}

/** Indices of x, y, z among the vertex element's properties (each a scalar). */
function xyzIndices(header: Header, file: string): { vertex: Element; xyz: [number, number, number] } {
  const vertex = header.elements.find((e) => e.name === 'vertex');
  if (!vertex) throw new PointCloudError(`${file} has no "vertex" element in its PLY header, so it holds no points.`);
  const xyz = ['x', 'y', 'z'].map((axis) => vertex.properties.findIndex((p) => p.name === axis && p.countType === undefined));
  if (xyz.some((i) => i < 0)) {
    throw new PointCloudError(`${file} has PLY vertices without x, y and z properties (it has: ${vertex.properties.map((p) => p.name).join(', ')}).`);
  }
  return { vertex, xyz: xyz as [number, number, number] };
}

function countsSentence(header: Header): string {
  return header.elements.map((e) => `${e.count.toLocaleString('en-US')} ${e.name}${e.count === 1 ? '' : ' elements'}`).join(', ');
}

export async function readPly(source: ByteSource, opts: ReadOptions): Promise<RawCloud> {
  const file = fileLabel(source.name);
  const header = await readHeader(source, file);
  const { vertex, xyz } = xyzIndices(header, file);
  if (vertex.count === 0) throw new PointCloudError(`${file} is a PLY file with no vertices: there are no points to read.`);
  const reservoir = new PointReservoir(opts.maxPoints, opts.seed);
  if (header.format === 'ascii') await readAsciiBody(source, header, vertex, xyz, reservoir, file);
  else await readBinaryBody(source, header, vertex, xyz, reservoir, file);
  return { points: reservoir.points(), count: reservoir.count, totalPoints: reservoir.seen, origin: 'points', subsampled: reservoir.seen > reservoir.count };
}

async function readAsciiBody(source: ByteSource, header: Header, vertex: Element, xyz: [number, number, number], reservoir: PointReservoir, file: string): Promise<void> {
  // One element instance per line, as every PLY writer puts them; blank lines are ignored.
  let elementIndex = 0;
  let done = 0; // instances of the current element read
  let lineNo = 0;
  const nextElementIfDone = (): void => {
    while (elementIndex < header.elements.length && done === header.elements[elementIndex]!.count) {
      elementIndex++;
      done = 0;
    }
  };
  // Token positions of x, y, z when the vertex element has only scalars (the usual case).
  const scalarOnly = vertex.properties.every((p) => p.countType === undefined);
  nextElementIfDone();
  for await (const lines of lineBatches(byteChunks(source, header.bodyStart))) {
    for (const line of lines) {
      lineNo++;
      const trimmed = line.trim();
      if (!trimmed) continue;
      if (elementIndex >= header.elements.length) {
        throw new PointCloudError(`${file} has more data than its PLY header declares (${countsSentence(header)}): line ${lineNo} of the body is extra. ` +
          'The file was written incorrectly; re-export it.');
      }
      const element = header.elements[elementIndex]!;
      if (element === vertex) {
        const tokens = trimmed.split(/\s+/);
        if (scalarOnly && tokens.length < vertex.properties.length) {
          throw new PointCloudError(`${file}: vertex ${done + 1} (body line ${lineNo}) has ${tokens.length} values, but the PLY header declares ${vertex.properties.length} properties.`);
        }
        const words = scalarOnly ? [tokens[xyz[0]], tokens[xyz[1]], tokens[xyz[2]]] : asciiVertexWithLists(tokens, vertex, xyz, file, done + 1, lineNo);
        const [x, y, z] = textXyz(words, file, `vertex ${done + 1} (body line ${lineNo})`, trimmed);
        reservoir.add(x, y, z);
      }
      done++;
      nextElementIfDone();
    }
  }
  if (elementIndex < header.elements.length) {
    const element = header.elements[elementIndex]!;
    throw new PointCloudError(`${file} ends early: its PLY header declares ${countsSentence(header)}, but the body stops after ${done.toLocaleString('en-US')} ${element.name} elements. ` +
      'The file is truncated or its header counts are wrong; export it again.');
  }
}

/** The words of x, y, z in a vertex line whose properties include lists (each list: a length, then its items). */
function asciiVertexWithLists(tokens: string[], vertex: Element, xyz: [number, number, number], file: string, index: number, lineNo: number): (string | undefined)[] {
  const words: (string | undefined)[] = [];
  let t = 0;
  vertex.properties.forEach((p, i) => {
    if (p.countType !== undefined) {
      const n = Number(tokens[t]);
      t += 1 + (Number.isInteger(n) && n > 0 ? n : 0);
    } else {
      words[i] = tokens[t];
      t++;
    }
  });
  if (t > tokens.length) throw new PointCloudError(`${file}: vertex ${index} (body line ${lineNo}) has fewer values than the PLY header declares.`);
  return [words[xyz[0]], words[xyz[1]], words[xyz[2]]];
}

type Getter = (view: DataView, at: number) => number;
const GETTERS: Record<string, Getter> = {
  char: (v, a) => v.getInt8(a), int8: (v, a) => v.getInt8(a),
  uchar: (v, a) => v.getUint8(a), uint8: (v, a) => v.getUint8(a),
  short: (v, a) => v.getInt16(a, true), int16: (v, a) => v.getInt16(a, true),
  ushort: (v, a) => v.getUint16(a, true), uint16: (v, a) => v.getUint16(a, true),
  int: (v, a) => v.getInt32(a, true), int32: (v, a) => v.getInt32(a, true),
  uint: (v, a) => v.getUint32(a, true), uint32: (v, a) => v.getUint32(a, true),
  float: (v, a) => v.getFloat32(a, true), float32: (v, a) => v.getFloat32(a, true),
  double: (v, a) => v.getFloat64(a, true), float64: (v, a) => v.getFloat64(a, true),
};

async function readBinaryBody(source: ByteSource, header: Header, vertex: Element, xyz: [number, number, number], reservoir: PointReservoir, file: string): Promise<void> {
  const cursor = new BinaryCursor(source, header.bodyStart);
  const truncated = (element: Element, done: number): PointCloudError =>
    new PointCloudError(`${file} ends early: its PLY header declares ${countsSentence(header)}, but the body stops inside ${element.name} ${(done + 1).toLocaleString('en-US')}. ` +
      'The file is truncated (an incomplete download or copy) or its header counts are wrong; export it again.');
  for (const element of header.elements) {
    const fixed = element.properties.every((p) => p.countType === undefined);
    if (fixed) {
      // Fixed-size records: read as many as the buffer holds at a time.
      const offsets: number[] = [];
      let size = 0;
      for (const p of element.properties) {
        offsets.push(size);
        size += SCALAR_SIZES[p.type]!;
      }
      // x y z are the vertex element's properties: another element may have fewer.
      const getters = element === vertex ? xyz.map((i) => GETTERS[element.properties[i]!.type]!) : [];
      const at = element === vertex ? xyz.map((i) => offsets[i]!) : [];
      let done = 0;
      while (done < element.count) {
        if (size > 0 && !(await cursor.need(size))) throw truncated(element, done);
        const n = size === 0 ? element.count : Math.min(element.count - done, cursor.recordsAvailable(size));
        if (element === vertex) {
          const view = cursor.view;
          for (let r = 0; r < n; r++) {
            const base = cursor.pos + r * size;
            const x = getters[0]!(view, base + at[0]!);
            const y = getters[1]!(view, base + at[1]!);
            const z = getters[2]!(view, base + at[2]!);
            if (!Number.isFinite(x) || !Number.isFinite(y) || !Number.isFinite(z)) throw nonFiniteError(file, `vertex ${(done + r + 1).toLocaleString('en-US')}`, x, y, z);
            reservoir.add(x, y, z);
          }
        }
        cursor.pos += n * size;
        done += n;
      }
      continue;
    }
    // Records with lists (faces): walk them one at a time.
    for (let done = 0; done < element.count; done++) {
      const values: number[] = [];
      for (const p of element.properties) {
        if (p.countType !== undefined) {
          const countSize = SCALAR_SIZES[p.countType]!;
          if (!(await cursor.need(countSize))) throw truncated(element, done);
          const n = GETTERS[p.countType]!(cursor.view, cursor.pos);
          cursor.pos += countSize;
          if (!Number.isInteger(n) || n < 0) throw new PointCloudError(`${file}: ${element.name} ${done + 1} has a list of length ${n}: the PLY body is corrupt.`);
          const bytes = n * SCALAR_SIZES[p.type]!;
          if (!(await cursor.need(bytes))) throw truncated(element, done);
          cursor.pos += bytes;
          values.push(NaN);
        } else {
          const size = SCALAR_SIZES[p.type]!;
          if (!(await cursor.need(size))) throw truncated(element, done);
          values.push(GETTERS[p.type]!(cursor.view, cursor.pos));
          cursor.pos += size;
        }
      }
      if (element === vertex) {
        const [x, y, z] = [values[xyz[0]]!, values[xyz[1]]!, values[xyz[2]]!];
        if (!Number.isFinite(x) || !Number.isFinite(y) || !Number.isFinite(z)) throw nonFiniteError(file, `vertex ${(done + 1).toLocaleString('en-US')}`, x, y, z);
        reservoir.add(x, y, z);
      }
    }
  }
  if (cursor.remaining > 0) {
    throw new PointCloudError(`${file} has ${cursor.remaining.toLocaleString('en-US')} bytes after the data its PLY header declares (${countsSentence(header)}): ` +
      'the header counts disagree with the body. The file was written incorrectly; export it again.');
  }
}
