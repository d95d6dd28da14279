// Run as a child process (node --import tsx): reads zips through zipEntries, each with its limit
// ("path@bytes" or "path@default"), keeping no entry's data, and prints what came out with the process's
// peak resident memory before and after each read: a test checks that memory is bounded by the per-entry
// limit and not by what an entry inflates to.
import { openAsBlob } from 'node:fs';
import { zipEntries } from '../../src/io/zip';

const peakMB = (): number => process.resourceUsage().maxRSS / 1024;
const runs = [];
for (const arg of process.argv.slice(2)) {
  const at = arg.lastIndexOf('@');
  const path = arg.slice(0, at);
  const limit = arg.slice(at + 1) === 'default' ? undefined : Number(arg.slice(at + 1));
  const blob = await openAsBlob(path);
  const before = peakMB();
  const entries: { path: string; bytes?: number; refused?: string }[] = [];
  for await (const entry of zipEntries(blob, 'bomb.zip', { maxEntryBytes: limit })) {
    entries.push('refused' in entry ? { path: entry.path, refused: entry.refused } : { path: entry.path, bytes: entry.data.byteLength });
  }
  runs.push({ path, peakBeforeMB: before, peakAfterMB: peakMB(), entries });
}
process.stdout.write(`${JSON.stringify(runs)}\n`);
