// Point-file readers on small files made here: every format reads back exactly what was written, meshes are
// sampled on their faces (area weighted, seeded), and every kind of bad input is refused with its sentence.
import { describe, expect, it } from 'vitest';
import { PointCloudError, type RawCloud } from '../../src/data/points/cloud';
import { readPointFile } from '../../src/data/points/read';
import { blobSource, bytesSource, type ByteSource } from '../../src/io/safetensors';
import { asciiPly, binaryPly, npyBytes, npyWithHeader, objText, offText, textSource, xyzLines } from '../helpers/point-files';

const opts = { maxPoints: 4096, seed: 3 };
/** Values that f32 holds exactly, so reads can be compared with toEqual. */
const POINTS = [
  [0.5, -1.25, 2],
  [3.75, 0, -0.125],
  [-7, 8.5, 1e-3],
  [100, -200.5, 0.25],
  [1 / 3, 2 / 3, -1 / 3],
];
const f32 = (points: readonly (readonly number[])[]): number[] => [...Float32Array.from(points.flat())];

async function read(source: ByteSource, options = opts): Promise<RawCloud> {
  return readPointFile(source, options);
}

async function refusal(source: ByteSource, options = opts): Promise<string> {
  const error = await read(source, options).then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(PointCloudError);
  return (error as Error).message;
}

describe('PLY', () => {
  it('reads ASCII vertices, ignoring other properties and the faces', async () => {
    const cloud = await read(textSource(asciiPly(POINTS, { extraProperty: true, faces: [[0, 1, 2], [2, 3, 4, 0]] }), 'a.ply'));
    expect(cloud).toMatchObject({ count: 5, totalPoints: 5, origin: 'points', subsampled: false });
    expect([...cloud.points]).toEqual(f32(POINTS));
  });

  it('reads binary little-endian vertices of mixed types (double, float) past list faces', async () => {
    const cloud = await read(bytesSource(binaryPly(POINTS, { faces: [[0, 1, 2], [1, 2, 3, 4]] }), 'b.ply'));
    expect([...cloud.points]).toEqual(f32(POINTS));
  });

  it('reads vertices that carry a list property, ASCII and binary', async () => {
    const head = (format: string): string => `ply\nformat ${format} 1.0\nelement vertex 2\nproperty float x\nproperty list uchar int tags\nproperty float y\nproperty float z\nend_header\n`;
    const ascii = `${head('ascii')}0.5 2 7 8 -1.25 2\n3.75 0 0 -0.125\n`;
    expect([...(await read(textSource(ascii, 'l.ply'))).points]).toEqual(f32(POINTS.slice(0, 2)));
    const headBytes = new TextEncoder().encode(head('binary_little_endian'));
    const body = new Uint8Array(4 + 1 + 8 + 8 + 4 + 1 + 8);
    const view = new DataView(body.buffer);
    view.setFloat32(0, 0.5, true);
    view.setUint8(4, 2);
    view.setInt32(5, 7, true);
    view.setInt32(9, 8, true);
    view.setFloat32(13, -1.25, true);
    view.setFloat32(17, 2, true);
    view.setFloat32(21, 3.75, true);
    view.setUint8(25, 0);
    view.setFloat32(26, 0, true);
    view.setFloat32(30, -0.125, true);
    const binary = new Uint8Array(headBytes.length + body.length);
    binary.set(headBytes);
    binary.set(body, headBytes.length);
    expect([...(await read(bytesSource(binary, 'l.ply'))).points]).toEqual(f32(POINTS.slice(0, 2)));
  });

  it('reads a binary PLY whose other element has fewer than three properties (found by fuzzing: a TypeError before)', async () => {
    const head = new TextEncoder().encode('ply\nformat binary_little_endian 1.0\nelement vertex 2\nproperty float x\nproperty float y\nproperty float z\nelement material 1\nproperty uchar id\nend_header\n');
    const bytes = new Uint8Array(head.length + 2 * 12 + 1);
    bytes.set(head);
    const view = new DataView(bytes.buffer, head.length);
    f32(POINTS.slice(0, 2)).forEach((v, i) => view.setFloat32(4 * i, v, true));
    view.setUint8(24, 9);
    expect([...(await read(bytesSource(bytes, 'm.ply'))).points]).toEqual(f32(POINTS.slice(0, 2)));
  });

  it('refuses a big-endian binary PLY, saying so', async () => {
    expect(await refusal(bytesSource(binaryPly(POINTS, { format: 'binary_big_endian' }), 'be.ply'))).toMatch(/"be.ply" is a big-endian binary PLY, which this app does not read.*little-endian or ASCII/);
  });

  it('refuses a body that disagrees with the header counts', async () => {
    expect(await refusal(textSource(asciiPly(POINTS, { declared: 7 }), 'short.ply'))).toMatch(/"short.ply" ends early: its PLY header declares 7 vertex elements, but the body stops after 5 vertex elements/);
    expect(await refusal(textSource(asciiPly(POINTS, { declared: 3 }), 'long.ply'))).toMatch(/more data than its PLY header declares \(3 vertex elements\)/);
    expect(await refusal(bytesSource(binaryPly(POINTS, { faces: [[0, 1, 2]], truncateBy: 5 }), 'cut.ply'))).toMatch(/"cut.ply" ends early.*stops inside face 1/);
    expect(await refusal(bytesSource(binaryPly(POINTS, { extraBytes: 9 }), 'tail.ply'))).toMatch(/"tail.ply" has 9 bytes after the data its PLY header declares/);
    expect(await refusal(textSource('ply\nformat ascii 1.0\nelement vertex 2\nproperty float x\nproperty float y\nproperty float z\n', 'nohead.ply'))).toMatch(/never ends/);
  });

  it('refuses vertices without x y z, and headers it cannot parse', async () => {
    expect(await refusal(textSource('ply\nformat ascii 1.0\nelement vertex 1\nproperty float u\nproperty float v\nend_header\n1 2\n', 'uv.ply'))).toMatch(/without x, y and z properties \(it has: u, v\)/);
    expect(await refusal(textSource('ply\nformat ascii 1.0\nelement vertex 1\nproperty half x\nend_header\n1\n', 'half.ply'))).toMatch(/unknown type "half"/);
    expect(await refusal(textSource(asciiPly([]), 'none.ply'))).toMatch(/no vertices/);
  });
});

