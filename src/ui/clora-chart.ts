import { LitElement, css, html, unsafeCSS, type PropertyValues } from 'lit';
import uPlot from 'uplot';
import uPlotCss from 'uplot/dist/uPlot.min.css?inline';
import { baseStyles } from './styles';

export interface ChartSeries {
  label: string;
  color: string;
  /** Scale the series uses: 'y' (left) or a second one such as 'sade' (right axis). */
  scale?: string;
}

/**
 * A line chart (uPlot) of training curves. `data` is [x, y1, y2, …] with null for gaps. For screen
 * readers the element is an image whose name says how many points it has and the latest values.
 */
export class CloraChart extends LitElement {
  static override properties = {
    label: { type: String },
    xLabel: { type: String, attribute: 'x-label' },
    series: { attribute: false },
    data: { attribute: false },
    percent: { type: Boolean },
  };
  declare label: string;
  declare xLabel: string;
  declare series: ChartSeries[];
  declare data: (number | null)[][];
  declare percent: boolean;

  private plot: uPlot | undefined;
  private resize: ResizeObserver | undefined;
  private plotKey = '';

  constructor() {
    super();
    this.label = 'Chart';
    this.xLabel = 'step';
    this.series = [];
    this.data = [[]];
    this.percent = false;
  }

  static override styles = [
    baseStyles,
    unsafeCSS(uPlotCss),
    css`
      :host {
        min-width: 16rem;
      }
      .frame {
        border: 1px solid #dde3ec;
        border-radius: 6px;
        padding: 0.25rem;
        min-height: 12rem;
        background: #fff;
      }
      .empty {
        padding: 4rem 0;
        text-align: center;
      }
    `,
  ];

  get points(): number {
    return this.data[0]?.length ?? 0;
  }

  private summary(): string {
    const n = this.points;
    if (n === 0) return `${this.label}: no points yet`;
    const latest = this.series
      .map((s, i) => {
        const v = this.data[i + 1]?.[n - 1];
        return v === null || v === undefined ? '' : `${s.label} ${this.percent ? `${(100 * v).toFixed(1)} %` : v.toFixed(4)}`;
      })
      .filter(Boolean)
      .join(', ');
    return `${this.label}: ${n} point${n === 1 ? '' : 's'} up to ${this.xLabel} ${this.data[0]![n - 1]}${latest ? `; latest ${latest}` : ''}`;
  }

  override render() {
    return html`<div class="frame" role="img" aria-label=${this.summary()} data-points=${this.points}>
      ${this.points === 0 ? html`<p class="empty muted">${this.label}: the curve appears once training reports.</p>` : html`<div class="plot"></div>`}
    </div>`;
  }

  protected override updated(changed: PropertyValues<this>): void {
    const host = this.renderRoot.querySelector<HTMLElement>('.plot');
    if (!host) {
      this.destroyPlot();
      return;
    }
    const key = `${this.series.map((s) => s.label).join('|')}|${this.percent}`;
    if (!this.plot || this.plotKey !== key || !host.contains(this.plot.root)) {
      this.destroyPlot();
      this.createPlot(host);
      this.plotKey = key;
    } else if (changed.has('data')) {
      this.plot.setData(this.data as uPlot.AlignedData);
    }
  }

  private createPlot(host: HTMLElement): void {
    const width = Math.max(240, host.clientWidth || this.clientWidth || 400);
    const scales: uPlot.Scales = { x: { time: false } };
    const axes: uPlot.Axis[] = [{ label: this.xLabel }, { label: this.label, values: this.percent ? (_u, vals) => vals.map((v) => `${Math.round(v * 100)}%`) : undefined }];
    if (this.percent) scales.y = { range: [0, 1] };
    const extra = [...new Set(this.series.map((s) => s.scale).filter((s): s is string => Boolean(s) && s !== 'y'))];
    for (const scale of extra) axes.push({ scale, side: 1, label: scale, grid: { show: false } });
    this.plot = new uPlot(
      {
        width,
        height: 180,
        scales,
        axes,
        legend: { show: true },
        cursor: { drag: { x: false, y: false } },
        series: [{ label: this.xLabel }, ...this.series.map((s) => ({ label: s.label, stroke: s.color, width: 2, scale: s.scale ?? 'y', spanGaps: true, points: { show: this.points < 40 } }))],
      },
      this.data as uPlot.AlignedData,
      host,
    );
    this.resize?.disconnect();
    this.resize = new ResizeObserver(() => {
      const w = Math.max(240, host.clientWidth);
      if (this.plot && Math.abs(this.plot.width - w) > 4) this.plot.setSize({ width: w, height: 180 });
    });
    this.resize.observe(host);
  }

  private destroyPlot(): void {
    this.resize?.disconnect();
    this.resize = undefined;
    this.plot?.destroy();
    this.plot = undefined;
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    this.destroyPlot();
  }
}

customElements.define('clora-chart', CloraChart);

declare global {
  interface HTMLElementTagNameMap {
    'clora-chart': CloraChart;
  }
}
