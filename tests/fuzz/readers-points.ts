// The fuzz entries for point-cloud files, one per format (PLY, OBJ, OFF, XYZ, NPY), each opened as the
// worker opens a dropped file (loadPointCloud: read in bounded memory, brought to P points, centred and
// scaled into the unit sphere). Seeds: the sample set's real .npy clouds and files made here from seeded
// shapes with the tests' point-file writers; hostile inputs: header counts of 2^53, NaN and infinite
// coordinates, faces naming vertices that do not exist, NumPy headers lying about shape and dtype.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PointCloudError } from '../../src/data/points/cloud';
import { loadPointCloud } from '../../src/data/points/load-cloud';
import { bytesSource } from '../../src/io/safetensors';
import { Rng } from '../../src/train/rng';
import { asciiPly, binaryPly, npyBytes, npyWithHeader, objText, offText, xyzLines } from '../helpers/point-files';
import { InvariantError, type FuzzReader, type FuzzSeed } from './fuzz-reader';
import { mutateBytes } from './mutate';
import { root } from './seed-files';

const MB = 1 << 20;
/** The model's point count in the fuzz pass: small, so farthest point sampling costs little per case. */
const P = 64;
const text = (s: string): Uint8Array<ArrayBuffer> => new TextEncoder().encode(s);

/** A seeded lumpy sphere of n points, and a fan of triangles over it (faces name only real vertices). */
function shape(seed: number, n: number): { points: number[][]; triangles: number[][] } {
  const rng = new Rng(seed);
  const points = Array.from({ length: n }, () => {
    const [u, v] = [rng.uniform(0, 2 * Math.PI), rng.uniform(-1, 1)];
    const r = 1 + 0.3 * rng.next();
    const s = Math.sqrt(1 - v * v);
    return [+(r * s * Math.cos(u)).toFixed(4), +(r * s * Math.sin(u)).toFixed(4), +(r * v).toFixed(4)];
  });
  const triangles = Array.from({ length: n - 2 }, (_, i) => [0, i + 1, i + 2]);
  return { points, triangles };
}

/** x y z per line as a .pts scan writes it: the count first. */
const ptsText = (points: number[][]): string => `${points.length}\n${xyzLines(points)}`;

/** One sample cloud per class of the bundled point set (float16 .npy, 1,024 points). */
function sampleClouds(): FuzzSeed<Uint8Array<ArrayBuffer>>[] {
  const dir = join(root, 'public/samples/points');
  return readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .sort((a, b) => a.name.localeCompare(b.name))
    .map((d) => {
      const file = readdirSync(join(dir, d.name)).filter((f) => f.endsWith('.npy')).sort()[0]!;
      return { name: `public/samples/points/${d.name}/${file}`, value: new Uint8Array(readFileSync(join(dir, d.name, file))) };
    });
}

