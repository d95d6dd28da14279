// The fuzz driver: runs each reader's cases in a child process (runner.ts, whose watchdog thread holds the
// per-case CPU-time bound): a case that does not end in time, or that takes the process down, is recorded
// as a failure and the run goes on in a fresh process from the next case. Used by the test pass
// (fuzz.test.ts) and `npm run fuzz`.
import { fork, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FromRunner, ToRunner } from './protocol';

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
   * A case that has used this much of the process's CPU time without ending is a hang (default 10 s); as a
   * backstop, a runner silent for 30 times as long on the clock is stopped too.
   */
  caseTimeoutMs?: number;
  /** Changes every mutation (0 in the test pass, so its cases are the same on every run). */
  runSeed?: number;
  onProgress?: (report: ReaderReport) => void;
}

interface Runner {
  child: ChildProcess;
  /** Where the runner's watchdog writes the case it stopped as a hang. */
  hangFile: string;
}

function startRunner(timeoutMs: number): Promise<Runner> {
  const hangFile = join(mkdtempSync(join(tmpdir(), 'clora-fuzz-')), 'hang.json');
  const child = fork(new URL('./runner.ts', import.meta.url).pathname, [], {
    cwd: root,
    execArgv: ['--import', 'tsx', '--expose-gc'],
    env: { ...process.env, FUZZ_HANG_FILE: hangFile, FUZZ_CASE_CPU_MS: String(timeoutMs) },
    serialization: 'advanced',
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new Promise((resolve, reject) => {
    const onMessage = (m: FromRunner): void => {
      if (m.kind !== 'ready') return;
      child.off('message', onMessage);
      child.off('exit', onExit);
      resolve({ child, hangFile });
    };
    const onExit = (code: number | null): void => reject(new Error(`The fuzz runner exited while starting (code ${code}).`));
    child.on('message', onMessage);
    child.on('exit', onExit);
  });
}

/**
 * Runs one reader's cases [from, to) in the runner; resolves when they are done, or when the runner died
 * (its watchdog stopped a hang, or the reader took the process down), with the case to go on from.
 */
function runJob(runner: Runner, job: ToRunner, report: ReaderReport, timeoutMs: number): Promise<{ next: number; alive: boolean; maxRssMB: number }> {
  const { child } = runner;
  return new Promise((resolve) => {
    let current: { index: number; description: string } | undefined;
    let backstop: NodeJS.Timeout | undefined;
    // Where the watchdog cannot help (the whole process stuck), the clock decides, generously.
    const armBackstop = (): void => {
      clearTimeout(backstop);
      backstop = setTimeout(() => child.kill('SIGKILL'), 30 * timeoutMs);
    };
    const finish = (next: number, alive: boolean, maxRssMB = 0): void => {
      clearTimeout(backstop);
      child.off('message', onMessage);
      child.off('close', onClose);
      resolve({ next, alive, maxRssMB });
    };
    const onMessage = (m: FromRunner): void => {
      armBackstop();
      if (m.kind === 'start') {
        current = { index: m.index, description: m.description };
      } else if (m.kind === 'end') {
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
    // 'close' comes after the runner's last messages have been delivered.
    const onClose = (code: number | null, signal: string | null): void => {
      report.tried++;
      if (existsSync(runner.hangFile)) {
        const hang = JSON.parse(readFileSync(runner.hangFile, 'utf8')) as { index: number; description: string; cpuMs: number };
        rmSync(runner.hangFile);
        report.failures.push({ index: hang.index, description: hang.description, why: `no result after ${(hang.cpuMs / 1000).toFixed(1)} s of CPU time: a hang; the process was stopped` });
        finish(hang.index + 1, false);
        return;
      }
      const index = current?.index ?? job.from;
      report.failures.push({ index, description: current?.description ?? `case ${index}`, why: `the process died (${signal ?? `exit code ${code}`})` });
      finish(index + 1, false);
    };
    child.on('message', onMessage);
    child.on('close', onClose);
    armBackstop();
    child.send(job);
  });
}

/** Runs the readers one after another and reports what each did. */
export async function runFuzz(options: FuzzOptions): Promise<{ reports: ReaderReport[]; maxRssMB: number }> {
  const timeoutMs = options.caseTimeoutMs ?? 10_000;
  const reports: ReaderReport[] = [];
  let maxRssMB = 0;
  let runner: Runner | undefined;
  try {
    for (const { reader, count } of options.cases) {
      const report: ReaderReport = { reader, tried: 0, hostile: 0, opened: 0, refused: 0, failures: [], seconds: 0, slowest: { ms: 0, description: '' }, largest: { bytes: 0, ofBudget: 0, description: '' } };
      const started = performance.now();
      const stopAt = options.stopAt?.(reader) ?? Number.MAX_SAFE_INTEGER;
      let next = 0;
      while (next < count && Date.now() < stopAt) {
        runner ??= await startRunner(timeoutMs);
        const result = await runJob(runner, { reader, from: next, to: count, stopAt, runSeed: options.runSeed ?? 0 }, report, timeoutMs);
        maxRssMB = Math.max(maxRssMB, result.maxRssMB);
        if (!result.alive) runner = undefined;
        next = result.next;
      }
      report.seconds = (performance.now() - started) / 1000;
      reports.push(report);
      options.onProgress?.(report);
    }
  } finally {
    runner?.child.kill();
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
