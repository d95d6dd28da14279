import { LitElement, css, html } from 'lit';
import { itemsFromDataTransfer } from '../data/intake';
import { POINT_FILE_ACCEPT } from '../data/point-samples';
import { samplesText, sampleNoun, type SampleKind } from '../data/sample-kind';
import type { ClassView } from '../app/state';
import { emit } from '../app/events';
import './point-preview';
import { baseStyles } from './styles';

/**
 * One class of the data set: name, counts, a few thumbnails (or 3-D previews of point clouds, to turn by
 * dragging), a drop target for its kind of sample, and rename, add and delete controls. Emits
 * `add-dropped` {items, classId}, `add-files` {files, classId}, `rename-class` {id, name} and `delete-class` {id}.
 */
export class ClassCard extends LitElement {
  static override properties = {
    view: { attribute: false },
    kind: { type: String },
    disabled: { type: Boolean },
    editing: { state: true },
    over: { state: true },
  };
  declare view: ClassView | undefined;
  /** What the class's samples are (and what it takes). */
  declare kind: SampleKind;
  declare disabled: boolean;
  declare private editing: boolean;
  declare private over: boolean;

  constructor() {
    super();
    this.view = undefined;
    this.kind = 'images';
    this.disabled = false;
    this.editing = false;
    this.over = false;
  }

  static override styles = [
    baseStyles,
    css`
      :host {
        border: 1px solid #c8d0dc;
        border-radius: 8px;
        padding: 0.6rem;
        background: #fbfcfd;
      }
      :host([over]) {
        border-color: #1f5fbf;
      }
      h3 {
        margin: 0;
        font-size: 1rem;
        word-break: break-word;
      }
      .thumbs {
        display: flex;
        gap: 3px;
        flex-wrap: wrap;
        min-height: 40px;
        margin: 0.4rem 0;
      }
      .thumbs img {
        width: 40px;
        height: 40px;
        image-rendering: pixelated;
        border-radius: 3px;
        background: #000;
      }
      .dropzone {
        padding: 0.4rem;
        font-size: 0.85rem;
      }
      .controls {
        display: flex;
        flex-wrap: wrap;
        gap: 0.3rem;
        margin-top: 0.4rem;
      }
      .controls button,
      .controls label {
        font-size: 0.85rem;
      }
      input[type='file'] {
        max-width: 11rem;
        font-size: 0.8rem;
      }
    `,
  ];

  private onDrop(event: DragEvent): void {
    event.preventDefault();
    this.over = false;
    if (this.disabled || !this.view) return;
    const items = itemsFromDataTransfer(event.dataTransfer);
    if (items.length) emit(this, 'add-dropped', { items, classId: this.view.id });
  }

  private onFiles(event: Event): void {
    const input = event.target as HTMLInputElement;
    const files = [...(input.files ?? [])];
    if (files.length && this.view) emit(this, 'add-files', { files, classId: this.view.id });
    input.value = '';
  }

  private onRename(event: Event): void {
    event.preventDefault();
    const input = this.renderRoot.querySelector<HTMLInputElement>('input[name="class-name"]');
    if (input && this.view) emit(this, 'rename-class', { id: this.view.id, name: input.value });
    this.editing = false;
  }

  override render() {
    const v = this.view;
    if (!v) return '';
    const noun = sampleNoun(this.kind);
    const clouds = v.clouds ?? [];
    return html`
      <section aria-label=${`Class ${v.name}`}>
        ${this.editing
          ? html`<form class="row" @submit=${this.onRename}>
              <label>New name <input name="class-name" .value=${v.name} aria-label=${`New name for class ${v.name}`} @keydown=${(e: KeyboardEvent) => e.key === 'Escape' && (this.editing = false)} /></label>
              <button type="submit">Save</button>
              <button type="button" @click=${() => (this.editing = false)}>Cancel</button>
            </form>`
          : html`<h3>${v.name}</h3>`}
        <p class="muted" data-testid="class-count">${samplesText(this.kind, v.count)}${v.validation ? ` (${v.validation} for validation)` : ''}</p>
        <div class="thumbs">
          ${clouds.length
            ? clouds.map((points, i) => html`<clora-point-preview .points=${points} label=${`${v.name} sample ${i + 1}`}></clora-point-preview>`)
            : v.thumbnails.map((src, i) => html`<img src=${src} alt=${`${v.name} sample ${i + 1}`} />`)}
        </div>
        <div
          class="dropzone ${this.over ? 'over' : ''}"
          @dragover=${(e: DragEvent) => {
            e.preventDefault();
            this.over = true;
          }}
          @dragleave=${() => (this.over = false)}
          @drop=${this.onDrop}
        >
          Drop ${noun} of “${v.name}” here
        </div>
        <div class="controls">
          <label
            >Add ${noun}
            <input
              type="file"
              accept=${this.kind === 'points' ? `${POINT_FILE_ACCEPT},.zip` : 'image/*,.zip'}
              multiple
              ?disabled=${this.disabled}
              aria-label=${`Add ${noun} to ${v.name}`}
              @change=${this.onFiles}
          /></label>
          <button ?disabled=${this.disabled} aria-label=${`Rename class ${v.name}`} @click=${async () => {
            this.editing = true;
            await this.updateComplete;
            this.renderRoot.querySelector<HTMLInputElement>('input[name="class-name"]')?.select();
          }}>Rename</button>
          <button ?disabled=${this.disabled} aria-label=${`Delete class ${v.name}`} @click=${() => emit(this, 'delete-class', { id: v.id })}>Delete</button>
        </div>
      </section>
    `;
  }
}

customElements.define('clora-class-card', ClassCard);

declare global {
  interface HTMLElementTagNameMap {
    'clora-class-card': ClassCard;
  }
}