describe('OBJ', () => {
  const square = [[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0]];

  it('samples points on the faces, seeded (quads fanned, v/vt/vn and negative references resolved)', async () => {
    const text = objText(square, ['1/1/1 2/1/1 3/1/1 -1/1/1', '1 3']); // and an edge written as a face
    const a = await read(textSource(text, 'sq.obj'));
    expect(a).toMatchObject({ count: 4096, origin: 'mesh' });
    for (let i = 0; i < a.count; i++) {
      const [x, y, z] = [a.points[i * 3]!, a.points[i * 3 + 1]!, a.points[i * 3 + 2]!];
      expect(x >= 0 && x <= 1 && y >= 0 && y <= 1 && z === 0).toBe(true);
    }
    const again = await read(textSource(text, 'sq.obj'));
    expect(again.points).toEqual(a.points);
    const other = await read(textSource(text, 'sq.obj'), { ...opts, seed: 4 });
    expect(other.points).not.toEqual(a.points);
    // Uniform over the square: each quarter gets a quarter of the points.
    const quarter = [0, 0, 0, 0];
    for (let i = 0; i < a.count; i++) quarter[(a.points[i * 3]! < 0.5 ? 0 : 1) + (a.points[i * 3 + 1]! < 0.5 ? 0 : 2)]!++;
    for (const q of quarter) expect(Math.abs(q / a.count - 0.25)).toBeLessThan(0.03);
  });

  it('weights triangles by area', async () => {
    // Triangle A (area 0.5) in z = 0, triangle B (area 1.5) in z = 1.
    const vertices = [[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1], [3, 0, 1], [0, 1, 1]];
    const cloud = await read(textSource(objText(vertices, ['1 2 3', '4 5 6']), 'two.obj'));
    let onB = 0;
    for (let i = 0; i < cloud.count; i++) onB += cloud.points[i * 3 + 2]! === 1 ? 1 : 0;
    expect(Math.abs(onB / cloud.count - 0.75)).toBeLessThan(0.03);
  });

  it('refuses a mesh without faces, a face naming a vertex that does not exist, and degenerate faces', async () => {
    expect(await refusal(textSource(objText(square, []), 'nofaces.obj'))).toMatch(/"nofaces.obj" is a mesh without faces \(4 vertices and no "f" line with three or more vertices\).*Export the mesh with its faces/);
    expect(await refusal(textSource(objText(square, ['1 2', '2 3']), 'edges.obj'))).toMatch(/"edges.obj" is a mesh without faces/);
    expect(await refusal(textSource(objText(square, ['1 2 9']), 'bad.obj'))).toMatch(/uses vertex 9, but only 4 vertices are defined/);
    expect(await refusal(textSource(objText(square, ['1 x 2']), 'word.obj'))).toMatch(/vertex reference "x"/);
    expect(await refusal(textSource(objText([[0, 0, 0], [1, 1, 1], [2, 2, 2]], ['1 2 3']), 'line.obj'))).toMatch(/zero area/);
  });
});

