// A triangle mesh collected from a file (OBJ, OFF), then sampled to points on its surface: each sample picks
// a triangle with probability proportional to its area and a uniform point inside it (seeded), so a mesh
// becomes a cloud that covers its surface evenly whatever its tessellation. Meshes are held whole (a face may
// name any vertex), up to a limit.
import { Rng } from '../../train/rng';
import { PointCloudError, type RawCloud } from './cloud';

/** Vertices and triangles a mesh may have (a few hundred MB of arrays at most). */
const MAX_MESH_VERTICES = 10_000_000;
const MAX_MESH_TRIANGLES = 20_000_000;

export class MeshBuilder {
  vertexCount = 0;
  triangleCount = 0;
  private vertices = new Float32Array(3 * 1024);
  private triangles = new Uint32Array(3 * 1024);

  constructor(private readonly file: string) {}

  addVertex(x: number, y: number, z: number): void {
    if (this.vertexCount >= MAX_MESH_VERTICES) {
      throw new PointCloudError(`${this.file} has more than ${MAX_MESH_VERTICES.toLocaleString('en-US')} vertices, more than a mesh here may have. Simplify it or export its points as a PLY file.`);
    }
    if (this.vertexCount * 3 >= this.vertices.length) this.vertices = grow(this.vertices);
    const at = this.vertexCount * 3;
    this.vertices[at] = x;
    this.vertices[at + 1] = y;
    this.vertices[at + 2] = z;
    this.vertexCount++;
  }

  /** A polygon of 0-based vertex indices (checked later, in `sample`), cut into a fan of triangles. */
  addPolygon(indices: readonly number[]): void {
    for (let k = 1; k + 1 < indices.length; k++) {
      if (this.triangleCount >= MAX_MESH_TRIANGLES) {
        throw new PointCloudError(`${this.file} has more than ${MAX_MESH_TRIANGLES.toLocaleString('en-US')} triangles, more than a mesh here may have. Simplify it or export its points as a PLY file.`);
      }
      if (this.triangleCount * 3 >= this.triangles.length) this.triangles = grow(this.triangles);
      const at = this.triangleCount * 3;
      this.triangles[at] = indices[0]!;
      this.triangles[at + 1] = indices[k]!;
      this.triangles[at + 2] = indices[k + 1]!;
      this.triangleCount++;
    }
  }

  /** The mesh's vertices as a cloud (for files that have vertices but legitimately no faces). */
  vertexCloud(): Float32Array<ArrayBuffer> {
    return this.vertices.slice(0, this.vertexCount * 3);
  }

  /** `count` points on the surface, area weighted, from `seed`. */
  sample(count: number, seed: number): RawCloud {
    const v = this.vertices;
    const t = this.triangles;
    const cumulative = new Float64Array(this.triangleCount);
    let total = 0;
    for (let i = 0; i < this.triangleCount; i++) {
      const a = t[i * 3]! * 3;
      const b = t[i * 3 + 1]! * 3;
      const c = t[i * 3 + 2]! * 3;
      const ux = v[b]! - v[a]!, uy = v[b + 1]! - v[a + 1]!, uz = v[b + 2]! - v[a + 2]!;
      const wx = v[c]! - v[a]!, wy = v[c + 1]! - v[a + 1]!, wz = v[c + 2]! - v[a + 2]!;
      const cx = uy * wz - uz * wy, cy = uz * wx - ux * wz, cz = ux * wy - uy * wx;
      total += 0.5 * Math.sqrt(cx * cx + cy * cy + cz * cz);
      cumulative[i] = total;
    }
    if (!(total > 0)) {
      throw new PointCloudError(`${this.file} is a mesh whose faces all have zero area (every face is a line or a point), so there is no surface to sample. Export the mesh again or its points as a PLY file.`);
    }
    const rng = new Rng(seed);
    const out = new Float32Array(count * 3);
    for (let s = 0; s < count; s++) {
      const target = rng.next() * total;
      let lo = 0;
      let hi = this.triangleCount - 1;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (cumulative[mid]! > target) hi = mid;
        else lo = mid + 1;
      }
      // Uniform in the triangle: p = (1 − √r1)·A + √r1·(1 − r2)·B + √r1·r2·C.
      const r1 = Math.sqrt(rng.next());
      const r2 = rng.next();
      const wa = 1 - r1, wb = r1 * (1 - r2), wc = r1 * r2;
      const a = t[lo * 3]! * 3, b = t[lo * 3 + 1]! * 3, c = t[lo * 3 + 2]! * 3;
      for (let k = 0; k < 3; k++) out[s * 3 + k] = wa * v[a + k]! + wb * v[b + k]! + wc * v[c + k]!;
    }
    return { points: out, count, totalPoints: count, origin: 'mesh', subsampled: false };
  }

  /** Every triangle's vertex indices lie below the vertex count; else a sentence naming the first that does not. */
  checkIndices(): void {
    for (let i = 0; i < this.triangleCount * 3; i++) {
      if (this.triangles[i]! >= this.vertexCount) {
        throw new PointCloudError(`${this.file} has a face that uses vertex ${this.triangles[i]! + 1}, but only ${this.vertexCount.toLocaleString('en-US')} vertices are defined: the mesh is corrupt. Export it again.`);
      }
    }
  }
}

function grow<T extends Float32Array<ArrayBuffer> | Uint32Array<ArrayBuffer>>(array: T): T {
  const bigger = new (array.constructor as new (n: number) => T)(array.length * 2);
  bigger.set(array);
  return bigger;
}
