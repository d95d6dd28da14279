// Object File Format (OFF, as in ModelNet): a line "OFF" (or COFF/NOFF/CNOFF, whose extra vertex columns are
// ignored), a line "vertices faces edges", the vertices, then faces as "n i1 … in" (0-based). ModelNet's
// files sometimes run the counts onto the "OFF" line ("OFF490 518 0"); that is accepted. A mesh is sampled
// on its faces; an OFF with no faces is a point set and its vertices are the points. Binary OFF is refused.
import type { ByteSource } from '../../io/safetensors';
import { byteChunks, lineBatches } from './chunks';
import { fileLabel, PointCloudError, textXyz, type RawCloud, type ReadOptions } from './cloud';
import { MeshBuilder } from './mesh';
import { PointReservoir } from './reservoir';

export async function readOff(source: ByteSource, opts: ReadOptions): Promise<RawCloud> {
  const file = fileLabel(source.name);
  let lineNo = 0;
  type Stage = 'magic' | 'counts' | 'vertices' | 'faces' | 'done';
  let stage = 'magic' as Stage; // (a cast: readCounts changes it inside a closure, which narrowing cannot see)
  let vertexCount = 0;
  let faceCount = 0;
  let faces = 0;
  const mesh = new MeshBuilder(file);
  // A point set (no faces) streams through a reservoir; a mesh keeps every vertex for its faces.
  let reservoir: PointReservoir | undefined;
  const polygon: number[] = [];
  const readCounts = (words: string[]): void => {
    const [v, f] = [Number(words[0]), Number(words[1])];
    if (words.length < 2 || !Number.isSafeInteger(v) || !Number.isSafeInteger(f) || v < 0 || f < 0) {
      throw new PointCloudError(`${file}: line ${lineNo} should hold the vertex, face and edge counts of the OFF file; it holds "${words.join(' ').slice(0, 80)}".`);
    }
    vertexCount = v;
    faceCount = f;
    if (vertexCount === 0) throw new PointCloudError(`${file} is an OFF file with no vertices: there are no points to read.`);
    if (faceCount === 0) reservoir = new PointReservoir(opts.maxPoints, opts.seed);
    stage = 'vertices';
  };
  for await (const lines of lineBatches(byteChunks(source))) {
    for (const line of lines) {
      lineNo++;
      const hash = line.indexOf('#');
      const text = (hash >= 0 ? line.slice(0, hash) : line).trim();
      if (!text) continue;
      if (stage === 'magic') {
        const magic = /^(ST)?C?N?4?OFF/i.exec(text);
        if (!magic) throw new PointCloudError(`${file} is not an OFF file: its first line is "${text.slice(0, 40)}", not "OFF".`);
        const rest = text.slice(magic[0].length).trim();
        if (/^BINARY/i.test(rest)) throw new PointCloudError(`${file} is a binary OFF file, which this app does not read; save it as ASCII OFF, PLY or OBJ.`);
        stage = 'counts';
        if (rest) readCounts(rest.split(/\s+/));
        continue;
      }
      const words = text.split(/\s+/);
      if (stage === 'counts') {
        readCounts(words);
      } else if (stage === 'vertices') {
        const done = reservoir ? reservoir.seen : mesh.vertexCount;
        const [x, y, z] = textXyz(words, file, `vertex ${done + 1} of ${vertexCount} (line ${lineNo})`, text);
        if (reservoir) reservoir.add(x, y, z);
        else mesh.addVertex(x, y, z);
        if (done + 1 === vertexCount) stage = faceCount > 0 ? 'faces' : 'done';
      } else if (stage === 'faces') {
        const n = Number(words[0]);
        if (!Number.isInteger(n) || n < 3 || words.length < n + 1) {
          throw new PointCloudError(`${file}: line ${lineNo} should be face ${faces + 1} of ${faceCount} ("n i1 … in" with n ≥ 3) but holds "${text.slice(0, 80)}"; the OFF file is corrupt or its counts are wrong.`);
        }
        polygon.length = 0;
        for (let k = 1; k <= n; k++) {
          const index = Number(words[k]);
          if (!Number.isInteger(index) || index < 0) throw new PointCloudError(`${file}: face ${faces + 1} (line ${lineNo}) has a vertex index "${words[k]}" that is not a vertex number.`);
          polygon.push(index);
        }
        mesh.addPolygon(polygon);
        faces++;
        if (faces === faceCount) stage = 'done';
      } else {
        throw new PointCloudError(`${file} has more lines than its header counts (${vertexCount} vertices, ${faceCount} faces) declare, from line ${lineNo} on: the counts disagree with the body. Export it again.`);
      }
    }
  }
  if (stage === 'magic') throw new PointCloudError(`${file} is empty.`);
  if (stage !== 'done') {
    const got = stage === 'faces' ? `${faces} of ${faceCount} faces` : `${reservoir ? reservoir.seen : mesh.vertexCount} of ${vertexCount} vertices`;
    throw new PointCloudError(`${file} ends early: its header declares ${vertexCount} vertices and ${faceCount} faces, but it holds only ${got}. The file is truncated or its counts are wrong; export it again.`);
  }
  if (reservoir) {
    return { points: reservoir.points(), count: reservoir.count, totalPoints: reservoir.seen, origin: 'points', subsampled: reservoir.seen > reservoir.count };
  }
  mesh.checkIndices();
  return mesh.sample(opts.maxPoints, opts.seed);
}
