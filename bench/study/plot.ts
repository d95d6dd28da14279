// One SVG per task: test accuracy against trainable parameters (log x axis), each row's mean over seeds with
// ±1 standard deviation error bars, one marker shape and colour per method family. A few dozen lines of SVG,
// written directly: nothing here needs a browser or a plotting library.
import { FAMILY_LABELS, type Family } from './methods';
import type { TaskSummary } from './study';

const WIDTH = 760;
const HEIGHT = 460;
const MARGIN = { left: 64, right: 190, top: 44, bottom: 56 };

const STYLE: Record<Family, { colour: string; marker: 'square' | 'diamond' | 'circle' | 'up' | 'down' }> = {
  head: { colour: '#7f7f7f', marker: 'square' },
  full: { colour: '#222222', marker: 'diamond' },
  lora: { colour: '#1f77b4', marker: 'circle' },
  clora: { colour: '#ff7f0e', marker: 'up' },
  'clora-sade': { colour: '#2ca02c', marker: 'down' },
};

export function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

const num = (v: number): string => (Math.round(v * 100) / 100).toString();

function marker(shape: (typeof STYLE)[Family]['marker'], x: number, y: number, colour: string, attrs: string): string {
  const r = 5.5;
  const fill = `fill="${colour}" stroke="white" stroke-width="1"`;
  switch (shape) {
    case 'circle':
      return `<circle cx="${num(x)}" cy="${num(y)}" r="${r}" ${fill} ${attrs}/>`;
    case 'square':
      return `<rect x="${num(x - r)}" y="${num(y - r)}" width="${2 * r}" height="${2 * r}" ${fill} ${attrs}/>`;
    case 'diamond':
      return `<polygon points="${num(x)},${num(y - r - 1)} ${num(x + r + 1)},${num(y)} ${num(x)},${num(y + r + 1)} ${num(x - r - 1)},${num(y)}" ${fill} ${attrs}/>`;
    case 'up':
      return `<polygon points="${num(x)},${num(y - r - 1)} ${num(x + r + 1)},${num(y + r)} ${num(x - r - 1)},${num(y + r)}" ${fill} ${attrs}/>`;
    case 'down':
      return `<polygon points="${num(x)},${num(y + r + 1)} ${num(x + r + 1)},${num(y - r)} ${num(x - r - 1)},${num(y - r)}" ${fill} ${attrs}/>`;
  }
}

/** "1k", "30k", "1.2M": tick labels for parameter counts. */
export function shortCount(n: number): string {
  if (n >= 1e6) return `${Number((n / 1e6).toPrecision(2))}M`;
  if (n >= 1e3) return `${Number((n / 1e3).toPrecision(2))}k`;
  return String(n);
}

/** A round step (1, 2 or 5 × 10^k) giving about `target` ticks over `span`. */
export function niceStep(span: number, target = 6): number {
  const raw = span / target;
  const power = 10 ** Math.floor(Math.log10(raw));
  const unit = raw / power;
  return (unit <= 1 ? 1 : unit <= 2 ? 2 : unit <= 5 ? 5 : 10) * power;
}

export interface PlotPoint {
  method: string;
  family: Family;
  tag: string;
  trainable: number;
  /** Percent. */
  mean: number;
  std: number;
}

/** The plot's points: rows with at least one finished seed; a single seed gets no error bar. */
export function plotPoints(task: TaskSummary): PlotPoint[] {
  return task.rows
    .filter((r) => Number.isFinite(r.mean))
    .map((r) => ({ method: r.method, family: r.family, tag: r.tag, trainable: r.trainable, mean: 100 * r.mean, std: Number.isFinite(r.std) ? 100 * r.std : 0 }));
}

