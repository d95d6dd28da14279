// What every point-file reader returns, and the one error type a reader throws: a sentence saying what is
// wrong with the file and what to do, so a folder loader can skip the file, list the reason and keep the rest.

export class PointCloudError extends Error {
  override name = 'PointCloudError';
}

/** A cloud as read from a file: at most `maxPoints` points, not yet normalised or brought to P. */
export interface RawCloud {
  /** [count, 3] x y z. */
  points: Float32Array<ArrayBuffer>;
  count: number;
  /** Points in the file (a scan), or the points sampled on a mesh's faces. */
  totalPoints: number;
  /** 'points': the file's own points; 'mesh': points sampled on its faces, area weighted. */
  origin: 'points' | 'mesh';
  /** True when the file held more than `maxPoints` points and a seeded uniform subset was kept while reading. */
  subsampled: boolean;
}

export interface ReadOptions {
  /** Most points a reader keeps (a larger scan is subsampled while it streams; a mesh gets this many samples). */
  maxPoints: number;
  /** Seeds subsampling and surface sampling, so a file always gives the same cloud. */
  seed: number;
}

/** How messages name a file. */
export function fileLabel(name: string | undefined): string {
  return name ? `"${name}"` : 'The file';
}

/** The sentence for a point that is not three finite numbers. */
export function nonFiniteError(file: string, where: string, x: number, y: number, z: number, words?: readonly (string | undefined)[]): PointCloudError {
  const bad = [x, y, z].findIndex((v) => !Number.isFinite(v));
  const shown = words?.[bad] ?? String([x, y, z][bad]);
  return new PointCloudError(
    `${file} has a coordinate that is not a finite number (${shown}) at ${where}: point clouds need real x y z values. ` +
      'Remove or repair those points (for example, scanners write NaN where they saw nothing) and add the file again.',
  );
}

/** Words a text file may use for a non-finite value (Number() reads most of them as NaN, like any other word). */
const NON_FINITE_WORD = /^[+-]?(nan|inf(inity)?)$/i;

/**
 * x y z from three words of a text line. Throws the "not numbers" sentence for words that are not numbers,
 * and the non-finite sentence for NaN or infinity, naming `where` (e.g. "vertex 5 (line 7)").
 */
export function textXyz(words: readonly (string | undefined)[], file: string, where: string, line: string): [number, number, number] {
  const x = Number(words[0]);
  const y = Number(words[1]);
  const z = Number(words[2]);
  if (Number.isFinite(x) && Number.isFinite(y) && Number.isFinite(z)) return [x, y, z];
  // Number("") is 0, so missing words are caught here before they could pass as zeros.
  const notNumbers = words.length < 3 || words.slice(0, 3).some((w, i) => w === undefined || w === '' || (Number.isNaN([x, y, z][i]) && !NON_FINITE_WORD.test(w)));
  if (notNumbers) throw new PointCloudError(`${file}: ${where} is not three numbers x y z ("${line.trim().slice(0, 80)}"); the file is corrupt or not a point file.`);
  throw nonFiniteError(file, where, x, y, z, words);
}