/** An entry for one format: `file` names the input so the reader can fall back on the extension. */
function pointReader(format: string, file: string, tokens: string[], seeds: () => FuzzSeed<Uint8Array<ArrayBuffer>>[], hostile: () => FuzzSeed<Uint8Array<ArrayBuffer>>[]): FuzzReader {
  return {
    name: `point files: ${format}`,
    seeds: async () => seeds(),
    hostile: async () => hostile(),
    mutate: (value, rng) => {
      const m = mutateBytes(value, rng, tokens);
      return { value: m.bytes, steps: m.steps };
    },
    size: (v) => v.byteLength,
    async open(bytes) {
      const cloud = await loadPointCloud(bytesSource(bytes, file), { points: P, seed: 7 });
      // What the page stores and the model takes: exactly P finite points, centred, inside the unit sphere.
      const pts = cloud.points;
      if (pts.length !== 3 * P) throw new InvariantError(`${pts.length / 3} points instead of ${P}`);
      const centroid = [0, 0, 0];
      let radius = 0;
      for (let i = 0; i < P; i++) {
        const [x, y, z] = [pts[3 * i]!, pts[3 * i + 1]!, pts[3 * i + 2]!];
        if (!Number.isFinite(x) || !Number.isFinite(y) || !Number.isFinite(z)) throw new InvariantError(`point ${i} is (${x}, ${y}, ${z})`);
        centroid[0]! += x / P;
        centroid[1]! += y / P;
        centroid[2]! += z / P;
        radius = Math.max(radius, Math.hypot(x, y, z));
      }
      if (radius > 1 + 1e-5 || centroid.some((c) => Math.abs(c) > 1e-4)) throw new InvariantError(`a cloud of radius ${radius} centred at (${centroid.join(', ')})`);
      if (!cloud.note?.trim() && cloud.totalPoints !== P) throw new InvariantError('no note says how the file came to P points');
      return undefined;
    },
    errors: [PointCloudError],
    // Meshes are held whole (their vertices and triangles as f32/u32 arrays that grow by doubling: a few
    // times the file), scans keep 8·P points; plus the file itself, the text decoder's copies and a line's
    // words (an OBJ face of 200,000 corners in 420 kB measured 4.6–30 MB, as the collector ran or not).
    budget: (v) => 16 * MB + 64 * v.byteLength,
  };
}

const BIG = '9007199254740992'; // 2^53
const NUMBER_TOKENS = ['nan', 'NaN', 'inf', '-inf', 'Infinity', '1e309', '-1e309', '0', '-1', '4294967295'];

export const plyReader = pointReader(
  'PLY (ASCII, binary)',
  'fuzz.ply',
  ['ply', 'format', 'ascii', 'binary_little_endian', 'binary_big_endian', 'element', 'vertex', 'face', 'property', 'list', 'uchar', 'int', 'uint', 'float', 'double', 'end_header', 'x', 'y', 'z', ...NUMBER_TOKENS],
  () => {
    const a = shape(1, 120);
    const b = shape(2, 300);
    const c = shape(3, 40);
    return [
      { name: 'ASCII PLY, 120 points', value: text(asciiPly(a.points)) },
      { name: 'ASCII PLY with an extra property and faces', value: text(asciiPly(c.points, { extraProperty: true, faces: c.triangles })) },
      { name: 'binary PLY, 300 points', value: binaryPly(b.points) },
      { name: 'binary PLY mesh', value: binaryPly(c.points, { faces: c.triangles }) },
    ];
  },
  () => {
    const a = shape(4, 30).points;
    const t = shape(5, 8);
    return [
      { name: 'ASCII: a vertex count of 2^53', value: text(asciiPly(a, { declared: 2 ** 53 })) },
      { name: 'ASCII: a vertex count of 1e309', value: text(asciiPly(a).replace('element vertex 30', 'element vertex 1e309')) },
      { name: 'ASCII: a vertex count of −1', value: text(asciiPly(a).replace('element vertex 30', 'element vertex -1')) },
      { name: 'binary: a vertex count of 2^53', value: ((b) => text(new TextDecoder('latin1').decode(b).replace('element vertex 30', `element vertex ${BIG}`)))(binaryPly(a)) },
      { name: 'binary: 2^32 − 1 faces declared', value: text(asciiPly(t.points, { faces: t.triangles }).replace(`element face ${t.triangles.length}`, 'element face 4294967295')) },
      { name: 'ASCII: a face naming vertex 2^31', value: text(asciiPly(t.points, { faces: [[0, 1, 2 ** 31]] })) },
      { name: 'ASCII: a face naming vertex −1', value: text(asciiPly(t.points, { faces: [[0, 1, -1]] })) },
      { name: 'binary: a face naming a vertex past the end', value: binaryPly(t.points, { faces: [[0, 1, 4000000000]] }) },
      { name: 'ASCII: NaN coordinates', value: text(asciiPly([[0, 0, 0], [Number.NaN, 1, 2], [1, 1, 1]])) },
      { name: 'ASCII: infinite coordinates', value: text(asciiPly([[0, 0, 0], [1, Infinity, 2], [1, 1, 1]])) },
      { name: 'binary: NaN bits', value: binaryPly([[0, 0, 0], [Number.NaN, 0, 0], [1, 2, 3]]) },
      { name: 'binary: coordinates of 3e38 (the sum overflows f32)', value: binaryPly([[3e38, 3e38, 3e38], [-3e38, -3e38, -3e38], [3e38, -3e38, 0]]) },
      { name: 'binary big-endian', value: binaryPly(a, { format: 'binary_big_endian' }) },
      { name: 'a list whose count type is float', value: text(asciiPly(t.points, { faces: t.triangles }).replace('property list uchar int', 'property list float int')) },
      { name: 'a property of an unknown type', value: text(asciiPly(a).replace('property float y', 'property quaternion y')) },
      { name: 'no end_header, a megabyte of comments', value: text(`ply\nformat ascii 1.0\n${'comment x\n'.repeat(100_000)}`) },
      { name: 'a header line of one megabyte', value: text(`ply\nformat ascii 1.0\ncomment ${'x'.repeat(MB)}\nelement vertex 1\nproperty float x\nproperty float y\nproperty float z\nend_header\n1 2 3\n`) },
      { name: 'all points the same', value: text(asciiPly(Array.from({ length: 50 }, () => [1, 2, 3]))) },
      { name: 'no vertex element', value: text('ply\nformat ascii 1.0\nelement face 1\nproperty list uchar int vertex_indices\nend_header\n3 0 1 2\n') },
      { name: 'vertex without x y z', value: text('ply\nformat ascii 1.0\nelement vertex 2\nproperty float a\nproperty float b\nend_header\n1 2\n3 4\n') },
    ];
  },
);

