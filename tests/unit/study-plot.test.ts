// The study's SVG plot and markdown report (bench/study/plot.ts, report.ts) from a made-up summary: every
// finished row is one marker where its parameters and mean put it, error bars span ±1 std, and the tables
// carry the chosen settings, the seeds and the comparison with LoRA r8.
import { homedir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { homeRelative } from '../../tools/cache-dir';
import { accuracyPlotSvg, niceStep, shortCount } from '../../bench/study/plot';
import { taskMarkdown } from '../../bench/study/report';
import type { RowSummary, StudyResult, TaskSummary } from '../../bench/study/study';
import { pairedComparison } from '../../bench/study/statistics';

function row(method: string, family: RowSummary['family'], trainable: number, accuracies: (number | null)[], lr = 1e-3): RowSummary {
  const done = accuracies.filter((a): a is number => a !== null);
  const m = done.reduce((a, b) => a + b, 0) / done.length;
  const s = done.length > 1 ? Math.sqrt(done.reduce((a, v) => a + (v - m) ** 2, 0) / (done.length - 1)) : Number.NaN;
  return {
    method,
    family,
    label: `${method} <label & co>`,
    tag: method,
    trainable,
    trainingFlops: trainable * 1e4,
    tuning: [
      { lr: 1e-3, sadeWeight: 0.1, valAccuracy: 0.5 },
      { lr: 1e-2, sadeWeight: 0.1, valAccuracy: null },
    ],
    chosen: { lr, sadeWeight: 0.1, valAccuracy: 0.5, atGridEdge: lr === 1e-2 },
    seeds: accuracies.map((_, i) => i),
    accuracies,
    mean: done.length ? m : Number.NaN,
    std: s,
  };
}

const rows = [
  row('head', 'head', 650, [0.6, 0.62, 0.61]),
  row('full', 'full', 145_290, [0.8, 0.82, 0.81]),
  row('lora-r8', 'lora', 8842, [0.7, 0.71, 0.72]),
  row('clora-p4-sade', 'clora-sade', 6794, [0.69, 0.7, 0.7], 1e-2),
  row('clora-p8', 'clora', 12000, [null, null, null]),
  row('clora-p4', 'clora', 6794, [0.69, 0.69, 0.7]),
];
rows[3]!.vsBaseline = pairedComparison(rows[3]!.accuracies as number[], rows[2]!.accuracies as number[]);
const task: TaskSummary = {
  id: 'demo',
  title: 'Demo <task> & backbone',
  about: 'Made up.',
  backbone: { path: 'x.safetensors', kind: 'vit', sha256: '0', parameters: 145_290, depth: 4, width: 64 },
  classes: 10,
  inferenceFlops: 12_345_678,
  trainImages: 1000,
  fitImages: 800,
  validationImages: 200,
  testImages: 10000,
  rows,
  seconds: 1,
};

/** Checks that tags nest and close, attributes are quoted and text has no bare & or <. */
function checkWellFormed(svg: string): void {
  const stack: string[] = [];
  const tag = /<(\/?)([a-zA-Z]+)((?:\s+[a-zA-Z][\w:-]*="[^"<]*")*)\s*(\/?)>/g;
  let last = 0;
  for (let m = tag.exec(svg); m; m = tag.exec(svg)) {
    const text = svg.slice(last, m.index);
    expect(text, 'text between tags').not.toMatch(/<|&(?!(amp|lt|gt|quot);)/);
    last = tag.lastIndex;
    const [, closing, name, , selfClosing] = m;
    if (closing) expect(stack.pop(), `closing </${name}>`).toBe(name);
    else if (!selfClosing) stack.push(name!);
  }
  expect(svg.slice(last).trim()).toBe('');
  expect(stack).toEqual([]);
}

function points(svg: string): { method: string; x: number; y: number; trainable: number; mean: number }[] {
  const out = [];
  for (const m of svg.matchAll(/<(circle|rect|polygon) ([^>]*class="point"[^>]*)\/>/g)) {
    const attrs: Record<string, string> = Object.fromEntries([...m[2]!.matchAll(/([a-z-]+)="([^"]*)"/g)].map((a) => [a[1]!, a[2]!]));
    let x: number;
    let y: number;
    if (m[1] === 'circle') [x, y] = [Number(attrs.cx), Number(attrs.cy)];
    else if (m[1] === 'rect') [x, y] = [Number(attrs.x) + Number(attrs.width) / 2, Number(attrs.y) + Number(attrs.height) / 2];
    else {
      const p: number[][] = attrs.points!.split(' ').map((xy: string) => xy.split(',').map(Number));
      x = p[0]![0]!;
      y = (Math.min(...p.map((q) => q[1]!)) + Math.max(...p.map((q) => q[1]!))) / 2;
    }
    out.push({ method: attrs['data-method']!, x, y, trainable: Number(attrs['data-trainable']), mean: Number(attrs['data-mean']) });
  }
  return out;
}

describe('study plot', () => {
  const svg = accuracyPlotSvg(task, '3 seeds');

  it('is well-formed SVG with the title escaped', () => {
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    checkWellFormed(svg);
    expect(svg).toContain('Demo &lt;task&gt; &amp; backbone');
  });

  it('draws one marker per finished row, on a log x axis, higher accuracy higher up', () => {
    const drawn = points(svg);
    expect(drawn.map((p) => p.method).sort()).toEqual(['clora-p4', 'clora-p4-sade', 'full', 'head', 'lora-r8']);
    const by = Object.fromEntries(drawn.map((p) => [p.method, p]));
    // log scale: equal parameter ratios give equal distances.
    const perDecade = (by.full!.x - by.head!.x) / Math.log10(145_290 / 650);
    expect((by['lora-r8']!.x - by.head!.x) / Math.log10(8842 / 650)).toBeCloseTo(perDecade, 1);
    expect(by.full!.y).toBeLessThan(by['lora-r8']!.y);
    expect(by['lora-r8']!.y).toBeLessThan(by.head!.y);
    expect(by['lora-r8']!.mean).toBeCloseTo(71, 3);
    // Two rows with the same parameter count are drawn side by side, not on top of each other.
    expect(Math.abs(by['clora-p4']!.x - by['clora-p4-sade']!.x)).toBeCloseTo(10, 1);
  });

  it('draws error bars of ±1 std and a legend entry per family drawn', () => {
    const bars = [...svg.matchAll(/<path d="M([\d.]+) ([\d.]+)V([\d.]+)/g)];
    expect(bars).toHaveLength(5);
    const lora = points(svg).find((p) => p.method === 'lora-r8')!;
    const bar = bars.find((b) => Math.abs(Number(b[1]) - lora.x) < 0.01)!;
    // std of 0.70, 0.71, 0.72 is one point: the bar spans two, centred on the marker.
    const [top, bottom] = [Number(bar[2]), Number(bar[3])];
    expect((top + bottom) / 2).toBeCloseTo(lora.y, 1);
    const full = points(svg).find((p) => p.method === 'full')!;
    const head = points(svg).find((p) => p.method === 'head')!;
    const pxPerPoint = (head.y - full.y) / 20; // 61 % vs 81 %
    expect(bottom - top).toBeCloseTo(2 * pxPerPoint, 1);
    expect(svg.match(/class="legend"/g)).toHaveLength(5);
    expect(svg).toContain('CLoRA with SADE');
    expect(svg).toContain('CLoRA, no SADE');
    expect(accuracyPlotSvg({ ...task, rows: rows.filter((r) => r.family !== 'clora') }, '').match(/class="legend"/g)).toHaveLength(4);
  });

  it('round ticks', () => {
    expect(niceStep(23)).toBe(5);
    expect(niceStep(3)).toBe(0.5);
    expect(shortCount(1000)).toBe('1k');
    expect(shortCount(200_000)).toBe('200k');
    expect(shortCount(2_000_000)).toBe('2M');
  });
});

describe('study report', () => {
  const result = { options: { trainPerClass: 100, tuneSeeds: 1, seeds: 3, sadeGrid: [0.01, 0.1, 1] }, budget: { epochs: 10, batchSize: 50, weightDecay: 1e-4, schedule: '20 warm-up steps, then cosine to 0' } } as unknown as StudyResult;
  const md = taskMarkdown(task, result);

  it('gives each row its parameters, training and inference GFLOPs, choice, mean ± std, seeds and comparison with LoRA r8', () => {
    const line = (method: string): string => md.split('\n').find((l) => l.startsWith(`| ${method} `))!;
    expect(line('lora-r8')).toBe('| lora-r8 <label & co> | 8,842 | 0.0884 | 0.0123 | 0.001 | — | 71.00 ± 1.00 |  | 70.00 | 71.00 | 72.00 |');
    expect(line('clora-p4-sade')).toMatch(/^\| clora-p4-sade <label & co> \| 6,794 \| 0\.0679 \| 0\.0123 \| 0\.01\* \| 0\.1 \| 69\.67 ± 0\.58 \| −1\.33 \[−2\.77, \+0\.10\] ties \| 69\.00 \| 70\.00 \| 70\.00 \|$/);
    expect(line('clora-p8')).toContain('| diverged |');
    expect(md).toContain('\\* the chosen learning rate is at an end of the grid');
    expect(md).toContain('| seed 0 | seed 1 | seed 2 |');
    expect(md).toContain('Inference after merging: 0.0123 GFLOPs per sample for every method');
  });

  it('lists the tuning grid with the choice in bold and diverged points named', () => {
    expect(md).toContain('| lora-r8 <label & co> | **0.001: 50.0**, 0.01: diverged |');
    expect(md).toContain('| clora-p4-sade <label & co> | 0.001 × 0.1: 50.0, **0.01 × 0.1: diverged** |');
    expect(md).not.toContain('not tuned');
  });

  it('says which rows were not tuned (a grid of one point) and what they ran with', () => {
    const untuned = (r: RowSummary): RowSummary => ({ ...r, tuning: [], chosen: { lr: 0.03, sadeWeight: 0.1, valAccuracy: null, atGridEdge: false } });
    const text = taskMarkdown({ ...task, rows: [untuned(rows[0]!), untuned(rows[3]!), rows[2]!] }, result);
    expect(text).toContain('| head <label & co> | not tuned: the grid was one point (lr 0.03) |');
    expect(text).toContain('| clora-p4-sade <label & co> | not tuned: the grid was one point (lr 0.03 × SADE 0.1) |');
    expect(text).toContain('| lora-r8 <label & co> | **0.001: 50.0**, 0.01: diverged |');
    expect(text).toContain('except where the grid was one point (taken as given, marked "not tuned" below); 3 seeds per row.');
    const none = taskMarkdown({ ...task, rows: [untuned(rows[0]!), untuned(rows[3]!)] }, result);
    expect(none).toContain('lr and SADE weight given per method, not tuned (a grid of one point each); 3 seeds per row.');
    expect(none).not.toContain('validation samples carved');
  });
});

describe('study report paths', () => {
  it('writes a backbone under the home folder as ~/…, so the tables read the same on any machine', () => {
    expect(homeRelative('/home/ann/.cache/clora-web/backbones/w.safetensors', '/home/ann')).toBe('~/.cache/clora-web/backbones/w.safetensors');
    expect(homeRelative('/home/anna/w.safetensors', '/home/ann')).toBe('/home/anna/w.safetensors');
    expect(homeRelative('public/models/vit-mnist.safetensors', '/home/ann')).toBe('public/models/vit-mnist.safetensors');
    const result = { options: { trainPerClass: 100, tuneSeeds: 1, seeds: 3, sadeGrid: [0.1] }, budget: { epochs: 1, batchSize: 50, weightDecay: 0, schedule: 'constant' } } as unknown as StudyResult;
    const home = homedir();
    const md = taskMarkdown({ ...task, backbone: { ...task.backbone, path: join(home, '.cache', 'b.safetensors') } }, result);
    expect(md).toContain('parameters (~/.cache/b.safetensors)');
  });
});
