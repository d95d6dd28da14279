// The fuzz driver: runs each reader's cases in a child process (runner.ts) and holds the per-case time
// bound from outside it, since a reader stuck in a synchronous loop cannot be interrupted from within: a
// case that does not end in time, or that takes the process down, is recorded as a failure and the run
// goes on in a fresh process from the next case. Used by the test pass (fuzz.test.ts) and `npm run fuzz`.
import { fork, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { FromRunner, ToRunner } from './protocol';

/**
 * CPU seconds a process has used (Linux /proc), or undefined elsewhere. The time bound counts the runner's
 * CPU time, not the clock: on a shared machine a case can wait many seconds for a core without doing any
 * work, and only work that does not end is a hang.
 */
function cpuSeconds(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime, in clock ticks of 1/100 s
  } catch {
    return undefined;
  }
}

const root = new URL('../../', import.meta.url).pathname;

export interface FuzzFailure {
  index: number;
  description: string;
  why: string;
}

export interface ReaderReport {
  reader: string;
  /** Inputs tried, of which hand-made hostile ones. */
  tried: number;
  hostile: number;
  /** Inputs read to a result, and inputs refused with the reader's own error (or reason) and a sentence. */
  opened: number;
  refused: number;
  failures: FuzzFailure[];
  seconds: number;
  /** The case that took the most CPU time. */
  slowest: { ms: number; description: string };
  /** The largest allocation measured, and its share of that case's budget. */
  largest: { bytes: number; ofBudget: number; description: string };
}

export interface FuzzOptions {
  /** Readers to run, by name, with how many cases each (hostile inputs count as cases; Infinity: until stopAt). */
  cases: { reader: string; count: number }[];
  /** Stop each reader's run at this time (ms since the epoch); default: never (run every case). */
  stopAt?: (reader: string) => number;
  /**
   * A case that has used this much CPU time without ending is a hang (default 10 s). Where CPU time cannot be
   * read, and as a backstop, a case still running after 30 times as long on the clock is one too.
   */
  caseTimeoutMs?: number;
  /** Changes every mutation (0 in the test pass, so its cases are the same on every run). */
  runSeed?: number;
  onProgress?: (report: ReaderReport) => void;
}

