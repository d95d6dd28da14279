// The fuzz runner's watchdog (plain JavaScript, run as a worker thread of runner.ts): a case is a hang when
// it has used more than the bound of the process's CPU time. The runner's main thread writes the case it is
// on into shared memory; this thread keeps checking from outside it, since a reader stuck in a synchronous
// loop can not be interrupted from within. On a hang it writes the case to `hangFile` and kills the process;
// the driver reads the file and goes on from the next case. CPU time, not the clock: on a shared machine a
// case can wait many seconds for a core without doing any work.
import { writeFileSync } from 'node:fs';
import { workerData } from 'node:worker_threads';

const { state, description, limitMs, hangFile } = workerData;
const cpuMs = () => {
  const used = process.cpuUsage(); // the whole process, every thread
  return (used.user + used.system) / 1000;
};
setInterval(() => {
  if (Atomics.load(state, 0) !== 1) return;
  const index = Atomics.load(state, 1);
  const spent = cpuMs() - Atomics.load(state, 2);
  if (spent <= limitMs || Atomics.load(state, 1) !== index) return;
  const text = new TextDecoder().decode(description.slice(0, Atomics.load(state, 3)));
  writeFileSync(hangFile, JSON.stringify({ index, description: text, cpuMs: spent }));
  process.kill(process.pid, 'SIGKILL');
}, 100);
