import { LitElement, css, html } from 'lit';
import type { ProjectState } from '../app/state';
import { emit } from '../app/events';
import { sampleNoun, samplesText, type SampleKind } from '../data/sample-kind';
import { baseStyles } from './styles';
import { styleProperties } from './style-properties';

/**
 * Projects: Save project (one .zip with the images or point clouds, settings and latest checkpoint), Open
 * project (asks before replacing the samples here), and Export data set (the class folders alone), with progress and what
 * happened. Emits `save-project`, `open-project` {file} and `export-dataset`.
 */
export class ProjectBar extends LitElement {
  static override properties = {
    state: { attribute: false },
    images: { type: Number },
    kind: { attribute: false },
    disabled: { type: Boolean },
    chosen: { state: true },
  };
  declare state: ProjectState | undefined;
  /** Images in the current data set (opening a project replaces them, so it asks first). */
  declare images: number;
  /** What the current data set holds (images when empty), for the words. */
  declare kind: SampleKind | undefined;
  declare disabled: boolean;
  declare private chosen: File | undefined;

  constructor() {
    super();
    this.state = undefined;
    this.images = 0;
    this.kind = undefined;
    this.disabled = false;
    this.chosen = undefined;
  }

  static override styles = [baseStyles, css``];

  private onChoose(event: Event): void {
    const input = event.target as HTMLInputElement;
    const file = input.files?.[0];
    input.value = '';
    if (!file) return;
    if (this.images > 0) this.chosen = file;
    else emit(this, 'open-project', { file });
  }

  private confirm(open: boolean): void {
    const file = this.chosen;
    this.chosen = undefined;
    if (open && file) emit(this, 'open-project', { file });
  }

  override render() {
    const s = this.state;
    if (!s) return '';
    const busy = s.busy !== undefined || this.disabled;
    const progress = s.progress;
    return html`
      <div class="row">
        <button ?disabled=${busy || this.images === 0} @click=${() => emit(this, 'save-project')}>Save project</button>
        <label>Open project <input type="file" accept=".zip,application/zip" ?disabled=${busy} @change=${this.onChoose} /></label>
        <button ?disabled=${busy || this.images === 0} @click=${() => emit(this, 'export-dataset')}>Export data set</button>
      </div>
      ${this.chosen
        ? html`<p class="note row" role="group" aria-label="Confirm opening the project">
            Opening ${this.chosen.name} replaces the ${samplesText(this.kind ?? 'images', this.images)} here (save this project first to keep them).
            <button class="primary" @click=${() => this.confirm(true)}>Open it</button>
            <button @click=${() => this.confirm(false)}>Keep the current ${sampleNoun(this.kind ?? 'images')}</button>
          </p>`
        : ''}
      ${progress && s.busy
        ? html`<div class="bar" role="progressbar" aria-label="Project progress" aria-valuemin="0" aria-valuemax=${progress.total} aria-valuenow=${progress.done}>
            <span style=${styleProperties({ width: `${((100 * progress.done) / Math.max(1, progress.total)).toFixed(1)}%` })}></span>
          </div>`
        : ''}
      ${s.message ? html`<p class=${s.failed ? 'alert' : 'note'} role=${s.failed ? 'alert' : 'status'} data-testid="project-message">${s.message}</p>` : ''}
      <p class="muted">
        A project is one .zip: the images or point clouds in class folders, the settings and the latest checkpoint. Open it in any browser to go
        on where you left off.
      </p>
    `;
  }
}

customElements.define('clora-project-bar', ProjectBar);

declare global {
  interface HTMLElementTagNameMap {
    'clora-project-bar': ProjectBar;
  }
}
