// Plain-text point lists (.xyz, .txt, .pts): one point per line, x y z first, separated by spaces, tabs or
// commas; further columns (normals, colour, intensity) are ignored. Blank lines and comments (# or //) are
// skipped, and so is a first line that is a column header ("x,y,z,…") or a point count (.pts). Points
// stream through a reservoir, so a scan of any size is read in bounded memory.
import type { ByteSource } from '../../io/safetensors';
import { byteChunks, lineBatches } from './chunks';
import { fileLabel, PointCloudError, textXyz, type RawCloud, type ReadOptions } from './cloud';
import { PointReservoir } from './reservoir';

const SEPARATORS = /[\s,;]+/;

export async function readXyz(source: ByteSource, opts: ReadOptions): Promise<RawCloud> {
  const file = fileLabel(source.name);
  const reservoir = new PointReservoir(opts.maxPoints, opts.seed);
  let lineNo = 0;
  let firstData = true;
  for await (const lines of lineBatches(byteChunks(source))) {
    for (const line of lines) {
      lineNo++;
      const text = line.trim();
      if (!text || text.startsWith('#') || text.startsWith('//')) continue;
      const words = text.split(SEPARATORS);
      if (firstData) {
        firstData = false;
        // A header row of names, or a .pts point count alone on the first line.
        if (/^[a-z_]/i.test(words[0]!) && !/^[+-]?(nan|inf)/i.test(words[0]!)) continue;
        if (words.length === 1 && /^\d+$/.test(words[0]!)) continue;
      }
      if (words.length < 3) {
        throw new PointCloudError(`${file}: line ${lineNo} has ${words.length} value${words.length === 1 ? '' : 's'} ("${text.slice(0, 80)}"); each line of a point file needs x y z.`);
      }
      const [x, y, z] = textXyz(words, file, `line ${lineNo}`, text);
      reservoir.add(x, y, z);
    }
  }
  if (reservoir.seen === 0) throw new PointCloudError(`${file} holds no points (no line with x y z): it is empty or not a point file.`);
  return { points: reservoir.points(), count: reservoir.count, totalPoints: reservoir.seen, origin: 'points', subsampled: reservoir.seen > reservoir.count };
}