export const objReader = pointReader(
  'OBJ',
  'fuzz.obj',
  ['v ', 'f ', 'vn', 'vt', '/', '//', ' -1', '\n', ...NUMBER_TOKENS],
  () => {
    const a = shape(6, 80);
    const b = shape(7, 30);
    return [
      { name: 'OBJ triangles', value: text(objText(a.points, a.triangles.map((t) => t.map((i) => i + 1).join(' ')))) },
      { name: 'OBJ with v/vt/vn faces and quads', value: text(objText(b.points, b.triangles.slice(0, -1).map((t) => `${t[0]! + 1}/1/1 ${t[1]! + 1}/1/1 ${t[2]! + 1}/1/1 ${t[2]! + 2}/1/1`))) },
      { name: 'OBJ with relative (negative) indices', value: text(objText(b.points, ['-1 -2 -3', '-4 -5 -6', '1 2 3'])) },
    ];
  },
  () => {
    const t = shape(8, 10).points;
    const fan = Array.from({ length: 200_000 }, (_, i) => 1 + (i % 10)).join(' ');
    return [
      { name: 'a face naming vertex 2^53', value: text(objText(t, [`1 2 ${BIG}`])) },
      { name: 'a face naming vertex 0', value: text(objText(t, ['0 1 2'])) },
      { name: 'a relative index before the first vertex', value: text(objText(t, ['-1 -2 -11'])) },
      { name: 'a face of 200,000 corners (a fan of triangles)', value: text(objText(t, [fan])) },
      { name: 'a NaN vertex', value: text(objText([[0, 0, 0], [Number.NaN, 0, 1], [1, 1, 1]], ['1 2 3'])) },
      { name: 'a vertex of 1e309', value: text(objText([[0, 0, 0], ['1e309' as unknown as number, 0, 1], [1, 1, 1]], ['1 2 3'])) },
      { name: 'vertices and no faces', value: text(objText(t, [])) },
      { name: 'faces of zero area only', value: text(objText([[0, 0, 0], [1, 1, 1], [2, 2, 2]], ['1 2 3', '1 1 1'])) },
      { name: 'a vertex with two numbers', value: text('v 1 2\nv 3 4 5\nv 6 7 8\nf 1 2 3\n') },
      { name: 'only normals and texture coordinates', value: text('vn 0 0 1\nvt 0 0\nvn 1 0 0\n') },
      { name: 'a binary file named .obj', value: Uint8Array.from({ length: 4096 }, (_, i) => (i * 131) % 256) },
    ];
  },
);

