// The study's statistics (bench/study/statistics.ts): mean and sample std, the t quantiles behind the 95%
// intervals (checked against a numerical integration of Student's t density), and the paired verdicts.
import { describe, expect, it } from 'vitest';
import { mean, pairedComparison, sampleStd, tQuantile975 } from '../../bench/study/statistics';

/** ln Γ(x), Lanczos (g = 7, n = 9): about 15 significant digits for x > 0. */
function lnGamma(x: number): number {
  const c = [0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - lnGamma(1 - x);
  x -= 1;
  let a = c[0]!;
  const t = x + 7.5;
  for (let i = 1; i < 9; i++) a += c[i]! / (x + i);
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(a);
}

/** P(T ≤ q) for Student's t with df degrees of freedom, by Simpson's rule on the density from 0 to q. */
function tCdf(q: number, df: number): number {
  const logNorm = lnGamma((df + 1) / 2) - lnGamma(df / 2) - 0.5 * Math.log(df * Math.PI);
  const f = (x: number): number => Math.exp(logNorm - ((df + 1) / 2) * Math.log1p((x * x) / df));
  const n = 4000;
  const h = q / n;
  let s = f(0) + f(q);
  for (let i = 1; i < n; i++) s += (i % 2 ? 4 : 2) * f(i * h);
  return 0.5 + (s * h) / 3;
}

describe('study statistics', () => {
  it('mean and sample standard deviation', () => {
    expect(mean([0.6, 0.7, 0.8])).toBeCloseTo(0.7, 12);
    // Σ(x − 5)² = 32 over 8 values: population std 2, sample std √(32/7).
    expect(sampleStd([2, 4, 4, 4, 5, 5, 7, 9])).toBeCloseTo(Math.sqrt(32 / 7), 12);
    expect(sampleStd([0.5])).toBeNaN();
    expect(mean([])).toBeNaN();
  });

  it('t(0.975, df) puts 97.5% of the t distribution below it, table and expansion alike', () => {
    for (const df of [1, 2, 3, 4, 5, 7, 10, 15, 20, 29, 30, 31, 40, 60, 120, 500]) {
      expect(Math.abs(tCdf(tQuantile975(df), df) - 0.975), `df ${df}`).toBeLessThan(1e-4);
    }
    expect(() => tQuantile975(0)).toThrow(/degrees of freedom/);
  });

  it('paired comparison: a difference that holds on every seed wins or loses, one that flips ties', () => {
    const lora = [0.66, 0.65, 0.67, 0.66, 0.65];
    const better = lora.map((v, i) => v + 0.01 + 0.002 * (i % 2));
    const worse = lora.map((v, i) => v - 0.01 - 0.002 * (i % 2));
    const mixed = lora.map((v, i) => v + (i % 2 ? 0.01 : -0.01));
    const win = pairedComparison(better, lora)!;
    expect(win.verdict).toBe('wins');
    expect(win.meanDiff).toBeCloseTo(0.0108, 10);
    expect(win.n).toBe(5);
    expect(pairedComparison(worse, lora)!.verdict).toBe('loses');
    const tie = pairedComparison(mixed, lora)!;
    expect(tie.verdict).toBe('ties');
    expect(tie.low).toBeLessThan(0);
    expect(tie.high).toBeGreaterThan(0);
    // The interval is mean ± t(0.975, n−1)·s/√n over the per-seed differences.
    const diffs = mixed.map((v, i) => v - lora[i]!);
    const half = (tQuantile975(4) * sampleStd(diffs)) / Math.sqrt(5);
    expect(tie.high - tie.meanDiff).toBeCloseTo(half, 12);
  });

  it('paired comparison uses only the seeds both methods finished', () => {
    const c = pairedComparison([0.7, undefined, 0.72, 0.71], [0.6, 0.6, 0.61, undefined])!;
    expect(c.n).toBe(2);
    expect(c.meanDiff).toBeCloseTo(0.105, 12);
    expect(pairedComparison([0.7, undefined], [0.6, 0.6])).toBeUndefined();
  });
});
