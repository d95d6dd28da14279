import { LitElement, css, html } from 'lit';
import { itemsFromDataTransfer } from '../data/intake';
import { DEFAULT_CAMERA, type CameraPrefs, type DataState } from '../app/state';
import { storedCloudBytes } from '../data/points/quantize';
import { samplesText, type SampleKind } from '../data/sample-kind';
import './class-card';
import type { WebcamEvents } from './webcam-capture';
import './webcam-capture';
import { emit } from '../app/events';
import { baseStyles } from './styles';

/**
 * The data set: drop a folder (one sub-folder per class) or a .zip, pick them with file inputs, use the
 * sample data, manage classes, record webcam frames into a class (images only), set the validation split,
 * and see the files that were skipped and why. `kind` is what the loaded backbone takes (images or point
 * clouds); `notice` says why the stored data cannot train on it, when it holds the other kind. Emits `use-sample-data`, `add-dropped` {items}, `add-files` {files,
 * classId?, label}, `add-class` {name}, `clear-data`, `set-validation-share` {share}, `clear-skipped`,
 * `add-frames` {classId, blobs} (and the class cards' own events bubble through).
 */
export class DataPanel extends LitElement {
  static override properties = {
    data: { attribute: false },
    camera: { attribute: false },
    kind: { type: String },
    notice: { type: String },
    pointCount: { type: Number, attribute: 'point-count' },
    disabled: { type: Boolean },
    over: { state: true },
    recordClass: { state: true },
    confirmClear: { state: true },
  };
  declare data: DataState | undefined;
  /** The webcam's camera, mirroring and frame rate. */
  declare camera: CameraPrefs;
  declare kind: SampleKind;
  declare notice: string | undefined;
  /** P, the points a point backbone brings every cloud to. */
  declare pointCount: number;
  declare disabled: boolean;
  declare private over: boolean;
  declare private recordClass: string;
  declare private confirmClear: boolean;

  constructor() {
    super();
    this.data = undefined;
    this.camera = DEFAULT_CAMERA;
    this.kind = 'images';
    this.notice = undefined;
    this.pointCount = 0;
    this.disabled = false;
    this.over = false;
    this.recordClass = '';
    this.confirmClear = false;
  }

  static override styles = [
    baseStyles,
    css`
      .dropzone {
        padding: 1.25rem;
        margin: 0.6rem 0;
      }
      .classes {
        display: grid;
        grid-template-columns: repeat(auto-fill, minmax(15rem, 1fr));
        gap: 0.6rem;
        margin: 0.6rem 0;
      }
      .skipped li {
        font-size: 0.9rem;
      }
      .skipped code {
        word-break: break-all;
      }
      .webcam {
        margin-top: 0.6rem;
        padding: 0.5rem;
        border: 1px solid #dde3ec;
        border-radius: 8px;
      }
      input[type='file'] {
        font-size: 0.85rem;
      }
    `,
  ];

  private onDrop(event: DragEvent): void {
    event.preventDefault();
    this.over = false;
    if (this.disabled) return;
    const items = itemsFromDataTransfer(event.dataTransfer);
    if (items.length) emit(this, 'add-dropped', { items });
  }

  private onInput(event: Event, label: string): void {
    const input = event.target as HTMLInputElement;
    const files = [...(input.files ?? [])];
    if (files.length) emit(this, 'add-files', { files, label });
    input.value = '';
  }

  private onAddClass(event: Event): void {
    event.preventDefault();
    const input = this.renderRoot.querySelector<HTMLInputElement>('input[name="new-class"]');
    emit(this, 'add-class', { name: input?.value ?? '' });
    if (input) input.value = '';
  }

