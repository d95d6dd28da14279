// A point project's cloud files (src/io/project-file.ts): each stored cloud written as NumPy float32
// [count, 3] of its stored values (q / 32767: the cloud as the page normalised, resampled and quantised it),
// and read back to the same 16-bit integers. Float32 rather than the 16-bit integers themselves: np.load,
// the companion, the command line's folder loader and the page's own point readers all read it as
// coordinates, and (q / 32767 in float32) · 32767 lies within 0.002 of q, so rounding gives q back exactly
// (tests/unit/project-clouds.test.ts checks every q). Browser-safe; Open project reads each
// file with the point readers' NumPy reader (src/data/points/npy.ts), never normalising or resampling again.
import { PointCloudError } from '../data/points/cloud';
import { readNpy } from '../data/points/npy';
import { writeNpy } from '../data/points/npy-write';
import { dequantizeCloud, quantizeCloud } from '../data/points/quantize';
import { MAX_PROJECT_CLOUD_POINTS, projectDamaged } from './project-file';
import { bytesSource } from './safetensors';

/** A stored cloud (16-bit, `count` points) as the .npy file a project holds. */
export function cloudFile(count: number, points: Int16Array): Uint8Array<ArrayBuffer> {
  return writeNpy(dequantizeCloud(points), count, 3);
}

/** How far past ±1 a coordinate may lie and still be a stored cloud's (float32 rounding of ±32767/32767). */
const EDGE = 1 + 1e-6;

/**
 * The stored cloud a project's .npy file holds, exactly as the page stored it. Refuses (a ProjectError
 * sentence naming `path`) a file the NumPy reader refuses, one over MAX_PROJECT_CLOUD_POINTS points and one
 * whose coordinates lie outside [−1, 1] (not a normalised cloud: not saved by Save project).
 */
export async function storedCloudOf(data: Uint8Array, path: string): Promise<{ count: number; points: Int16Array<ArrayBuffer> }> {
  let read;
  try {
    read = await readNpy(bytesSource(data, path), { maxPoints: MAX_PROJECT_CLOUD_POINTS, seed: 0 });
  } catch (error) {
    // The reader's first sentence says what is wrong; its advice is for files a user adds, not a project's.
    if (error instanceof PointCloudError) throw projectDamaged(error.message.split(/\.\s+(?=[A-Z])/)[0]!.replace(/\.$/, ''));
    throw error;
  }
  if (read.subsampled) throw projectDamaged(`${path} holds ${read.totalPoints.toLocaleString('en-US')} points, more than a project's cloud can (${MAX_PROJECT_CLOUD_POINTS.toLocaleString('en-US')})`);
  for (let i = 0; i < read.points.length; i++) {
    if (Math.abs(read.points[i]!) > EDGE) {
      throw projectDamaged(`${path} has a coordinate (${read.points[i]}) outside −1 to 1, so it is not a cloud the page stored (those are centred and scaled into the unit sphere)`);
    }
  }
  return { count: read.count, points: quantizeCloud(read.points) };
}