function startRunner(): Promise<ChildProcess> {
  const child = fork(new URL('./runner.ts', import.meta.url).pathname, [], {
    cwd: root,
    execArgv: ['--import', 'tsx', '--expose-gc'],
    serialization: 'advanced',
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new Promise((resolve, reject) => {
    const onMessage = (m: FromRunner): void => {
      if (m.kind !== 'ready') return;
      child.off('message', onMessage);
      child.off('exit', onExit);
      resolve(child);
    };
    const onExit = (code: number | null): void => reject(new Error(`The fuzz runner exited while starting (code ${code}).`));
    child.on('message', onMessage);
    child.on('exit', onExit);
  });
}

/** Runs one reader's cases [from, to) in `child`; resolves when they are done, or on a hang or crash. */
function runJob(child: ChildProcess, job: ToRunner, report: ReaderReport, timeoutMs: number): Promise<{ next: number; child: ChildProcess | undefined; maxRssMB: number }> {
  return new Promise((resolve) => {
    let current: { index: number; description: string } | undefined;
    let timer: NodeJS.Timeout | undefined;
    const finish = (next: number, alive: boolean, maxRssMB = 0): void => {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
      resolve({ next, child: alive ? child : undefined, maxRssMB });
    };
    const onMessage = (m: FromRunner): void => {
      if (m.kind === 'start') {
        current = { index: m.index, description: m.description };
        clearTimeout(timer);
        const cpuAtStart = cpuSeconds(child.pid);
        const startedAt = Date.now();
        const check = (): void => {
          const cpu = cpuSeconds(child.pid);
          const busy = cpu === undefined || cpuAtStart === undefined ? undefined : cpu - cpuAtStart;
          const wall = (Date.now() - startedAt) / 1000;
          if ((busy ?? wall) * 1000 < timeoutMs && wall * 1000 < 30 * timeoutMs) {
            timer = setTimeout(check, 1000);
            return;
          }
          report.tried++;
          const spent = busy === undefined ? `${wall.toFixed(0)} s` : `${busy.toFixed(1)} s of CPU time (${wall.toFixed(0)} s on the clock)`;
          report.failures.push({ ...current!, why: `no result after ${spent}: a hang; the process was stopped` });
          child.kill('SIGKILL');
          finish(current!.index + 1, false);
        };
        timer = setTimeout(check, Math.min(timeoutMs, 1000));
      } else if (m.kind === 'end') {
        clearTimeout(timer);
        report.tried++;
        if (m.hostile) report.hostile++;
        const description = current?.description ?? `case ${m.index}`;
        if (m.outcome.kind === 'opened') report.opened++;
        else if (m.outcome.kind === 'refused') report.refused++;
        else report.failures.push({ index: m.index, description, why: m.outcome.why });
        if (m.cpuMs > timeoutMs) report.failures.push({ index: m.index, description, why: `took ${(m.cpuMs / 1000).toFixed(1)} s of CPU time, over the ${timeoutMs / 1000}-s bound for one case` });
        if (m.allocated > m.budget) {
          report.failures.push({ index: m.index, description, why: `allocated ${(m.allocated / 2 ** 20).toFixed(1)} MiB reading ${m.size} bytes, over its budget of ${(m.budget / 2 ** 20).toFixed(1)} MiB` });
        }
        if (m.cpuMs > report.slowest.ms) report.slowest = { ms: m.cpuMs, description };
        if (m.allocated / m.budget > report.largest.ofBudget) report.largest = { bytes: m.allocated, ofBudget: m.allocated / m.budget, description };
        current = undefined;
      } else if (m.kind === 'done') {
        finish(m.next, true, m.maxRssMB);
      }
    };
    const onExit = (code: number | null, signal: string | null): void => {
      const index = current?.index ?? job.from;
      report.tried++;
      report.failures.push({ index, description: current?.description ?? `case ${index}`, why: `the process died (${signal ?? `exit code ${code}`})` });
      finish(index + 1, false);
    };
    child.on('message', onMessage);
    child.on('exit', onExit);
    child.send(job);
  });
}

/** Runs the readers one after another and reports what each did. */
export async function runFuzz(options: FuzzOptions): Promise<{ reports: ReaderReport[]; maxRssMB: number }> {
  const timeoutMs = options.caseTimeoutMs ?? 10_000;
  const reports: ReaderReport[] = [];
  let maxRssMB = 0;
  let child: ChildProcess | undefined;
  try {
    for (const { reader, count } of options.cases) {
      const report: ReaderReport = { reader, tried: 0, hostile: 0, opened: 0, refused: 0, failures: [], seconds: 0, slowest: { ms: 0, description: '' }, largest: { bytes: 0, ofBudget: 0, description: '' } };
      const started = performance.now();
      const stopAt = options.stopAt?.(reader) ?? Number.MAX_SAFE_INTEGER;
      let next = 0;
      while (next < count && Date.now() < stopAt) {
        child ??= await startRunner();
        const result = await runJob(child, { reader, from: next, to: Math.min(count, Number.MAX_SAFE_INTEGER), stopAt, runSeed: options.runSeed ?? 0 }, report, timeoutMs);
        maxRssMB = Math.max(maxRssMB, result.maxRssMB);
        child = result.child;
        next = result.next;
        if (child && next < count && Date.now() >= stopAt) break;
      }
      report.seconds = (performance.now() - started) / 1000;
      reports.push(report);
      options.onProgress?.(report);
    }
  } finally {
    child?.kill();
  }
  return { reports, maxRssMB };
}

/** The report as a table: reader, tried (hostile), opened, refused, failures, seconds. */
export function formatReports(reports: ReaderReport[]): string {
  const rows = reports.map((r) => `| ${r.reader} | ${r.tried} (${r.hostile} hand-made) | ${r.opened} | ${r.refused} | ${r.failures.length} | ${r.seconds.toFixed(1)} |`);
  return ['| reader | inputs tried | opened | refused with a sentence | failures | seconds |', '|---|---:|---:|---:|---:|---:|', ...rows].join('\n');
}

export function formatFailures(reports: ReaderReport[]): string {
  return reports
    .flatMap((r) => r.failures.map((f) => `${r.reader} case ${f.index} (${f.description}):\n  ${f.why.replace(/\n/g, '\n  ')}`))
    .join('\n');
}