  override render() {
    const d = this.data;
    if (!d) return '';
    const classes = d.classes;
    const recordInto = classes.find((c) => c.id === this.recordClass) ?? classes[0];
    const validation = classes.reduce((n, c) => n + c.validation, 0);
    const points = this.kind === 'points';
    const held = d.kind ?? this.kind;
    const pointBytes = storedCloudBytes(this.pointCount);
    return html`
      <p class="muted" data-testid="data-hint">
        ${points
          ? html`Drop a folder with one sub-folder of point clouds per class (or a .zip of it) below, or drop point files onto a class: .ply, .obj and .off
              meshes (points sampled on their faces), .xyz, .txt and .pts scans, .npy arrays. Each is centred, scaled into the unit sphere, brought to
              the model's ${this.pointCount.toLocaleString('en-US')} points and kept in this browser's storage
              (${pointBytes >= 1000 ? `${(pointBytes / 1000).toFixed(1)} KB` : `${pointBytes} bytes`} each).`
          : "Drop a folder with one sub-folder per class (or a .zip of it) below, or drop images onto a class. Images are resized to the model's input and kept in this browser's storage."}
      </p>
      ${this.notice ? html`<p class="alert" role="alert" data-testid="data-kind-notice">${this.notice}</p>` : ''}
      <div class="row">
        <button class="primary" ?disabled=${this.disabled || d.intake !== undefined} @click=${() => emit(this, 'use-sample-data')}>Use sample data</button>
        <label>Add a folder <input type="file" webkitdirectory multiple ?disabled=${this.disabled} @change=${(e: Event) => this.onInput(e, 'Adding the folder')} /></label>
        <label>Add a .zip <input type="file" accept=".zip,application/zip" ?disabled=${this.disabled} @change=${(e: Event) => this.onInput(e, 'Adding the zip file')} /></label>
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
        Drop a folder of class folders, or a .zip, here${points ? ' (point clouds)' : ''}
      </div>
      ${d.intake
        ? html`<p role="status" class="note">${d.intake.label}: ${d.intake.seen} files looked at, ${d.intake.added} added, ${d.intake.skipped} skipped…</p>`
        : d.message
          ? html`<p role="status" class="note" data-testid="data-message">${d.message}</p>`
          : ''}
      <div class="row">
        <strong data-testid="data-summary">${samplesText(held, d.total)} in ${classes.length} class${classes.length === 1 ? '' : 'es'}${d.total ? `, ${validation} held out for validation` : ''}</strong>
        <label
          >Validation share (%)
          <input
            type="number"
            min="0"
            max="90"
            step="5"
            .value=${String(Math.round(d.validationShare * 100))}
            ?disabled=${this.disabled}
            @change=${(e: Event) => emit(this, 'set-validation-share', { share: Number((e.target as HTMLInputElement).value) / 100 })}
        /></label>
        <form class="row" @submit=${this.onAddClass}>
          <label>New class <input name="new-class" placeholder="name" ?disabled=${this.disabled} /></label>
          <button type="submit" ?disabled=${this.disabled}>Add class</button>
        </form>
        ${this.confirmClear
          ? html`<span role="group" aria-label="Confirm clearing the data set" class="row">
              <button
                @click=${() => {
                  this.confirmClear = false;
                  emit(this, 'clear-data');
                }}
              >
                Delete all ${samplesText(held, d.total)}
              </button>
              <button @click=${() => (this.confirmClear = false)}>Keep them</button>
            </span>`
          : html`<button ?disabled=${this.disabled || d.total + classes.length === 0} @click=${() => (this.confirmClear = true)}>Clear data set</button>`}
      </div>
      <div class="classes">${classes.map((c) => html`<clora-class-card .view=${c} kind=${held} ?disabled=${this.disabled}></clora-class-card>`)}</div>
      ${classes.length && !points
        ? html`<div class="webcam">
            <h3>Webcam</h3>
            <div class="row">
              <label
                >Record into class
                <select @change=${(e: Event) => (this.recordClass = (e.target as HTMLSelectElement).value)}>
                  ${classes.map((c) => html`<option value=${c.id} ?selected=${c.id === recordInto?.id}>${c.name}</option>`)}
                </select></label
              >
            </div>
            <clora-webcam
              mode="record"
              label="Webcam"
              .camera=${this.camera}
              ?disabled=${this.disabled}
              @frames=${(e: CustomEvent<WebcamEvents['frames']>) => {
                e.stopPropagation();
                if (recordInto) emit(this, 'add-frames', { classId: recordInto.id, blobs: e.detail.blobs });
              }}
            ></clora-webcam>
          </div>`
        : ''}
      ${d.skipped.length
        ? html`<details class="skipped" open>
            <summary>Skipped files (${d.skipped.length})</summary>
            <ul aria-label="Skipped files">
              ${d.skipped.slice(-200).map((s) => html`<li><code>${s.file}</code>: ${s.reason}</li>`)}
            </ul>
            <button @click=${() => emit(this, 'clear-skipped')}>Clear the list</button>
          </details>`
        : ''}
    `;
  }
}

customElements.define('clora-data-panel', DataPanel);

declare global {
  interface HTMLElementTagNameMap {
    'clora-data-panel': DataPanel;
  }
}
