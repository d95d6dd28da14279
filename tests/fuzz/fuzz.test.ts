// The fuzz pass of `npm test`: every reader (tests/fuzz/readers.ts) gets its hand-made hostile inputs and a
// fixed number of seeded mutations of real files, the same on every run. Each must end in a result or in
// the reader's own error with a sentence: no other exception, no hang, no allocation over its budget.
// `npm run fuzz -- --minutes N` runs the same harness for longer, with fresh mutations.
import { describe, expect, it } from 'vitest';
import { formatFailures, formatReports, runFuzz } from './driver';

/**
 * Cases per reader (hand-made ones included), balanced by what a case costs: a zip intake case inflates
 * megabytes, a point file case parses a few kilobytes. 30–90 s in all on this shared 2-core machine.
 */
const CASES = [
  { reader: 'safetensors', count: 4000 },
  { reader: 'zip intake', count: 250 },
  { reader: 'image precheck (intake)', count: 6000 },
  { reader: 'image decoder (Node: pngjs, jpeg-js)', count: 4000 },
  { reader: 'checkpoint records (IndexedDB)', count: 4000 },
  { reader: 'training checkpoint file (clora-checkpoint)', count: 2000 },
  { reader: '.pth (PyTorch checkpoints)', count: 2000 },
  { reader: 'point files: PLY (ASCII, binary)', count: 3000 },
  { reader: 'point files: OBJ', count: 1500 },
  { reader: 'point files: OFF', count: 3000 },
  { reader: 'point files: XYZ, TXT, PTS', count: 1500 },
  { reader: 'point files: NPY', count: 2000 },
  { reader: 'project file (Open project)', count: 600 },
];

describe('the fuzz harness', () => {
  it('reports a hang, a foreign exception, a refusal without a sentence, an allocation over budget and a dead process, and goes on after each', { timeout: 300_000 }, async () => {
    const names = ['faulty: hangs', 'faulty: foreign exception', 'faulty: no sentence', 'faulty: over budget', 'faulty: kills the process'];
    const { reports } = await runFuzz({ cases: names.map((reader) => ({ reader, count: 3 })), caseTimeoutMs: 1000 });
    const whys = reports.map((r) => r.failures.map((f) => `${f.index}: ${f.why.split('\n')[0]}`));
    expect(whys[0]).toEqual([expect.stringMatching(/^0: no result after 1\.\d s of CPU time: a hang; the process was stopped$/)]);
    expect(whys[1]).toEqual(["0: TypeError: Cannot read properties of undefined (reading 'length')"]);
    expect(whys[2]).toEqual(['0: FaultyError: undefined: the message is too short to say what happened']);
    expect(whys[3]).toEqual([expect.stringMatching(/^0: allocated 6\d\.\d MiB reading 8 bytes, over its budget of 1\.0 MiB$/)]);
    expect(whys[4]).toEqual(['0: the process died (exit code 3)']);
    // Every reader's other two cases still ran, in a fresh process where the last one died.
    for (const r of reports) expect(r.tried, r.reader).toBe(3);
  });
});

describe('fuzzing the readers', () => {
  it('every input ends in a result or the reader\'s own error with a sentence, in bounded time and memory', { timeout: 600_000 }, async () => {
    const { reports, maxRssMB } = await runFuzz({ cases: CASES });
    process.stdout.write(`\n${formatReports(reports)}\n(peak resident memory of the fuzz runner: ${maxRssMB.toFixed(0)} MB)\n`);
    expect(formatFailures(reports)).toBe('');
    for (const [i, r] of reports.entries()) {
      expect(r.tried, r.reader).toBe(CASES[i]!.count);
      expect(r.hostile, r.reader).toBeGreaterThanOrEqual(10);
      // Both outcomes occur: the mutations reach past the first check, and the real files still open.
      expect(r.opened, r.reader).toBeGreaterThan(0);
      expect(r.refused, r.reader).toBeGreaterThan(0);
    }
  });
});
