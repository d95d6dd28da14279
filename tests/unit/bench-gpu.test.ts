// `npm run bench:gpu -- --quick`: the real-GPU benchmark runs end to end on the emulator with small shapes and
// writes the JSON a GPU run would write, every field filled (the command is known to work before anyone
// carries it to a GPU).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { GpuBenchResult } from '../../bench/gpu';

const root = new URL('../../', import.meta.url).pathname;
const positive = (x: unknown): boolean => typeof x === 'number' && Number.isFinite(x) && x > 0;

describe('npm run bench:gpu -- --quick', () => {
  it('measures peak, matmul, fused attention, f32 and f16 training steps and tfjs-webgpu, and writes them as JSON', () => {
    const out = join(mkdtempSync(join(tmpdir(), 'clora-bench-gpu-')), 'gpu.json');
    const r = spawnSync('npm', ['run', '--silent', 'bench:gpu', '--', '--quick', '--out', out], { cwd: root, encoding: 'utf8', timeout: 280_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^matmul goal ≥ 35% of peak: (met|not met)$/m);
    const result = JSON.parse(readFileSync(out, 'utf8')) as GpuBenchResult;
    expect(result.quick).toBe(true);
    expect(result.device.adapter.length).toBeGreaterThan(0);
    expect(result.device.profile.kind).toBe('emulated');
    expect(positive(result.peak.f32.gflops)).toBe(true);
    // lavapipe has shader-f16: the f16 peak and step are measured, not skipped.
    expect('gflops' in result.peak.f16 && positive(result.peak.f16.gflops)).toBe(true);
    expect(result.matmul.length).toBeGreaterThan(0);
    for (const m of result.matmul) {
      expect(positive(m.gflops) && positive(m.fractionOfPeak)).toBe(true);
      expect(m.program).toMatch(/^(tiled|thin)/);
    }
    expect(result.matmulGoal.fractionOfPeak).toBe(0.35);
    expect(result.attention.map((a) => a.name)).toEqual(['vit-ti fwd', 'vit-ti fwd+bwd']);
    for (const a of result.attention) expect(positive(a.ms) && positive(a.gflops)).toBe(true);
    expect(result.training.steps.map((s) => s.precision)).toEqual(['f32', 'f16']);
    for (const s of result.training.steps) {
      expect(positive(s.imagesPerSecond) && positive(s.peakBytes) && positive(s.dispatchesPerStep)).toBe(true);
      expect(s.submissionsPerStep).toBeLessThanOrEqual(1.5);
    }
    expect('engineMs' in result.tfjs).toBe(true);
    if ('engineMs' in result.tfjs) {
      expect(positive(result.tfjs.engineMs) && positive(result.tfjs.tfjsMs)).toBe(true);
      // The same step from the same weights and batch: the same loss.
      expect(Math.abs(result.tfjs.engineLoss - result.tfjs.tfjsLoss)).toBeLessThan(1e-3 * Math.abs(result.tfjs.tfjsLoss));
    }
    expect(Object.keys(result.stageSeconds)).toEqual(['peak', 'matmul', 'attention', 'training', 'tfjs']);
  }, 300_000);
});
