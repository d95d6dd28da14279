import { LitElement, css, html } from 'lit';
import type { ConfusionCell } from '../app/state';
import { emit } from '../app/events';
import { sampleNoun, samplesText, type SampleKind } from '../data/sample-kind';
import { confusedPairs, type Evaluation } from '../train/evaluate';
import { styleProperties } from './style-properties';
import { baseStyles } from './styles';
import { percent } from './format';
import './point-preview';

/**
 * The evaluation after training: accuracy, per-class accuracy, the class pairs confused most, and the
 * confusion matrix, every cell of which opens the samples counted in it with their top predictions. Emits
 * `open-confusion-cell` {actual, predicted} and `close-confusion-cell`.
 */
export class EvaluationView extends LitElement {
  static override properties = {
    evaluation: { attribute: false },
    on: { type: String },
    cell: { attribute: false },
    kind: { type: String },
  };
  declare evaluation: Evaluation | undefined;
  declare on: 'validation' | 'training';
  declare cell: ConfusionCell | undefined;
  declare kind: SampleKind;

  constructor() {
    super();
    this.evaluation = undefined;
    this.on = 'validation';
    this.cell = undefined;
    this.kind = 'images';
  }

  static override styles = [
    baseStyles,
    css`
      table {
        border-collapse: collapse;
        font-size: 0.85rem;
        margin: 0.4rem 0 0.8rem;
      }
      th,
      td {
        border: 1px solid #dde3ec;
        padding: 0.15rem 0.4rem;
        text-align: right;
      }
      th {
        background: #f4f6f9;
      }
      th[scope='row'] {
        text-align: left;
      }
      td.cell {
        padding: 0;
      }
      td.cell button {
        width: 100%;
        min-width: 2.2rem;
        border: none;
        border-radius: 0;
        background: transparent;
        padding: 0.15rem 0.4rem;
        text-align: right;
        font-size: 0.85rem;
      }
      @media (pointer: coarse) {
        td.cell button {
          min-width: 44px;
          min-height: 44px;
        }
      }
      td.cell button[aria-pressed='true'] {
        outline: 3px solid #1d2430;
        outline-offset: -3px;
      }
      td.hit button {
        font-weight: 700;
      }
      .wrap {
        overflow-x: auto;
      }
      .images {
        list-style: none;
        padding: 0;
        margin: 0.5rem 0;
        display: grid;
        grid-template-columns: repeat(auto-fill, minmax(7.5rem, 1fr));
        gap: 0.5rem;
      }
      .images li {
        border: 1px solid #dde3ec;
        border-radius: 6px;
        padding: 0.35rem;
        font-size: 0.8rem;
      }
      .images img {
        width: 64px;
        height: 64px;
        image-rendering: pixelated;
        display: block;
        margin-bottom: 0.25rem;
        background: #eee;
      }
      .images ol {
        margin: 0;
        padding-left: 1.1rem;
      }
      .drill {
        border: 1px solid #dde3ec;
        border-radius: 8px;
        padding: 0.5rem 0.75rem;
        margin: 0.5rem 0;
      }
    `,
  ];

  private cellLabel(e: Evaluation, i: number, j: number, v: number): string {
    const images = samplesText(this.kind, v);
    return i === j ? `${images} of ${e.classes[i]} predicted correctly` : `${images} of ${e.classes[i]} predicted as ${e.classes[j]}`;
  }

