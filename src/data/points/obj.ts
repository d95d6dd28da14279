// Wavefront OBJ meshes: `v x y z` vertices and `f` faces (indices 1-based, negative ones counted back from
// the latest vertex, each maybe with /texture/normal parts), sampled to points on the faces (mesh.ts);
// faces of one or two vertices (edges some exporters write as faces) have no surface and are passed over.
// Everything else (normals, texture coordinates, groups, materials, lines) is ignored. A file of vertices
// without faces is refused: it is a mesh with nothing to sample, and its vertices are not an even cover.
import type { ByteSource } from '../../io/safetensors';
import { byteChunks, lineBatches } from './chunks';
import { fileLabel, PointCloudError, textXyz, type RawCloud, type ReadOptions } from './cloud';
import { MeshBuilder } from './mesh';

export async function readObj(source: ByteSource, opts: ReadOptions): Promise<RawCloud> {
  const file = fileLabel(source.name);
  const mesh = new MeshBuilder(file);
  let lineNo = 0;
  const polygon: number[] = [];
  for await (const lines of lineBatches(byteChunks(source))) {
    for (const line of lines) {
      lineNo++;
      const c0 = line.charCodeAt(0);
      if (c0 !== 0x76 && c0 !== 0x66) continue; // only lines starting with "v" or "f" matter
      const words = line.trim().split(/\s+/);
      if (words[0] === 'v') {
        const [x, y, z] = textXyz(words.slice(1, 4), file, `vertex ${mesh.vertexCount + 1} (line ${lineNo})`, line);
        mesh.addVertex(x, y, z);
      } else if (words[0] === 'f') {
        polygon.length = 0;
        for (let k = 1; k < words.length; k++) {
          const ref = words[k]!;
          const slash = ref.indexOf('/');
          const index = Number(slash < 0 ? ref : ref.slice(0, slash));
          if (!Number.isInteger(index) || index === 0) {
            throw new PointCloudError(`${file}: line ${lineNo} ("${line.slice(0, 80)}") is a face with a vertex reference "${ref}" that is not a vertex number; the OBJ file is corrupt.`);
          }
          const resolved = index > 0 ? index - 1 : mesh.vertexCount + index;
          if (resolved < 0) throw new PointCloudError(`${file}: line ${lineNo} is a face that refers to vertex ${index}, before the first vertex; the OBJ file is corrupt.`);
          polygon.push(resolved);
        }
        // Some exporters write edges as two-vertex faces: they have no surface, so they add nothing.
        if (polygon.length >= 3) mesh.addPolygon(polygon);
      }
    }
  }
  if (mesh.vertexCount === 0) throw new PointCloudError(`${file} has no vertices: it is empty or not an OBJ mesh.`);
  if (mesh.triangleCount === 0) {
    throw new PointCloudError(`${file} is a mesh without faces (${mesh.vertexCount.toLocaleString('en-US')} vertices and no "f" line with three or more vertices), so it has no surface to sample points on. ` +
      'Export the mesh with its faces, or save its points as a .ply or .xyz file.');
  }
  mesh.checkIndices();
  return mesh.sample(opts.maxPoints, opts.seed);
}
