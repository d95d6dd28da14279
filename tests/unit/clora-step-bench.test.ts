// `npm run bench:clora-step -- --quick` end to end, as a user runs it (a child process on the real engine): both
// shapes, LoRA and CLoRA steps timed in interleaved rounds, the JSON's ratios the medians of its own per-round
// samples, the printed tables the JSON's figures, and a bad option refused with a sentence.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { CloraStepResult } from '../../bench/clora-step';

function bench(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const run = spawnSync(process.execPath, ['--import', 'tsx', 'bench/clora-step.ts', ...args], { encoding: 'utf8', maxBuffer: 1 << 26 });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

describe('bench:clora-step --quick', () => {
  const dir = mkdtempSync(join(tmpdir(), 'clora-step-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('times LoRA and CLoRA steps interleaved on both shapes and reports the median ratio of its rounds', () => {
    const out = join(dir, 'clora-step.json');
    const run = bench(['--quick', '--out', out]);
    expect(run.status, run.stderr).toBe(0);
    const result = JSON.parse(readFileSync(out, 'utf8')) as CloraStepResult;
    expect(result.loadBefore).toHaveLength(3);
    expect(result.shapes.map((s) => [s.shape, s.cfg.dim, s.cfg.depth, s.cfg.tokens, s.batch, s.rounds])).toEqual([
      ['bundled backbone', 64, 4, 17, 4, 2],
      ['ViT-B/16 shape', 768, 1, 5, 1, 2],
    ]);
    // Trainable parameters as §1 counts them: LoRA m·(a+b)·r, CLoRA banks + m·p·r², each with the 10-class head.
    expect(result.shapes.map((s) => s.variants.map((v) => [v.name, v.trainable]))).toEqual([
      [['lora', 8 * 128 * 8 + 650], ['clora', 4 * 64 * 8 * 2 + 8 * 4 * 64 + 650]],
      [['lora', 2 * 1536 * 8 + 7690], ['clora', 4 * 768 * 8 * 2 + 2 * 4 * 64 + 7690]],
    ]);
    for (const shape of result.shapes) {
      const [lora, clora] = shape.variants;
      for (const v of shape.variants) {
        expect(v.ms.samples).toHaveLength(2);
        expect(v.cpuMs.samples).toHaveLength(2);
        expect(v.ratio).toBeCloseTo(median(v.ms.samples.map((ms, i) => ms / lora!.ms.samples[i]!)), 12);
        expect(v.cpuRatio).toBeCloseTo(median(v.cpuMs.samples.map((ms, i) => ms / lora!.cpuMs.samples[i]!)), 12);
        expect(v.cpuFastestRatio).toBeCloseTo(Math.min(...v.cpuMs.samples) / Math.min(...lora!.cpuMs.samples), 12);
        expect(v.ms.median).toBeGreaterThan(0);
      }
      expect(lora!.ratio).toBe(1);
      // CLoRA's step records SADE's kernels on top of the same branch structure.
      expect(clora!.dispatches).toBeGreaterThan(lora!.dispatches);
      expect(run.stdout).toContain(`| clora | ${clora!.trainable.toLocaleString('en-US')} | ${clora!.dispatches} | `);
      expect(run.stdout).toContain(`×${clora!.ratio.toFixed(3)} |`);
      expect(run.stdout).toContain(`×${clora!.cpuRatio.toFixed(3)} | ×${clora!.cpuFastestRatio.toFixed(3)} |`);
    }
  });

  it('refuses an option it does not know, with what it takes', () => {
    const run = bench(['--shapes', 'vit-l']);
    expect(run.status).toBe(2);
    expect(run.stderr).toContain('--shapes takes bundled and vit-b16 (got "vit-l")');
    expect(run.stderr).toContain('npm run bench:clora-step');
  });
});
