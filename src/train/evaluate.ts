// Evaluation from logits: top-1 accuracy, per-class accuracy and the confusion matrix (rows: true class).

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

/** The report `eval` prints; `samples` names what was classified ("images", "point clouds"). */
export function formatEvaluation(e: Evaluation, samples = 'images'): string {
  const lines = [`accuracy ${(100 * e.accuracy).toFixed(2)}% on ${e.count} ${samples}`, '', 'per class:'];
  for (const p of e.perClass) lines.push(`  ${p.class.padEnd(16)} ${(100 * p.accuracy).toFixed(1).padStart(6)}%  (${p.count} ${samples})`);
  lines.push('', 'confusion matrix (rows: true class, columns: predicted):');
  const width = Math.max(5, ...e.confusion.flat().map((v) => String(v).length + 1));
  for (const [k, row] of e.confusion.entries()) lines.push(`  ${e.classes[k]!.slice(0, 16).padEnd(16)} ${row.map((v) => String(v).padStart(width)).join('')}`);
  return `${lines.join('\n')}\n`;
}
