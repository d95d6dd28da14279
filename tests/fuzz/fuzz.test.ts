// The fuzz pass of `npm test`: every reader (tests/fuzz/readers.ts) gets its hand-made hostile inputs and a
// fixed number of seeded mutations of real files, the same on every run. Each must end in a result or in
// the reader's own error with a sentence: no other exception, no hang, no allocation over its budget.
// `npm run fuzz -- --minutes N` runs the same harness for longer, with fresh mutations.
import { describe, expect, it } from 'vitest';
import { formatFailures, formatReports, runFuzz } from './driver';

/** Cases per reader (hand-made ones included): 30–60 s in all on this shared 2-core machine. */
const CASES = [
  { reader: 'safetensors', count: 6000 },
  { reader: 'zip intake', count: 400 },
  { reader: 'image precheck (intake)', count: 6000 },
  { reader: 'image decoder (Node: pngjs, jpeg-js)', count: 4000 },
  { reader: 'checkpoint records (IndexedDB)', count: 6000 },
];

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
