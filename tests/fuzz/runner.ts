// The fuzz worker, run as a child process by the driver (driver.ts) with --expose-gc: runs the cases it is
// given one at a time and reports each one's start (so the driver can kill it on a hang) and end (outcome,
// time, bytes allocated against the reader's budget).
import { fuzzCase, runCase, type FuzzSeed } from './fuzz-reader';
import { READERS } from './readers';
import type { FromRunner, ToRunner } from './protocol';

const gc = (globalThis as { gc?: (options?: { type: 'minor' | 'major' }) => void }).gc;
if (!gc) throw new Error('The fuzz runner needs --expose-gc.');
const send = (message: FromRunner): void => void process.send!(message);
const inputs = new Map<string, { seeds: FuzzSeed<unknown>[]; hostile: FuzzSeed<unknown>[] }>();

process.on('message', async (job: ToRunner) => {
  const reader = READERS.find((r) => r.name === job.reader);
  if (!reader) throw new Error(`No fuzz reader named "${job.reader}".`);
  let made = inputs.get(reader.name);
  if (!made) inputs.set(reader.name, (made = { seeds: await reader.seeds(), hostile: await reader.hostile() }));
  let index = job.from;
  for (; index < job.to && Date.now() < job.stopAt; index++) {
    const c = fuzzCase(reader, made.seeds, made.hostile, index, job.runSeed);
    send({ kind: 'start', index, description: c.description });
    gc({ type: index % 32 === 0 ? 'major' : 'minor' });
    const before = process.memoryUsage();
    const cpu = process.cpuUsage();
    const outcome = await runCase(reader, c.value);
    const used = process.cpuUsage(cpu);
    const cpuMs = (used.user + used.system) / 1000;
    const after = process.memoryUsage();
    const allocated = Math.max(0, after.arrayBuffers - before.arrayBuffers) + Math.max(0, after.heapUsed - before.heapUsed);
    send({ kind: 'end', index, outcome, cpuMs, allocated, size: reader.size(c.value), budget: reader.budget(c.value), hostile: index < made.hostile.length });
  }
  send({ kind: 'done', next: index, hostileCount: made.hostile.length, maxRssMB: process.resourceUsage().maxRSS / 1024 });
});
send({ kind: 'ready' });
