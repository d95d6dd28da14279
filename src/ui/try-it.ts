import { LitElement, css, html } from 'lit';
import { styleProperties } from './style-properties';
import { POINT_FILE_ACCEPT } from '../data/point-samples';
import type { SampleKind } from '../data/sample-kind';
import type { Prediction } from '../worker/protocol';
import './point-preview';
import type { WebcamEvents } from './webcam-capture';
import './webcam-capture';
import { emit } from '../app/events';
import { DEFAULT_CAMERA, type CameraPrefs } from '../app/state';
import { baseStyles } from './styles';
import { percent } from './format';

/**
 * Try the model: drop, paste or choose an image, or point the webcam at something; with a point backbone
 * (`kind` "points"), drop or choose a point file, shown as the model took it in a 3-D preview. Shows the
 * top-5 classes with probabilities. Emits `predict` {image} or `predict-cloud` {file}.
 */
export class TryIt extends LitElement {
  static override properties = {
    result: { attribute: false },
    busy: { type: Boolean },
    message: { type: String },
    modelLabel: { type: String, attribute: 'model-label' },
    kind: { type: String },
    disabled: { type: Boolean },
    camera: { attribute: false },
    preview: { state: true },
    over: { state: true },
  };
  declare result: Prediction | undefined;
  declare busy: boolean;
  declare message: string | undefined;
  declare modelLabel: string;
  /** What the backbone takes: images, or point clouds. */
  declare kind: SampleKind;
  declare disabled: boolean;
  /** The webcam's camera and mirroring. */
  declare camera: CameraPrefs;
  declare private preview: string | undefined;
  declare private over: boolean;

  constructor() {
    super();
    this.result = undefined;
    this.busy = false;
    this.message = undefined;
    this.modelLabel = '';
    this.kind = 'images';
    this.disabled = false;
    this.camera = DEFAULT_CAMERA;
    this.preview = undefined;
    this.over = false;
  }

  static override styles = [
    baseStyles,
    css`
      .area {
        display: flex;
        flex-wrap: wrap;
        gap: 1rem;
        align-items: flex-start;
      }
      .area > * {
        min-width: 0;
        max-width: 100%;
      }
      .dropzone {
        width: 12rem;
        min-height: 8rem;
        display: grid;
        place-items: center;
      }
      .dropzone img {
        max-width: 100%;
        max-height: 9rem;
        image-rendering: pixelated;
      }
      ol {
        margin: 0;
        padding-left: 1.4rem;
        min-width: 16rem;
      }
      li {
        margin: 0.2rem 0;
      }
      li .bar {
        width: 12rem;
        height: 0.5rem;
      }
    `,
  ];

  override connectedCallback(): void {
    super.connectedCallback();
    this.addEventListener('paste', this.onPaste);
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    this.removeEventListener('paste', this.onPaste);
    if (this.preview) URL.revokeObjectURL(this.preview);
  }

  private use(image: Blob): void {
    if (this.disabled) return;
    if (this.kind === 'points') {
      if (image instanceof File) emit(this, 'predict-cloud', { file: image });
      return;
    }
    if (this.preview) URL.revokeObjectURL(this.preview);
    this.preview = URL.createObjectURL(image);
    emit(this, 'predict', { image });
  }

  private onPaste = (event: ClipboardEvent): void => {
    if (this.kind === 'points') return;
    const file = [...(event.clipboardData?.files ?? [])].find((f) => f.type.startsWith('image/'));
    if (file) {
      event.preventDefault();
      this.use(file);
    }
  };

  private onDrop(event: DragEvent): void {
    event.preventDefault();
    this.over = false;
    const file = [...(event.dataTransfer?.files ?? [])][0];
    if (file) this.use(file);
  }

  private onFile(event: Event): void {
    const input = event.target as HTMLInputElement;
    const file = input.files?.[0];
    if (file) this.use(file);
    input.value = '';
  }

  private renderPoints() {
    const r = this.result;
    return html`
      <p class="muted" data-testid="predicting-with">${this.modelLabel ? `Predicting with: ${this.modelLabel}.` : ''} Drop a point file (.ply, .obj, .off, .xyz, .txt, .pts or .npy) on the box, or choose one.</p>
      <div class="area">
        <div
          class="dropzone ${this.over ? 'over' : ''}"
          role="group"
          aria-label="Point file to classify: drop one here"
          @dragover=${(e: DragEvent) => {
            e.preventDefault();
            this.over = true;
          }}
          @dragleave=${() => (this.over = false)}
          @drop=${this.onDrop}
        >
          ${r?.cloud ? html`<clora-point-preview .points=${r.cloud} size="150" label="The point cloud being classified"></clora-point-preview>` : html`<span>Drop a point file</span>`}
        </div>
        <div>
          <label>Choose a point file <input type="file" accept=${POINT_FILE_ACCEPT} ?disabled=${this.disabled} @change=${this.onFile} /></label>
        </div>
        ${this.renderTop()}
      </div>
      ${this.busy ? html`<p class="muted" role="status">Classifying…</p>` : ''}
      ${this.message ? html`<p class="alert" role="alert">${this.message}</p>` : ''}
    `;
  }

  private renderTop() {
    const r = this.result;
    if (!r) return '';
    return html`<div>
      <p class="muted" data-testid="answered-by">Answered by ${r.label}.</p>
      <ol aria-label="Top predictions" data-model=${r.model}>
        ${r.top.map(
          (t) => html`<li data-class=${t.class} data-probability=${t.probability}>
            <strong>${t.class}</strong> ${percent(t.probability)}
            <div class="bar" aria-hidden="true"><span style=${styleProperties({ width: `${(100 * t.probability).toFixed(1)}%` })}></span></div>
          </li>`,
        )}
      </ol>
    </div>`;
  }

  override render() {
    if (this.kind === 'points') return this.renderPoints();
    return html`
      <p class="muted" data-testid="predicting-with">${this.modelLabel ? `Predicting with: ${this.modelLabel}.` : ''} Paste an image (Ctrl+V) here, drop one on the box, choose a file, or start the camera.</p>
      <div class="area">
        <div
          class="dropzone ${this.over ? 'over' : ''}"
          tabindex="0"
          role="group"
          aria-label="Image to classify: focus here and paste an image, or drop one"
          @dragover=${(e: DragEvent) => {
            e.preventDefault();
            this.over = true;
          }}
          @dragleave=${() => (this.over = false)}
          @drop=${this.onDrop}
        >
          ${this.preview ? html`<img src=${this.preview} alt="The image being classified" />` : html`<span>Drop or paste an image</span>`}
        </div>
        <div>
          <label>Choose an image <input type="file" accept="image/*" ?disabled=${this.disabled} @change=${this.onFile} /></label>
          <clora-webcam
            mode="live"
            label="Try-it webcam"
            .camera=${this.camera}
            ?busy=${this.busy}
            ?disabled=${this.disabled}
            @frame=${(e: CustomEvent<WebcamEvents['frame']>) => {
              e.stopPropagation();
              emit(this, 'predict', { image: e.detail.blob });
            }}
          ></clora-webcam>
        </div>
        ${this.renderTop()}
      </div>
      ${this.busy ? html`<p class="muted" role="status">Classifying…</p>` : ''}
      ${this.message ? html`<p class="alert" role="alert">${this.message}</p>` : ''}
    `;
  }
}

customElements.define('clora-try-it', TryIt);

declare global {
  interface HTMLElementTagNameMap {
    'clora-try-it': TryIt;
  }
}
