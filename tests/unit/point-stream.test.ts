// A 10-million-point scan is downsampled while it streams and never held whole: the files here are generated
// on each read (a header, then a repeating block), so only the reader can hold them, and a probe on every
// read forces a garbage collection and records the process's memory. A reader that kept the points, or the
// chunks, would grow by the file's size (120 MB binary); this one stays within a few chunks.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { readPointFile } from '../../src/data/points/read';
import { repeatingSource } from '../helpers/point-files';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const MB = 1024 * 1024;

function memoryNow(): number {
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

/** Calls `gc` every few reads and tracks the largest memory seen above the starting point. */
function memoryProbe(): { onRead: () => void; peakAbove: () => number } {
  gc();
  const base = memoryNow();
  let peak = base;
  let reads = 0;
  return {
    onRead() {
      if (reads++ % 4 === 0) {
        gc();
        peak = Math.max(peak, memoryNow());
      }
    },
    peakAbove: () => peak - base,
  };
}

const encoder = new TextEncoder();

describe('streaming large scans', () => {
  it('reads a 10,000,000-point binary PLY (120 MB) keeping 8,192 points, memory bounded', async () => {
    const n = 10_000_000;
    const head = encoder.encode(`ply\nformat binary_little_endian 1.0\ncomment generated\nelement vertex ${n}\nproperty float x\nproperty float y\nproperty float z\nend_header\n`);
    // 4,099 distinct points (a prime, so the block does not line up with the 1 MiB reads), repeated.
    const period = 4099;
    const block = new Float32Array(period * 3);
    for (let i = 0; i < period; i++) block.set([Math.cos(i), Math.sin(i), i / period], i * 3);
    const probe = memoryProbe();
    const source = repeatingSource('scan.ply', head, new Uint8Array(block.buffer), head.length + n * 12, probe.onRead);
    const cloud = await readPointFile(source, { maxPoints: 8192, seed: 11 });
    expect(cloud).toMatchObject({ count: 8192, totalPoints: n, subsampled: true, origin: 'points' });
    expect(cloud.points.byteLength).toBe(8192 * 12);
    // Each kept point is one of the file's points, and they come from all over the file (uniform subset).
    const periodIndex = (k: number): number => Math.round(cloud.points[k * 3 + 2]! * period);
    for (let k = 0; k < cloud.count; k += 97) {
      const i = periodIndex(k);
      expect(cloud.points[k * 3]).toBeCloseTo(Math.cos(i), 5);
    }
    const peak = probe.peakAbove();
    console.log(`10M binary PLY: peak memory above the start ${(peak / MB).toFixed(1)} MiB (file ${(source.size / MB).toFixed(0)} MiB)`);
    expect(peak).toBeLessThan(16 * MB);
  });

  it('reads a 1,000,000-line ASCII scan (27 MB) keeping 2,048 points, memory bounded', async () => {
    const n = 1_000_000;
    const period = 1009;
    const fixed = (v: number): string => (v < 0 ? '-' : '+') + Math.abs(v).toFixed(5);
    const lines = Array.from({ length: period }, (_, i) => `${fixed(Math.cos(i))} ${fixed(Math.sin(i))} ${fixed(i / period)}\n`);
    const block = encoder.encode(lines.join(''));
    expect(block.length).toBe(period * 27);
    const probe = memoryProbe();
    const source = repeatingSource('scan.xyz', new Uint8Array(0), block, n * 27, probe.onRead);
    const cloud = await readPointFile(source, { maxPoints: 2048, seed: 5 });
    expect(cloud).toMatchObject({ count: 2048, totalPoints: n, subsampled: true });
    const peak = probe.peakAbove();
    console.log(`1M-line ASCII scan: peak memory above the start ${(peak / MB).toFixed(1)} MiB (file ${(source.size / MB).toFixed(0)} MiB)`);
    expect(peak).toBeLessThan(16 * MB);
  });
});
