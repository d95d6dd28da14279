// A point project's cloud files: the stored 16-bit cloud written as .npy float32 and read back to the same
// integers — every one of the 65,535 values a stored coordinate can take, and a real sample cloud as the page
// stores it — while the page's point readers (as Add a folder uses them on an exported data set) read the same
// file as the cloud it is; files that are not stored clouds are refused as damaged, naming the file.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadPointCloud } from '../../src/data/points/load-cloud';
import { writeNpy } from '../../src/data/points/npy-write';
import { dequantizeCloud, QUANT_SCALE, quantizeCloud } from '../../src/data/points/quantize';
import { cloudFile, storedCloudOf } from '../../src/io/project-clouds';
import { ProjectError } from '../../src/io/project-file';
import { bytesSource } from '../../src/io/safetensors';

async function refusal(data: Uint8Array, path = 'clouds/cat/000000001.npy'): Promise<string> {
  try {
    await storedCloudOf(data, path);
  } catch (error) {
    expect(error).toBeInstanceOf(ProjectError);
    return (error as Error).message;
  }
  throw new Error('accepted');
}

describe('project cloud files', () => {
  it('give back every stored value exactly', async () => {
    // −32767 … 32767 and one repeat, as 21,845 points.
    const values = new Int16Array(65_535);
    for (let i = 0; i < values.length; i++) values[i] = i - QUANT_SCALE;
    const file = cloudFile(values.length / 3, values);
    expect(file.byteLength).toBe(128 + values.length * 4);
    const back = await storedCloudOf(file, 'clouds/all/000000001.npy');
    expect(back.count).toBe(values.length / 3);
    expect(Buffer.compare(Buffer.from(back.points.buffer), Buffer.from(values.buffer))).toBe(0);
  });

  it('carry a sample cloud as the page stores it, and the point readers read the same file as that cloud', async () => {
    const path = 'public/samples/points/armchair/blend-swap-cc-0-armchair.npy';
    const loaded = await loadPointCloud(bytesSource(new Uint8Array(readFileSync(path)), path), { points: 48, seed: 3 });
    const stored = quantizeCloud(loaded.points);
    const file = cloudFile(48, stored);
    const back = await storedCloudOf(file, 'clouds/armchair/000000001.npy');
    expect(back.count).toBe(48);
    expect(Array.from(back.points)).toEqual(Array.from(stored));
    // Added again as a point file (Export data set, then Add a folder): centred and scaled once more, the same cloud within a step.
    const readAgain = await loadPointCloud(bytesSource(file, 'armchair/000000001.npy'), { points: 48, seed: 0 });
    const expected = dequantizeCloud(stored);
    for (let i = 0; i < expected.length; i++) expect(Math.abs(readAgain.points[i]! - expected[i]!)).toBeLessThan(2e-3);
  });

  it('refuse what is not a stored cloud, naming the file', async () => {
    const good = cloudFile(2, new Int16Array([0, 1, 2, 3, 4, 5]));
    expect(await refusal(good.subarray(0, good.byteLength - 4))).toMatch(/^This project file is damaged: "clouds\/cat\/000000001\.npy" is truncated: its header promises 2 × 3 values \(152 bytes in all\) but the file has 148 bytes\. Open the original \.zip again/);
    expect(await refusal(writeNpy(new Float32Array([0, 0, 0, 1.5, 0, 0]), 2, 3))).toMatch(/clouds\/cat\/000000001\.npy has a coordinate \(1\.5\) outside −1 to 1/);
    expect(await refusal(writeNpy(new Float32Array([0, 0, 0, Number.NaN, 0, 0]), 2, 3))).toMatch(/not a finite number/);
    expect(await refusal(new TextEncoder().encode('x y z\n0 0 0\n1 1 1\n'))).toMatch(/is not a NumPy \.npy file/);
    // float16 coordinates (np.save of a half-precision cloud) still read: each is rounded to the 16-bit grid.
    const half = await storedCloudOf(writeNpy(new Float32Array([0.5, -0.25, 1, 0, 0, -1]), 2, 3, 'f2'), 'clouds/cat/000000002.npy');
    expect(Array.from(half.points)).toEqual([16384, -8192, 32767, 0, 0, -32767]);
  });
});