describe('OFF', () => {
  const tetra = [[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]];
  const faces = [[0, 2, 1], [0, 1, 3], [0, 3, 2], [1, 2, 3]];

  it('samples a mesh on its faces, also with the counts on the "OFF" line (as in ModelNet)', async () => {
    const a = await read(textSource(offText(tetra, faces), 't.off'));
    const b = await read(textSource(offText(tetra, faces, { countsOnMagicLine: true }), 't.off'));
    expect(a).toMatchObject({ count: 4096, origin: 'mesh' });
    expect(b.points).toEqual(a.points);
    for (let i = 0; i < a.count; i++) {
      const [x, y, z] = [a.points[i * 3]!, a.points[i * 3 + 1]!, a.points[i * 3 + 2]!];
      // On the surface: on one of the three coordinate planes or on the plane x + y + z = 1.
      expect(Math.min(x, y, z) < 1e-6 || Math.abs(x + y + z - 1) < 1e-5).toBe(true);
    }
  });

  it('reads an OFF without faces as its vertices', async () => {
    const cloud = await read(textSource(offText(POINTS, []), 'p.off'));
    expect(cloud).toMatchObject({ count: 5, origin: 'points' });
    expect([...cloud.points]).toEqual(f32(POINTS));
  });

  it('refuses counts that disagree with the body', async () => {
    expect(await refusal(textSource(offText(tetra, faces, { declaredFaces: 6 }), 'short.off'))).toMatch(/ends early: its header declares 4 vertices and 6 faces, but it holds only 4 of 6 faces/);
    expect(await refusal(textSource(offText(tetra, faces, { declaredFaces: 3 }), 'long.off'))).toMatch(/more lines than its header counts/);
    expect(await refusal(textSource('COFF BINARY\n', 'bin.off'))).toMatch(/binary OFF/);
  });
});

describe('XYZ, TXT, PTS', () => {
  it('reads x y z per line, comma or space separated, extra columns, a header row, a .pts count and comments ignored', async () => {
    const withColumns = POINTS.map((p) => [...p, 0.5, 0.5, 255]);
    const csv = `x,y,z,nx,ny,nz,intensity\n${xyzLines(withColumns, ',')}`;
    expect([...(await read(textSource(csv, 'a.txt'))).points]).toEqual(f32(POINTS));
    const pts = `# scanner export\n${POINTS.length}\n\n${xyzLines(withColumns, '\t')}// end\n`;
    expect([...(await read(textSource(pts, 'a.pts'))).points]).toEqual(f32(POINTS));
    const crlf = xyzLines(POINTS).replace(/\n/g, '\r\n').trimEnd(); // Windows line ends, no final newline
    expect([...(await read(textSource(crlf, 'a.xyz'))).points]).toEqual(f32(POINTS));
  });

  it('refuses lines that are not points', async () => {
    expect(await refusal(textSource('1 2 3\n4 5\n', 'two.xyz'))).toMatch(/"two.xyz": line 2 has 2 values \("4 5"\); each line of a point file needs x y z/);
    expect(await refusal(textSource('1 2 3\n4 five 6\n', 'word.xyz'))).toMatch(/line 2 is not three numbers x y z/);
    expect(await refusal(textSource('# only a comment\n\n', 'blank.xyz'))).toMatch(/holds no points/);
  });
});

