// The study as markdown, ready for the README: per task, the results table (trainable parameters, training
// GFLOPs per sample, inference GFLOPs after merging, the chosen learning rate and SADE weight, mean ± std over
// seeds, CLoRA against LoRA r8 seed by seed, every seed's accuracy), a line on inference after merging, then
// the tuning table (validation accuracy at every grid point, the chosen one in bold).
import { homeRelative } from '../../tools/cache-dir';
import type { RowSummary, StudyResult, TaskSummary } from './study';

const pct = (v: number | null | undefined, digits = 2): string => (v === null || v === undefined || !Number.isFinite(v) ? '—' : (100 * v).toFixed(digits));
const count = (n: number): string => n.toLocaleString('en-US');
/** FLOPs as GFLOPs with three significant digits (0.0815, 1.23). */
const gflops = (flops: number): string => (flops / 1e9).toPrecision(3);

function meanStd(row: RowSummary): string {
  if (!Number.isFinite(row.mean)) return 'diverged';
  return Number.isFinite(row.std) ? `${pct(row.mean)} ± ${pct(row.std)}` : pct(row.mean);
}

function versusBaseline(row: RowSummary): string {
  const c = row.vsBaseline;
  if (!c) return '';
  const signed = (v: number): string => `${v >= 0 ? '+' : '−'}${Math.abs(100 * v).toFixed(2)}`;
  return `${signed(c.meanDiff)} [${signed(c.low)}, ${signed(c.high)}] ${c.verdict}`;
}

function resultsTable(task: TaskSummary): string[] {
  const seeds = task.rows[0]?.seeds ?? [];
  const lines = [
    `| method | trainable parameters | training GFLOPs / sample | inference GFLOPs / sample, merged | lr | SADE weight | test accuracy % (mean ± std) | vs LoRA r8 (mean Δ [95% CI]) | ${seeds.map((s) => `seed ${s}`).join(' | ')} |`,
    `|---|---:|---:|---:|---:|---:|---:|---|${seeds.map(() => '---:').join('|')}|`,
  ];
  for (const row of task.rows) {
    const sade = row.family === 'clora-sade' ? String(row.chosen.sadeWeight) : '—';
    const lr = `${row.chosen.lr}${row.chosen.atGridEdge ? '*' : ''}`;
    // After merging every method runs the backbone's own forward and a head: one figure, repeated per row.
    lines.push(`| ${row.label} | ${count(row.trainable)} | ${gflops(row.trainingFlops)} | ${gflops(task.inferenceFlops)} | ${lr} | ${sade} | ${meanStd(row)} | ${versusBaseline(row)} | ${row.accuracies.map((a) => pct(a)).join(' | ')} |`);
  }
  return lines;
}

function tuningTable(task: TaskSummary): string[] {
  const lines = ['| method | validation accuracy % at lr (× SADE weight) |', '|---|---|'];
  for (const row of task.rows) {
    if (row.tuning.length === 0) {
      lines.push(`| ${row.label} | not tuned: the grid was one point (lr ${row.chosen.lr}${row.family === 'clora-sade' ? ` × SADE ${row.chosen.sadeWeight}` : ''}) |`);
      continue;
    }
    const cells = row.tuning.map((t) => {
      const name = row.family === 'clora-sade' ? `${t.lr} × ${t.sadeWeight}` : String(t.lr);
      const text = `${name}: ${t.valAccuracy === null ? 'diverged' : pct(t.valAccuracy, 1)}`;
      return t.lr === row.chosen.lr && t.sadeWeight === row.chosen.sadeWeight ? `**${text}**` : text;
    });
    lines.push(`| ${row.label} | ${cells.join(', ')} |`);
  }
  return lines;
}

/** How the learning rate (and SADE weight) of the rows came about: tuned on the validation split, given, or both. */
function howChosen(task: TaskSummary, result: StudyResult): string {
  const o = result.options;
  const what = `lr${o.sadeGrid.length && task.rows.some((r) => r.family === 'clora-sade') ? ' and SADE weight' : ''}`;
  const untuned = task.rows.filter((r) => r.tuning.length === 0).length;
  if (untuned === task.rows.length) return `${what} given per method, not tuned (a grid of one point each)`;
  const tuned =
    `${what} chosen per method on ${count(task.validationImages)} validation samples carved from the training samples ` +
    `(fitting ${count(task.fitImages)}), ${o.tuneSeeds === 1 ? 'seed 0' : `mean over seeds 0–${o.tuneSeeds - 1}`}`;
  return untuned ? `${tuned}, except where the grid was one point (taken as given, marked "not tuned" below)` : tuned;
}

export function taskMarkdown(task: TaskSummary, result: StudyResult): string {
  const o = result.options;
  const b = result.budget;
  const lines = [
    `### ${task.title}`,
    '',
    `${task.about} Backbone: ${count(task.backbone.parameters)} parameters (${homeRelative(task.backbone.path)}). ${count(task.trainImages)} training samples per seed (${task.trainImages < task.classes * o.trainPerClass ? 'up to ' : ''}${o.trainPerClass} per class, redrawn by each seed), ` +
      `test set ${count(task.testImages)} samples. Every method: ${b.epochs} epoch${b.epochs === 1 ? '' : 's'}, batch ${b.batchSize}, AdamW (weight decay ${b.weightDecay}), ${b.schedule}; ` +
      `${howChosen(task, result)}; ${o.seeds} seed${o.seeds === 1 ? '' : 's'} per row.`,
    '',
    ...resultsTable(task),
    '',
    `Inference after merging: ${gflops(task.inferenceFlops)} GFLOPs per sample for every method (the backbone's forward and the head; training GFLOPs count forward and backward, SADE's per-step cost shared by the batch; src/clora/flops.ts says what is counted).`,
    '',
    ...(task.rows.some((r) => r.chosen.atGridEdge) ? ['\\* the chosen learning rate is at an end of the grid: a wider grid might do better.', ''] : []),
    'Tuning (chosen in bold):',
    '',
    ...tuningTable(task),
  ];
  return `${lines.join('\n')}\n`;
}

export function studyMarkdown(result: StudyResult): string {
  return result.tasks.map((t) => taskMarkdown(t, result)).join('\n');
}
