// The fuzz runner, a child process of the driver (driver.ts) started with --expose-gc: runs the cases it is
// given one at a time and reports each one's start and end (outcome, CPU time, bytes allocated against the
// reader's budget). A watchdog thread (watchdog.mjs) stops the process when a case runs past the CPU bound.
import { Worker } from 'node:worker_threads';
import { fuzzCase, runCase, type FuzzSeed } from './fuzz-reader';
import { FAULTY_READERS } from './faulty-readers';
import { READERS } from './readers';
import type { FromRunner, ToRunner } from './protocol';

const gc = (globalThis as { gc?: (options?: { type: 'minor' | 'major' }) => void }).gc;
if (!gc) throw new Error('The fuzz runner needs --expose-gc.');
const [hangFile, limitMs] = [process.env.FUZZ_HANG_FILE!, Number(process.env.FUZZ_CASE_CPU_MS)];
const send = (message: FromRunner): void => void process.send!(message);
const inputs = new Map<string, { seeds: FuzzSeed<unknown>[]; hostile: FuzzSeed<unknown>[] }>();

// [running (0/1), case index, CPU ms at its start, description length] and the description's bytes.
const state = new Int32Array(new SharedArrayBuffer(16));
const description = new Uint8Array(new SharedArrayBuffer(4096));
new Worker(new URL('./watchdog.mjs', import.meta.url), { workerData: { state, description, limitMs, hangFile } }).unref();
const cpuMs = (): number => {
  const used = process.cpuUsage();
  return (used.user + used.system) / 1000;
};

process.on('message', async (job: ToRunner) => {
  const reader = [...READERS, ...FAULTY_READERS].find((r) => r.name === job.reader);
  if (!reader) throw new Error(`No fuzz reader named "${job.reader}".`);
  let made = inputs.get(reader.name);
  if (!made) inputs.set(reader.name, (made = { seeds: await reader.seeds(), hostile: await reader.hostile() }));
  let index = job.from;
  for (; index < job.to && Date.now() < job.stopAt; index++) {
    const c = fuzzCase(reader, made.seeds, made.hostile, index, job.runSeed);
    send({ kind: 'start', index, description: c.description });
    gc({ type: index % 32 === 0 ? 'major' : 'minor' });
    const before = process.memoryUsage();
    const { written } = new TextEncoder().encodeInto(c.description, description);
    Atomics.store(state, 3, written);
    Atomics.store(state, 1, index);
    Atomics.store(state, 2, Math.floor(cpuMs()));
    Atomics.store(state, 0, 1);
    const cpu = process.cpuUsage();
    const outcome = await runCase(reader, c.value);
    const used = process.cpuUsage(cpu);
    Atomics.store(state, 0, 0);
    const after = process.memoryUsage();
    const allocated = Math.max(0, after.arrayBuffers - before.arrayBuffers) + Math.max(0, after.heapUsed - before.heapUsed);
    send({ kind: 'end', index, outcome, cpuMs: (used.user + used.system) / 1000, allocated, size: reader.size(c.value), budget: reader.budget(c.value), hostile: index < made.hostile.length });
  }
  send({ kind: 'done', next: index, hostileCount: made.hostile.length, maxRssMB: process.resourceUsage().maxRSS / 1024 });
});
send({ kind: 'ready' });