export const offReader = pointReader(
  'OFF',
  'fuzz.off',
  ['OFF', 'COFF', 'NOFF', '4OFF', '#', '\n', ' 3 ', ...NUMBER_TOKENS],
  () => {
    const a = shape(9, 60);
    const b = shape(10, 25);
    return [
      { name: 'OFF mesh', value: text(offText(a.points, a.triangles)) },
      { name: 'OFF with counts on the magic line', value: text(offText(b.points, b.triangles, { countsOnMagicLine: true })) },
      { name: 'OFF without faces (a point set)', value: text(offText(a.points, [])) },
    ];
  },
  () => {
    const t = shape(11, 10);
    return [
      { name: 'counts of 2^53 vertices and faces', value: text(offText(t.points, t.triangles).replace(`10 ${t.triangles.length} 0`, `${BIG} ${BIG} 0`)) },
      { name: 'more vertices declared than lines', value: text(offText(t.points, t.triangles).replace(`10 ${t.triangles.length} 0`, `1000 ${t.triangles.length} 0`)) },
      { name: 'more faces declared than lines', value: text(offText(t.points, t.triangles, { declaredFaces: 1_000_000 })) },
      { name: 'a face of 2^31 corners', value: text(offText(t.points, [[0, 1, 2]]).replace(/\n3 0 1 2\n$/, '\n2147483648 0 1 2\n')) },
      { name: 'a face naming a missing vertex', value: text(offText(t.points, [[0, 1, 99]])) },
      { name: 'a face naming vertex −1', value: text(offText(t.points, [[0, 1, -1]])) },
      { name: 'a NaN vertex', value: text(offText([[0, 0, 0], [Number.NaN, 1, 1], [1, 0, 1]], [[0, 1, 2]])) },
      { name: 'an infinite vertex', value: text(offText([[0, 0, 0], [-Infinity, 1, 1], [1, 0, 1]], [[0, 1, 2]])) },
      { name: 'negative counts', value: text('OFF\n-3 -1 0\n0 0 0\n') },
      { name: 'counts that are not numbers', value: text('OFF\nmany few none\n0 0 0\n') },
      { name: 'magic only', value: text('OFF\n') },
    ];
  },
);

export const xyzReader = pointReader(
  'XYZ, TXT, PTS',
  'fuzz.xyz',
  [' ', ',', '\t', '\n', '#', '//', 'x y z', ...NUMBER_TOKENS],
  () => {
    const a = shape(12, 150).points;
    const b = shape(13, 700).points;
    return [
      { name: 'XYZ, spaces', value: text(xyzLines(a)) },
      { name: 'CSV with a header row and extra columns', value: text(`x,y,z,intensity\n${xyzLines(a.map((p) => [...p, 0.5]), ',')}`) },
      { name: 'PTS with its count line, 700 points', value: text(ptsText(b)) },
    ];
  },
  () => {
    const a = shape(14, 20).points;
    return [
      { name: 'a PTS count of 2^53', value: text(`${BIG}\n${xyzLines(a)}`) },
      { name: 'NaN coordinates', value: text(`0 0 0\nnan 1 2\n1 1 1\n`) },
      { name: 'infinite coordinates', value: text(`0 0 0\n1 inf 2\n1 1 1\n`) },
      { name: 'numbers beyond f64 (1e309)', value: text(`0 0 0\n1e309 1 2\n1 1 1\n`) },
      { name: 'one line of four megabytes, no newline', value: text('1 '.repeat(2 * MB)) },
      { name: 'comments only', value: text('# nothing\n// nothing either\n') },
      { name: 'lines of two numbers', value: text('1 2\n3 4\n5 6\n') },
      { name: 'NUL bytes', value: new Uint8Array(5000) },
      { name: 'a hundred thousand blank lines', value: text('\n'.repeat(100_000)) },
      { name: 'values of 1e38 (their sum overflows f32)', value: text('3e38 3e38 3e38\n-3e38 -3e38 -3e38\n3e38 0 -3e38\n') },
    ];
  },
);

