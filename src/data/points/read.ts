// One entry point for every point-file format: the format comes from the file's first bytes when they are
// distinctive (PLY, NumPy, OFF), else from its extension; an empty file or an unknown extension gets a sentence.
import type { ByteSource } from '../../io/safetensors';
import { fileLabel, PointCloudError, type RawCloud, type ReadOptions } from './cloud';
import { NPY_MAGIC, readNpy } from './npy';
import { readObj } from './obj';
import { readOff } from './off';
import { readPly } from './ply';
import { readXyz } from './xyz';

export type PointFormat = 'ply' | 'obj' | 'off' | 'xyz' | 'npy';

/** File extensions read as point clouds, and their formats. */
export const POINT_FILE_EXTENSIONS: Readonly<Record<string, PointFormat>> = {
  '.ply': 'ply',
  '.obj': 'obj',
  '.off': 'off',
  '.xyz': 'xyz',
  '.txt': 'xyz',
  '.pts': 'xyz',
  '.npy': 'npy',
};

/** The format a file name's extension stands for, if it is a point-file extension. */
export function pointFormatOf(name: string): PointFormat | undefined {
  const dot = name.lastIndexOf('.');
  return dot < 0 ? undefined : POINT_FILE_EXTENSIONS[name.slice(dot).toLowerCase()];
}

function sniff(head: Uint8Array): PointFormat | undefined {
  const text = new TextDecoder('latin1').decode(head.subarray(0, 16));
  if (/^ply\r?\n/.test(text)) return 'ply';
  if (NPY_MAGIC.every((b, i) => head[i] === b)) return 'npy';
  if (/^\s*(ST)?C?N?4?OFF(\s|\d|$)/i.test(text)) return 'off';
  return undefined;
}

const READERS: Record<PointFormat, (source: ByteSource, opts: ReadOptions) => Promise<RawCloud>> = {
  ply: readPly,
  obj: readObj,
  off: readOff,
  xyz: readXyz,
  npy: readNpy,
};

/** Reads a point file (a scan's points, or points sampled on a mesh) in bounded memory. */
export async function readPointFile(source: ByteSource, opts: ReadOptions & { format?: PointFormat }): Promise<RawCloud> {
  const file = fileLabel(source.name);
  if (source.size === 0) throw new PointCloudError(`${file} is empty (0 bytes): there are no points in it.`);
  const format = sniff(await source.read(0, Math.min(16, source.size))) ?? opts.format ?? (source.name ? pointFormatOf(source.name) : undefined);
  if (!format) {
    throw new PointCloudError(`${file} is not a point-cloud file this app reads: use .ply, .obj, .off, .xyz, .txt, .pts or .npy.`);
  }
  return READERS[format](source, opts);
}
