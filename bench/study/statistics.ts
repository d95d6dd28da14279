// Summaries over seeds: mean, sample standard deviation, and the paired comparison of two methods that saw
// the same training images seed by seed (a Student t interval on the per-seed differences).

export function mean(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  return values.reduce((a, b) => a + b, 0) / values.length;
}

/** Sample standard deviation (n − 1 in the denominator); NaN below two values. */
export function sampleStd(values: readonly number[]): number {
  if (values.length < 2) return Number.NaN;
  const m = mean(values);
  return Math.sqrt(values.reduce((a, v) => a + (v - m) ** 2, 0) / (values.length - 1));
}

// Two-sided 95% quantiles t(0.975, df) of Student's t for df = 1…30 (standard table values; the test checks
// each against a numerical integration of the t density).
const T975 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131, 2.12, 2.11, 2.101, 2.093, 2.086, 2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042];

/** t(0.975, df): the half-width of a 95% interval in standard errors. */
export function tQuantile975(df: number): number {
  if (!Number.isInteger(df) || df < 1) throw new RangeError(`degrees of freedom must be a whole number ≥ 1 (got ${df})`);
  if (df <= T975.length) return T975[df - 1]!;
  // Beyond the table, the Cornish–Fisher expansion around the normal quantile (error < 1e-4 for df > 30).
  const z = 1.959964;
  return z + (z ** 3 + z) / (4 * df) + (5 * z ** 5 + 16 * z ** 3 + 3 * z) / (96 * df ** 2);
}

export type Verdict = 'wins' | 'ties' | 'loses';

export interface PairedComparison {
  /** Seeds both methods finished. */
  n: number;
  /** Mean of (a − b) over those seeds, and its 95% interval. */
  meanDiff: number;
  low: number;
  high: number;
  /** a wins when the whole interval is above 0, loses when it is below, and ties otherwise. */
  verdict: Verdict;
}

/** a − b seed by seed (both indexed by seed; missing values skipped); undefined below two shared seeds. */
export function pairedComparison(a: readonly (number | undefined)[], b: readonly (number | undefined)[]): PairedComparison | undefined {
  const diffs: number[] = [];
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const x = a[i];
    const y = b[i];
    if (x !== undefined && y !== undefined && Number.isFinite(x) && Number.isFinite(y)) diffs.push(x - y);
  }
  if (diffs.length < 2) return undefined;
  const meanDiff = mean(diffs);
  const half = (tQuantile975(diffs.length - 1) * sampleStd(diffs)) / Math.sqrt(diffs.length);
  const low = meanDiff - half;
  const high = meanDiff + half;
  return { n: diffs.length, meanDiff, low, high, verdict: low > 0 ? 'wins' : high < 0 ? 'loses' : 'ties' };
}
