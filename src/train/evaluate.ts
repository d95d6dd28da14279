// Evaluation from logits: top-1 accuracy, per-class accuracy and the confusion matrix (rows: true class),
// each sample's top predictions (what a confusion cell holds), and the class pairs confused most.
import type { TopClass } from './predict';

export interface Evaluation {
  count: number;
  accuracy: number;
  classes: string[];
  perClass: { class: string; count: number; accuracy: number }[];
  /** confusion[true][predicted] */
  confusion: number[][];
}

export function evaluate(logits: Float32Array, labels: ArrayLike<number>, classes: string[]): Evaluation {
  const c = classes.length;
  const n = labels.length;
  const confusion = classes.map(() => new Array<number>(c).fill(0));
  let correct = 0;
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let k = 1; k < c; k++) if (logits[i * c + k]! > logits[i * c + best]!) best = k;
    const label = labels[i]!;
    confusion[label]![best]! += 1;
    if (best === label) correct++;
  }
  const perClass = classes.map((name, k) => {
    const row = confusion[k]!;
    const count = row.reduce((a, b) => a + b, 0);
    return { class: name, count, accuracy: count ? row[k]! / count : 0 };
  });
  return { count: n, accuracy: n ? correct / n : 0, classes, perClass, confusion };
}

/** One evaluated sample: its position in the evaluated set, its true class, and its top predictions. */
export interface EvaluatedSample {
  index: number;
  label: number;
  /** Most likely first; top[0].index is the class the confusion matrix counts it under. */
  top: TopClass[];
}

/**
 * Every sample's top `k` predictions with softmax probabilities. Ordered by logit (ties: lower index first),
 * so top[0] is exactly evaluate()'s argmax and each sample sits in the confusion cell evaluate() counted it in.
 */
export function evaluatedSamples(logits: Float32Array, labels: ArrayLike<number>, classes: string[], k = 3): EvaluatedSample[] {
  const c = classes.length;
  return Array.from({ length: labels.length }, (_, i) => {
    const row = logits.subarray(i * c, (i + 1) * c);
    let max = -Infinity;
    for (const v of row) max = Math.max(max, v);
    let sum = 0;
    for (const v of row) sum += Math.exp(v - max);
    const order = Array.from({ length: c }, (_, j) => j).sort((x, y) => row[y]! - row[x]! || x - y);
    const top = order.slice(0, Math.min(k, c)).map((j) => ({ class: classes[j]!, index: j, probability: Math.exp(row[j]! - max) / sum }));
    return { index: i, label: labels[i]!, top };
  });
}

export interface ConfusedPair {
  /** The two classes, by index (a < b). */
  a: number;
  b: number;
  /** Samples of a predicted as b, and of b predicted as a. */
  aAsB: number;
  bAsA: number;
}

/** Class pairs the model mixes up, most mixed up first (both directions counted), pairs never confused left out. */
export function confusedPairs(e: Pick<Evaluation, 'confusion'>, limit = 5): ConfusedPair[] {
  const pairs: ConfusedPair[] = [];
  const m = e.confusion;
  for (let a = 0; a < m.length; a++) {
    for (let b = a + 1; b < m.length; b++) {
      const aAsB = m[a]![b]!;
      const bAsA = m[b]![a]!;
      if (aAsB + bAsA > 0) pairs.push({ a, b, aAsB, bAsA });
    }
  }
  return pairs.sort((x, y) => y.aAsB + y.bAsA - (x.aAsB + x.bAsA) || x.a - y.a || x.b - y.b).slice(0, limit);
}

/** The report `eval` prints; `samples` names what was classified ("images", "point clouds"). */
export function formatEvaluation(e: Evaluation, samples = 'images'): string {
  const lines = [`accuracy ${(100 * e.accuracy).toFixed(2)}% on ${e.count} ${samples}`, '', 'per class:'];
  for (const p of e.perClass) lines.push(`  ${p.class.padEnd(16)} ${(100 * p.accuracy).toFixed(1).padStart(6)}%  (${p.count} ${samples})`);
  lines.push('', 'confusion matrix (rows: true class, columns: predicted):');
  const width = Math.max(5, ...e.confusion.flat().map((v) => String(v).length + 1));
  for (const [k, row] of e.confusion.entries()) lines.push(`  ${e.classes[k]!.slice(0, 16).padEnd(16)} ${row.map((v) => String(v).padStart(width)).join('')}`);
  return `${lines.join('\n')}\n`;
}