/** A NumPy v1 header dict followed by `floats` little-endian f32 values. */
const npy = (dict: string, floats: number): Uint8Array<ArrayBuffer> => npyWithHeader(dict, new Uint8Array(4 * floats).map((_, i) => (i % 4 === 3 ? 0x3f : 0x80 + i)));

export const npyReader = pointReader(
  'NPY',
  'fuzz.npy',
  ["'descr'", "'<f4'", "'<f2'", "'<f8'", "'>f4'", "'<i8'", "'|O'", 'True', 'False', "'shape'", "'fortran_order'", '(', ')', ',', '\x93NUMPY'],
  () => {
    const a = shape(15, 90).points;
    return [...sampleClouds(), { name: 'float32 [90, 3]', value: npyBytes(a) }, { name: 'float32 [90, 4]', value: npyBytes(a.map((p) => [...p, 1])) }];
  },
  () => [
    { name: 'shape (2^53 + 1, 3) over 36 bytes', value: npy("{'descr': '<f4', 'fortran_order': False, 'shape': (9007199254740993, 3), }", 9) },
    { name: 'shape (2^40, 3) over 36 bytes', value: npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1099511627776, 3), }", 9) },
    { name: 'shape (3, 2^40) Fortran order', value: npy("{'descr': '<f4', 'fortran_order': True, 'shape': (3, 1099511627776), }", 9) },
    { name: 'shape (N, 3) whose product overflows 2^53', value: npy("{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296), }", 9) },
    { name: 'a negative dimension', value: npy("{'descr': '<f4', 'fortran_order': False, 'shape': (-3, 3), }", 9) },
    { name: 'a scalar', value: npy("{'descr': '<f4', 'fortran_order': False, 'shape': (), }", 1) },
    { name: 'a one-dimensional array', value: npy("{'descr': '<f4', 'fortran_order': False, 'shape': (9,), }", 9) },
    { name: 'four dimensions', value: npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, 3, 3), }", 9) },
    { name: 'int64 values', value: npy("{'descr': '<i8', 'fortran_order': False, 'shape': (3, 3), }", 18) },
    { name: 'Python objects', value: npy("{'descr': '|O', 'fortran_order': False, 'shape': (3, 3), }", 9) },
    { name: 'big-endian floats', value: npy("{'descr': '>f4', 'fortran_order': False, 'shape': (3, 3), }", 9) },
    { name: 'a structured dtype', value: npy("{'descr': [('x', '<f4'), ('y', '<f4'), ('z', '<f4')], 'fortran_order': False, 'shape': (3,), }", 9) },
    { name: 'a header length past the end', value: ((b) => (new DataView(b.buffer).setUint16(8, 65535, true), b))(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 3), }", 9)) },
    { name: 'version 3 with a 4 GB header length', value: ((b) => (b[6] = 3, new DataView(b.buffer).setUint32(8, 0xffffffff, true), b))(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 3), }", 9)) },
    { name: 'version 9', value: ((b) => ((b[6] = 9), b))(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 3), }", 9)) },
    { name: 'NaN values', value: npyBytes([[0, 0, 0], [Number.NaN, 1, 1], [1, 1, 0]]) },
    { name: 'infinite float16 values', value: npyBytes([[0, 0, 0], [70000, 1, 1], [1, 1, 0]], 'f2') },
    { name: 'a header with the keys twice', value: npy("{'descr': '<f4', 'shape': (2, 3), 'fortran_order': False, 'shape': (3, 3), 'descr': '<f2'}", 9) },
    { name: 'magic only', value: Uint8Array.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]) },
  ],
);

export const POINT_READERS: FuzzReader[] = [plyReader, objReader, offReader, xyzReader, npyReader];
