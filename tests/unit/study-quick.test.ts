// `npm run bench:accuracy -- --quick` end to end, as a user runs it (a child process on the real engine and
// Fashion-MNIST): its JSON, tables and SVG agree, and a rerun after losing two finished runs trains exactly
// those two again, with the same accuracies (the run log resumes a stopped study; runs are deterministic).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { StudyResult } from '../../bench/study/study';

function study(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const run = spawnSync(process.execPath, ['--import', 'tsx', 'bench/accuracy.ts', ...args], { encoding: 'utf8', maxBuffer: 1 << 26 });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

describe('bench:accuracy --quick', () => {
  const out = mkdtempSync(join(tmpdir(), 'study-quick-'));
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it('runs the tiny study, writes JSON, tables and a plot that agree, and resumes from its run log', () => {
    const first = study(['--quick', '--out-dir', out]);
    expect(first.status, first.stderr).toBe(0);
    const result = JSON.parse(readFileSync(join(out, 'accuracy.json'), 'utf8')) as StudyResult;
    expect(result.ranRuns).toBe(8);
    expect(result.reusedRuns).toBe(0);
    expect(result.runs).toHaveLength(8);
    const [task] = result.tasks;
    expect(result.tasks).toHaveLength(1);
    expect(task!.id).toBe('fashion-bundled');
    expect([task!.trainImages, task!.fitImages, task!.validationImages, task!.testImages]).toEqual([40, 30, 10, 200]);
    expect(task!.rows.map((r) => [r.method, r.trainable])).toEqual([
      ['lora-r8', 8842],
      ['clora-p4-sade', 6794],
    ]);
    for (const row of task!.rows) {
      expect(row.tuning.map((t) => [t.lr, t.sadeWeight])).toEqual(row.method === 'lora-r8' ? [[1e-3, 0], [1e-2, 0]] : [[1e-3, 0.1], [1e-2, 0.1]]);
      // The choice is the best validation accuracy, and the test runs used it.
      const best = Math.max(...row.tuning.map((t) => t.valAccuracy ?? -1));
      expect(row.chosen.valAccuracy).toBe(best);
      const tests = result.runs.filter((r) => r.method === row.method && r.phase === 'test');
      expect(tests.map((r) => [r.seed, r.lr, r.trainImages, r.evalImages])).toEqual([0, 1].map((s) => [s, row.chosen.lr, 40, 200]));
      expect(row.accuracies).toEqual(tests.map((r) => r.accuracy));
      for (const a of row.accuracies) expect(a).toBeGreaterThanOrEqual(0);
      expect(row.mean).toBeCloseTo((row.accuracies[0]! + row.accuracies[1]!) / 2, 12);
      // Tables: the row's mean ± std, and each seed.
      expect(first.stdout).toContain(`| ${row.label} | ${row.trainable.toLocaleString('en-US')} | ${(row.trainingFlops / 1e9).toPrecision(3)} | ${(task!.inferenceFlops / 1e9).toPrecision(3)} | ${row.chosen.lr}`);
      expect(first.stdout).toContain(`${(100 * row.mean).toFixed(2)} ± ${(100 * row.std).toFixed(2)}`);
      // The plot: one marker at the row's mean.
      const svg = readFileSync(join(out, 'accuracy-fashion-bundled.svg'), 'utf8');
      expect(svg).toMatch(new RegExp(`data-method="${row.method}" data-trainable="${row.trainable}" data-mean="${(100 * row.mean).toFixed(4)}"`));
    }
    expect(task!.rows[1]!.vsBaseline?.n).toBe(2);

    // A stop lost the last two runs: the rerun trains those two only, and gets the same accuracies.
    const log = join(out, 'accuracy-runs.jsonl');
    const lines = readFileSync(log, 'utf8').split('\n').filter((l) => l.trim());
    writeFileSync(log, `${lines.slice(0, -2).join('\n')}\n`);
    const second = study(['--quick', '--out-dir', out]);
    expect(second.status, second.stderr).toBe(0);
    const again = JSON.parse(readFileSync(join(out, 'accuracy.json'), 'utf8')) as StudyResult;
    expect([again.ranRuns, again.reusedRuns]).toEqual([2, 6]);
    expect(again.tasks[0]!.rows.map((r) => r.accuracies)).toEqual(task!.rows.map((r) => r.accuracies));
  }, 300_000);

  it('runs the points task on a point backbone, the same harness over [P, 3] samples; a one-point grid is not tuned', () => {
    const pointsOut = join(out, 'points');
    const run = study(['--quick', '--task', 'points', '--point-backbone', 'tests/fixtures/points/points_p64_g8_k8.safetensors', '--only', 'lora-r8', '--lr-grid', 'lora=0.01', '--out-dir', pointsOut]);
    expect(run.status, run.stderr).toBe(0);
    const result = JSON.parse(readFileSync(join(pointsOut, 'accuracy.json'), 'utf8')) as StudyResult;
    const [task] = result.tasks;
    expect(task!.id).toBe('points');
    expect(task!.backbone.kind).toBe('point');
    // 162 furniture clouds in 7 classes, 30 % of each class held out: 49 test clouds; 4 per class to train.
    expect([task!.classes, task!.trainImages, task!.validationImages, task!.testImages]).toEqual([7, 28, 7, 49]);
    expect(task!.rows.map((r) => [r.method, r.trainable, r.accuracies.length])).toEqual([['lora-r8', 1879, 2]]);
    // FLOPs from the shapes (src/clora/flops.ts): a LoRA step costs more than the merged model's forward.
    expect(task!.inferenceFlops).toBeGreaterThan(0);
    expect(task!.rows[0]!.trainingFlops).toBeGreaterThan(task!.inferenceFlops);
    // One learning rate given for LoRA: taken as it is, so the two test runs are all that ran.
    expect(result.ranRuns).toBe(2);
    expect(result.runs.map((r) => [r.phase, r.lr, r.seed])).toEqual([['test', 0.01, 0], ['test', 0.01, 1]]);
    expect(task!.rows[0]!.tuning).toEqual([]);
    expect(task!.rows[0]!.chosen).toMatchObject({ lr: 0.01, valAccuracy: null });
    expect(run.stdout).toContain('| not tuned: the grid was one point (lr 0.01) |');
    expect(run.stderr).toContain('1 task(s) × 1 row(s): 2 runs');
    expect(readFileSync(join(pointsOut, 'accuracy-points.svg'), 'utf8')).toContain('data-method="lora-r8"');
  }, 300_000);

  it('refuses what it cannot do with a sentence', () => {
    const missing = study(['--task', 'points', '--point-backbone', 'no/such/backbone.safetensors']);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/--point-backbone no\/such\/backbone.safetensors: no such file/);
    const bad = study(['--only', 'lora-r3', '--quick']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--only: unknown method lora-r3; the rows are head, full, lora-r4/);
  }, 120_000);
});