export function accuracyPlotSvg(task: TaskSummary, subtitle: string): string {
  const points = plotPoints(task);
  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const plotH = HEIGHT - MARGIN.top - MARGIN.bottom;
  const logs = points.map((p) => Math.log10(p.trainable));
  const xLo = Math.floor((logs.length ? Math.min(...logs) : 3) - 0.05);
  const xHi = Math.ceil(Math.max(...logs, xLo + 1) + 0.05);
  const lows = points.map((p) => p.mean - p.std);
  const highs = points.map((p) => p.mean + p.std);
  const rawLo = points.length ? Math.min(...lows) : 0;
  const rawHi = points.length ? Math.max(...highs) : 100;
  const step = niceStep(Math.max(rawHi - rawLo, 1));
  const yLo = Math.floor((rawLo - step / 2) / step) * step;
  const yHi = Math.ceil((rawHi + step / 2) / step) * step;
  const x = (trainable: number): number => MARGIN.left + ((Math.log10(trainable) - xLo) / (xHi - xLo)) * plotW;
  const y = (percent: number): number => MARGIN.top + (1 - (percent - yLo) / (yHi - yLo)) * plotH;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="Helvetica, Arial, sans-serif" font-size="12">`);
  out.push(`<title>${escapeXml(task.title)}</title>`);
  out.push(`<rect width="${WIDTH}" height="${HEIGHT}" fill="white"/>`);
  out.push(`<text x="${MARGIN.left}" y="18" font-size="14" font-weight="bold">${escapeXml(task.title)}</text>`);
  out.push(`<text x="${MARGIN.left}" y="34" fill="#555">${escapeXml(subtitle)}</text>`);
  // Grid and axes.
  for (let v = yLo; v <= yHi + 1e-9; v += step) {
    const yy = y(v);
    out.push(`<line x1="${MARGIN.left}" x2="${MARGIN.left + plotW}" y1="${num(yy)}" y2="${num(yy)}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${MARGIN.left - 6}" y="${num(yy + 4)}" text-anchor="end">${num(v)}</text>`);
  }
  for (let k = xLo; k <= xHi; k++) {
    for (const m of [1, 2, 5]) {
      const value = m * 10 ** k;
      if (Math.log10(value) > xHi + 1e-9) continue;
      const xx = x(value);
      out.push(`<line x1="${num(xx)}" x2="${num(xx)}" y1="${MARGIN.top}" y2="${MARGIN.top + plotH}" stroke="${m === 1 ? '#d0d0d0' : '#f0f0f0'}"/>`);
      if (m === 1 || xHi - xLo <= 3) out.push(`<text x="${num(xx)}" y="${MARGIN.top + plotH + 16}" text-anchor="middle">${shortCount(value)}</text>`);
    }
  }
  out.push(`<rect x="${MARGIN.left}" y="${MARGIN.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#333"/>`);
  out.push(`<text x="${MARGIN.left + plotW / 2}" y="${HEIGHT - 14}" text-anchor="middle">trainable parameters (log scale)</text>`);
  out.push(`<text transform="translate(16 ${MARGIN.top + plotH / 2}) rotate(-90)" text-anchor="middle">test accuracy % (mean ± 1 std over seeds)</text>`);
  // Points with error bars. Rows with the same parameter count (CLoRA with and without SADE) are drawn a
  // few pixels apart so that neither hides the other.
  const sameCount = new Map<number, PlotPoint[]>();
  for (const p of points) sameCount.set(p.trainable, [...(sameCount.get(p.trainable) ?? []), p]);
  const dodge = (p: PlotPoint): number => {
    const group = sameCount.get(p.trainable)!;
    return (group.indexOf(p) - (group.length - 1) / 2) * 10;
  };
  for (const p of points) {
    const { colour, marker: shape } = STYLE[p.family];
    const xx = x(p.trainable) + dodge(p);
    if (p.std > 0) {
      const top = y(p.mean + p.std);
      const bottom = y(p.mean - p.std);
      out.push(`<path d="M${num(xx)} ${num(top)}V${num(bottom)}M${num(xx - 4)} ${num(top)}H${num(xx + 4)}M${num(xx - 4)} ${num(bottom)}H${num(xx + 4)}" stroke="${colour}" stroke-width="1.5" fill="none"/>`);
    }
    const attrs = `class="point" data-method="${escapeXml(p.method)}" data-trainable="${p.trainable}" data-mean="${p.mean.toFixed(4)}" data-std="${p.std.toFixed(4)}"`;
    out.push(marker(shape, xx, y(p.mean), colour, attrs));
    out.push(`<text x="${num(xx + 8)}" y="${num(y(p.mean) - 6)}" font-size="10" fill="${colour}">${escapeXml(p.tag)}</text>`);
  }
  // Legend: the families present.
  const families = (Object.keys(STYLE) as Family[]).filter((f) => points.some((p) => p.family === f));
  families.forEach((family, i) => {
    const lx = MARGIN.left + plotW + 22;
    const ly = MARGIN.top + 14 + i * 22;
    out.push(marker(STYLE[family].marker, lx, ly, STYLE[family].colour, 'class="legend"'));
    out.push(`<text x="${lx + 12}" y="${ly + 4}">${escapeXml(FAMILY_LABELS[family])}</text>`);
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
