import { LitElement, css, html } from 'lit';
import { AppController } from '../app/controller';
import { backboneTakes, dataKindProblem } from '../app/data-kind';
import { listen } from '../app/events';
import type { AppState } from '../app/state';
import { sampleNoun } from '../data/sample-kind';
import { KNOWN_MODELS } from '../nn/models';
import './backbone-picker';
import './checkpoint-list';
import './data-panel';
import './export-panel';
import './project-bar';
import './site-status';
import './training-panel';
import './try-it';
import { baseStyles } from './styles';

/**
 * The app shell: lays out the panels and renders the controller's state into them; the panels' events
 * bubble up to it and go to the controller's handlers (src/app/events.ts). Says plainly when this browser
 * cannot train (no WebGPU) and what to do. Two columns where the window is wide enough (project, backbone
 * and data on the left; training, checkpoints, exports and Try it on the right), one column on tablets in
 * portrait and on phones; the reading and tab order is the same in both.
 */
// Reactive state is declared through `static properties` (no decorators), which works with any transpiler.
export class CloraApp extends LitElement {
  static override properties = { state: { state: true } };
  declare private state: AppState;
  readonly controller: AppController;

  constructor() {
    super();
    this.controller = new AppController();
    this.state = this.controller.state;
    this.controller.store.subscribe((state) => (this.state = state));
    listen(this, this.controller.handlers);
  }

  static override styles = [
    baseStyles,
    css`
      :host {
        max-width: 68rem;
        margin: 1.5rem auto;
        padding: 0 1rem 3rem;
      }
      .columns {
        display: grid;
        grid-template-columns: minmax(0, 1fr);
        column-gap: 1rem;
        align-items: start;
      }
      .column {
        min-width: 0;
      }
      /* Room for two columns of panels (a laptop, a tablet in landscape). */
      @media (min-width: 62rem) {
        :host {
          max-width: 110rem;
        }
        .columns {
          grid-template-columns: minmax(0, 5fr) minmax(0, 6fr);
        }
      }
      @media (max-width: 40rem) {
        :host {
          margin-top: 0.75rem;
          padding: 0 0.5rem 2rem;
        }
        section.panel {
          padding: 0.75rem 0.6rem;
        }
      }
      h1 {
        font-size: 1.6rem;
        margin: 0 0 0.25rem;
      }
      header p {
        margin: 0.2rem 0;
      }
      section.panel {
        border: 1px solid #dde3ec;
        border-radius: 10px;
        padding: 0.9rem 1rem;
        margin: 1rem 0;
        background: #fff;
      }
      .status {
        padding: 0.6rem 0.9rem;
        border-radius: 6px;
        background: #eef3f8;
      }
      .status.error {
        background: #fdecec;
        color: #8a1c1c;
      }
      .privacy {
        color: #4a5566;
        font-size: 0.9rem;
      }
    `,
  ];

  override connectedCallback(): void {
    super.connectedCallback();
    void this.controller.start();
  }

  private renderGpu() {
    const g = this.state.gpu;
    if (g.kind === 'checking') return html`<p class="status" role="status" data-testid="gpu-status">Looking for a WebGPU adapter…</p>`;
    if (g.kind === 'ready')
      return html`<p class="status" role="status" data-testid="gpu-status">
        WebGPU ready on <strong>${g.adapter}</strong>${g.features.length ? html` (${g.features.join(', ')})` : ''}, <span title=${g.profile.reason}>${g.profile.kind} profile</span>.
      </p>`;
    return html`<p class="status error" role="alert" data-testid="gpu-status">${g.message}</p>`;
  }

