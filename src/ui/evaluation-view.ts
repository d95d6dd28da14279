import { LitElement, css, html } from 'lit';
import { sampleNoun, type SampleKind } from '../data/sample-kind';
import type { Evaluation } from '../train/evaluate';
import { baseStyles } from './styles';
import { percent } from './format';

/** The evaluation after training: accuracy, per-class accuracy and the confusion matrix, as tables. */
export class EvaluationView extends LitElement {
  static override properties = {
    evaluation: { attribute: false },
    on: { type: String },
    kind: { type: String },
  };
  declare evaluation: Evaluation | undefined;
  declare on: 'validation' | 'training';
  declare kind: SampleKind;

  constructor() {
    super();
    this.evaluation = undefined;
    this.on = 'validation';
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
      td.hit {
        font-weight: 700;
      }
      .wrap {
        overflow-x: auto;
      }
    `,
  ];

  override render() {
    const e = this.evaluation;
    if (!e) return '';
    const max = Math.max(1, ...e.confusion.flat());
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
                ${row.map((v, j) => html`<td class=${i === j ? 'hit' : ''} style=${v ? `background: rgba(31, 95, 191, ${(0.08 + (0.5 * v) / max).toFixed(3)})` : ''}>${v}</td>`)}
              </tr>`,
            )}
          </tbody>
        </table>
      </div>
    `;
  }
}

customElements.define('clora-evaluation', EvaluationView);

declare global {
  interface HTMLElementTagNameMap {
    'clora-evaluation': EvaluationView;
  }
}