  private renderCell(e: Evaluation) {
    const c = this.cell;
    if (!c) return '';
    const title = c.actual === c.predicted ? `${e.classes[c.actual]} predicted correctly` : `${e.classes[c.actual]} predicted as ${e.classes[c.predicted]}`;
    return html`<section class="drill" aria-label=${`Images: ${title}`} data-testid="confusion-cell">
      <div class="row">
        <h3>${title}: ${samplesText(this.kind, c.count)}${c.images.length < c.count && !c.loading ? ` (the first ${c.images.length} shown)` : ''}</h3>
        <button @click=${() => emit(this, 'close-confusion-cell')}>Close</button>
      </div>
      ${c.loading
        ? html`<p class="muted" role="status">Loading the ${sampleNoun(this.kind)}…</p>`
        : c.count === 0
          ? html`<p class="muted">No ${sampleNoun(this.kind, 1)} is in this cell.</p>`
          : html`<ul class="images">
              ${c.images.map(
                (image) => html`<li data-key=${image.key}>
                  ${image.cloud
                    ? html`<clora-point-preview .points=${image.cloud} size="64" label=${`A ${e.classes[c.actual]} point cloud, predicted ${image.top[0]?.class ?? ''}`}></clora-point-preview>`
                    : html`<img src=${image.thumbnail} alt=${`A ${e.classes[c.actual]} image, predicted ${image.top[0]?.class ?? ''}`} />`}
                  <ol aria-label="Top predictions for this image">
                    ${image.top.map((t) => html`<li data-class=${t.class} data-probability=${t.probability}>${t.class} ${percent(t.probability)}</li>`)}
                  </ol>
                </li>`,
              )}
            </ul>`}
    </section>`;
  }

  override render() {
    const e = this.evaluation;
    if (!e) return '';
    const max = Math.max(1, ...e.confusion.flat());
    const pairs = confusedPairs(e);
    const open = this.cell;
    const noun = sampleNoun(this.kind);
    return html`
      <h3>Evaluation on the ${this.on} ${noun}</h3>
      <p data-testid="final-accuracy">Accuracy ${percent(e.accuracy)} on ${e.count} ${this.on} ${noun}.${this.on === 'training' ? ` (No ${noun} were held out: set a validation share for an honest number.)` : ''}</p>
      <div class="wrap">
        <table>
          <caption class="visually-hidden">Accuracy per class</caption>
          <thead>
            <tr><th scope="col">class</th><th scope="col">${noun}</th><th scope="col">accuracy</th></tr>
          </thead>
          <tbody>
            ${e.perClass.map((p) => html`<tr><th scope="row">${p.class}</th><td>${p.count}</td><td>${percent(p.accuracy)}</td></tr>`)}
          </tbody>
        </table>
      </div>
      ${pairs.length
        ? html`<h3>Confused most</h3>
            <ul aria-label="Class pairs confused most" data-testid="confused-pairs">
              ${pairs.map(
                (p) => html`<li>
                  <strong>${e.classes[p.a]} and ${e.classes[p.b]}</strong>: ${samplesText(this.kind, p.aAsB + p.bAsA)} (${p.aAsB} ${e.classes[p.a]} taken for ${e.classes[p.b]},
                  ${p.bAsA} ${e.classes[p.b]} taken for ${e.classes[p.a]})
                </li>`,
              )}
            </ul>`
        : html`<p class="muted">No class was confused with another.</p>`}
      <p class="muted">Choose a cell of the matrix to see its ${noun}.</p>
      <div class="wrap">
        <table aria-label="Confusion matrix: rows are the true class, columns the predicted class">
          <thead>
            <tr>
              <th scope="col">true ↓ / predicted →</th>
              ${e.classes.map((c) => html`<th scope="col">${c}</th>`)}
            </tr>
          </thead>
          <tbody>
            ${e.confusion.map(
              (row, i) => html`<tr>
                <th scope="row">${e.classes[i]}</th>
                ${row.map(
                  (v, j) => html`<td class="cell ${i === j ? 'hit' : ''}" style=${styleProperties({ background: v ? `rgba(31, 95, 191, ${(0.08 + (0.5 * v) / max).toFixed(3)})` : undefined })}>
                    <button
                      aria-label=${this.cellLabel(e, i, j, v)}
                      aria-pressed=${open?.actual === i && open.predicted === j ? 'true' : 'false'}
                      @click=${() => emit(this, 'open-confusion-cell', { actual: i, predicted: j })}
                    >
                      ${v}
                    </button>
                  </td>`,
                )}
              </tr>`,
            )}
          </tbody>
        </table>
      </div>
      ${this.renderCell(e)}
    `;
  }
}

customElements.define('clora-evaluation', EvaluationView);

declare global {
  interface HTMLElementTagNameMap {
    'clora-evaluation': EvaluationView;
  }
}