  override render() {
    const s = this.state;
    const gpuOk = s.gpu.kind === 'ready';
    const backboneReady = s.backbone.status === 'ready';
    const running = s.run.phase === 'training' || s.run.phase === 'starting';
    const info = s.backbone.info;
    // What the backbone takes, and why the stored data cannot train on it (it holds the other kind).
    const takes = backboneTakes(info);
    const kindProblem = dataKindProblem(s.data, info);
    const noun = sampleNoun(takes);
    const classesWithSamples = s.data.classes.filter((k) => k.count > 0).length;
    const canTrain = gpuOk && backboneReady && classesWithSamples >= 2 && s.data.intake === undefined && !kindProblem;
    const hint = !backboneReady
      ? 'Waiting for the backbone…'
      : kindProblem
        ? `The data set holds ${sampleNoun(s.data.kind ?? 'images')}; this backbone takes ${noun} (see Data).`
        : classesWithSamples < 2
          ? `Add ${noun} of at least two classes first.`
          : s.data.intake
            ? `Adding ${noun}…`
            : '';
    return html`
      <header>
        <h1>clora-web</h1>
        <p>Fine-tune a pretrained transformer for images or point clouds with CLoRA on your own GPU, in this page.</p>
        <p class="privacy">
          Nothing leaves your machine: your images or point clouds, training, checkpoints and exports stay in this browser. The only network request is the backbone
          download you choose (none for the bundled backbone).
        </p>
        ${this.renderGpu()}
        <clora-site-status .site=${s.site}></clora-site-status>
      </header>
      ${gpuOk
        ? html`<div class="columns">
            <div class="column">
              <section class="panel" aria-labelledby="h-project">
                <h2 id="h-project">Project</h2>
                <clora-project-bar .state=${s.project} .images=${s.data.total} .kind=${s.data.kind} ?disabled=${running || !backboneReady || s.data.intake !== undefined}></clora-project-bar>
              </section>
              <section class="panel" aria-labelledby="h-backbone">
                <h2 id="h-backbone">1. Backbone</h2>
                <clora-backbone-picker
                  .state=${s.backbone}
                  .models=${KNOWN_MODELS}
                  ?disabled=${running}
                ></clora-backbone-picker>
              </section>
              <section class="panel" aria-labelledby="h-data">
                <h2 id="h-data">2. Data</h2>
                <clora-data-panel
                  .data=${s.data}
                  .camera=${s.camera}
                  kind=${takes}
                  .notice=${kindProblem}
                  point-count=${info?.kind === 'point' ? info.points : 0}
                  ?disabled=${!backboneReady}
                ></clora-data-panel>
              </section>
            </div>
            <div class="column">
              <section class="panel" aria-labelledby="h-train">
                <h2 id="h-train">3. Train</h2>
                <clora-training-panel
                  .settings=${s.settings}
                  .run=${s.run}
                  ?can-train=${canTrain}
                  .hint=${hint}
                  kind=${takes}
                ></clora-training-panel>
              </section>
              <section class="panel" aria-labelledby="h-checkpoints">
                <h2 id="h-checkpoints">4. Checkpoints</h2>
                <clora-checkpoints
                  .state=${s.checkpoints}
                  ?busy=${running}
                  .inUse=${s.model.kind === 'checkpoint' ? s.model.checkpointId : undefined}
                ></clora-checkpoints>
              </section>
              <section class="panel" aria-labelledby="h-export">
                <h2 id="h-export">5. Export and import</h2>
                <clora-export-panel
                  .model=${s.model}
                  .busy=${s.exporting}
                  .message=${s.exportMessage}
                  kind=${takes}
                  ?disabled=${!backboneReady}
                ></clora-export-panel>
              </section>
              <section class="panel" aria-labelledby="h-try">
                <h2 id="h-try">6. Try it</h2>
                <clora-try-it
                  .result=${s.prediction.result}
                  .camera=${s.camera}
                  ?busy=${s.prediction.busy}
                  .message=${s.prediction.message}
                  .modelLabel=${s.model.kind === 'none' ? (s.backbone.info?.headClasses.length ? `the backbone's own head (${s.backbone.info.headClasses.length} classes)` : '') : s.model.label}
                  kind=${takes}
                  ?disabled=${!backboneReady}
                ></clora-try-it>
              </section>
            </div>
          </div>`
        : ''}
    `;
  }
}

customElements.define('clora-app', CloraApp);

declare global {
  interface HTMLElementTagNameMap {
    'clora-app': CloraApp;
  }
}