describe('NPY', () => {
  it('reads float32, float64 and float16 arrays of [N, 3+] and [1, N, C], x y z from the first columns', async () => {
    expect([...(await read(bytesSource(npyBytes(POINTS), 'a.npy'))).points]).toEqual(f32(POINTS));
    const wide = POINTS.map((p) => [...p, 9]);
    const f64 = new Float64Array(wide.flat());
    const asF64 = npyWithHeader(`{'descr': '<f8', 'fortran_order': False, 'shape': (1, 5, 4), }`, new Uint8Array(f64.buffer));
    expect([...(await read(bytesSource(asF64, 'b.npy'))).points]).toEqual(f32(POINTS));
    const halves = [[0.5, -1.25, 2], [0.125, 1024, -3]];
    expect([...(await read(bytesSource(npyBytes(halves, 'f2'), 'c.npy'))).points]).toEqual(f32(halves));
  });

  it('reads Fortran order (column after column)', async () => {
    const columns = new Float32Array([0, 1, 2].flatMap((axis) => POINTS.map((p) => p[axis]!)));
    const bytes = npyWithHeader(`{'descr': '<f4', 'fortran_order': True, 'shape': (5, 3), }`, new Uint8Array(columns.buffer));
    expect([...(await read(bytesSource(bytes, 'f.npy'))).points]).toEqual(f32(POINTS));
  });

  it('keeps a seeded subset of whole rows when there are more than maxPoints, in C and Fortran order', async () => {
    const n = 5000;
    const rows = Array.from({ length: n }, (_, i) => [i, 2 * i, -i]);
    const columns = new Float32Array([0, 1, 2].flatMap((axis) => rows.map((p) => p[axis]!)));
    const fortran = npyWithHeader(`{'descr': '<f4', 'fortran_order': True, 'shape': (${n}, 3), }`, new Uint8Array(columns.buffer));
    for (const [name, bytes] of [['c.npy', npyBytes(rows)], ['f.npy', fortran]] as const) {
      const cloud = await read(bytesSource(bytes, name), { maxPoints: 300, seed: 9 });
      expect(cloud).toMatchObject({ count: 300, totalPoints: n, subsampled: true });
      const seen = new Set<number>();
      for (let k = 0; k < cloud.count; k++) {
        const i = cloud.points[k * 3]!;
        expect([cloud.points[k * 3 + 1], cloud.points[k * 3 + 2]]).toEqual([2 * i, i === 0 ? 0 : -i]);
        seen.add(i);
      }
      expect(seen.size).toBe(300);
      // Spread over the whole file, not its start.
      expect(Math.max(...seen)).toBeGreaterThan(n * 0.9);
      expect(Math.min(...seen)).toBeLessThan(n * 0.1);
    }
  });

  it('refuses big-endian, non-float, wrongly shaped and truncated arrays', async () => {
    const data = new Uint8Array(60);
    expect(await refusal(bytesSource(npyWithHeader(`{'descr': '>f4', 'fortran_order': False, 'shape': (5, 3), }`, data), 'be.npy'))).toMatch(/big-endian floats \(>f4\)/);
    expect(await refusal(bytesSource(npyWithHeader(`{'descr': '<i4', 'fortran_order': False, 'shape': (5, 3), }`, data), 'int.npy'))).toMatch(/NumPy type <i4; point files need float32, float64 or float16/);
    expect(await refusal(bytesSource(npyWithHeader(`{'descr': '<f4', 'fortran_order': False, 'shape': (15,), }`, data), 'flat.npy'))).toMatch(/shape \(15\); a point file needs shape \(N, 3\)/);
    expect(await refusal(bytesSource(npyWithHeader(`{'descr': '<f4', 'fortran_order': False, 'shape': (6, 3), }`, data), 'cut.npy'))).toMatch(/truncated: its header promises 6 × 3 values/);
  });
});

describe('bad input in any format', () => {
  it('refuses NaN and infinite coordinates, naming where', async () => {
    const withNan = [...POINTS.slice(0, 2), [1, NaN, 2], ...POINTS.slice(2)];
    const withInf = [...POINTS.slice(0, 3), [Infinity, 0, 0]];
    const cases: [ByteSource, RegExp][] = [
      [textSource(asciiPly(withNan), 'a.ply'), /"a.ply" has a coordinate that is not a finite number \(NaN\) at vertex 3 \(body line 3\)/],
      [bytesSource(binaryPly(withInf), 'b.ply'), /"b.ply" has a coordinate that is not a finite number \(Infinity\) at vertex 4/],
      [textSource(xyzLines(withInf).replace('Infinity', 'inf'), 'c.xyz'), /"c.xyz" has a coordinate that is not a finite number \(inf\) at line 4/],
      [textSource(objText(withNan, ['1 2 3']), 'd.obj'), /not a finite number \(NaN\) at vertex 3 \(line 6\)/],
      [bytesSource(npyBytes(withNan), 'e.npy'), /not a finite number \(NaN\) at row 2/],
      [textSource(offText(withInf, []), 'f.off'), /not a finite number \(Infinity\) at vertex 4 of 4/],
    ];
    for (const [source, message] of cases) expect(await refusal(source)).toMatch(message);
  });

  it('refuses an empty file and an unknown kind of file', async () => {
    expect(await refusal(bytesSource(new Uint8Array(0), 'empty.ply'))).toBe('"empty.ply" is empty (0 bytes): there are no points in it.');
    expect(await refusal(textSource('hello', 'notes.md'))).toMatch(/"notes.md" is not a point-cloud file this app reads: use \.ply, \.obj, \.off, \.xyz, \.txt, \.pts or \.npy/);
  });

  it('goes by content when the extension is wrong', async () => {
    expect([...(await read(bytesSource(binaryPly(POINTS), 'scan.xyz'))).points]).toEqual(f32(POINTS));
  });

  it('reads a browser Blob (as the worker gets files) and text with a byte order mark', async () => {
    expect([...(await read(blobSource(new Blob([binaryPly(POINTS)]), 'blob.ply'))).points]).toEqual(f32(POINTS));
    expect([...(await read(textSource(`\ufeff${xyzLines(POINTS)}`, 'bom.xyz'))).points]).toEqual(f32(POINTS));
  });
});
