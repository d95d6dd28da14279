import { LitElement, css, html } from 'lit';
import type { ModelState } from '../app/state';
import type { SampleKind } from '../data/sample-kind';
import { emit } from '../app/events';
import { baseStyles } from './styles';

/**
 * Export the current model (native adapter .safetensors, the PEFT pair as a zip, the merged model, or the
 * merged model as ONNX) and import an adapter file to predict with. Emits `export` {format} and
 * `import-adapter` {file}.
 */
export class ExportPanel extends LitElement {
  static override properties = {
    model: { attribute: false },
    busy: { type: String },
    message: { type: String },
    kind: { type: String },
    disabled: { type: Boolean },
  };
  declare model: ModelState | undefined;
  declare busy: string | undefined;
  declare message: string | undefined;
  /** What the backbone takes: the exports are a timm ViT's, or Point-MAE's. */
  declare kind: SampleKind;
  declare disabled: boolean;

  constructor() {
    super();
    this.model = undefined;
    this.busy = undefined;
    this.message = undefined;
    this.kind = 'images';
    this.disabled = false;
  }

  static override styles = [baseStyles, css``];

  private onImport(event: Event): void {
    const input = event.target as HTMLInputElement;
    const file = input.files?.[0];
    if (file) emit(this, 'import-adapter', { file });
    input.value = '';
  }

  override render() {
    const m = this.model;
    const none = !m || m.kind === 'none';
    const noPeft = m?.method === 'head' || m?.method === 'full';
    const off = this.disabled || none || this.busy !== undefined;
    return html`
      <p class="muted" data-testid="current-model">${none ? 'Train an adapter, use a saved checkpoint or import an adapter file first.' : `Current model: ${m!.label}.`}</p>
      <div class="row">
        <button class="primary" ?disabled=${off} @click=${() => emit(this, 'export', { format: 'native' })}>Export adapter</button>
        <button ?disabled=${off || noPeft} @click=${() => emit(this, 'export', { format: 'peft' })}>Export PEFT (.zip)</button>
        <button ?disabled=${off} @click=${() => emit(this, 'export', { format: 'merged' })}>Export merged model</button>
        <button ?disabled=${off} @click=${() => emit(this, 'export', { format: 'onnx' })}>Export ONNX</button>
        <label>Import adapter <input type="file" accept=".safetensors" ?disabled=${this.disabled} @change=${this.onImport} /></label>
      </div>
      ${this.message ? html`<p class="note" role="status" data-testid="export-message">${this.message}</p>` : ''}
      ${this.kind === 'points'
        ? html`<p class="muted">
            The adapter file loads back here and with <code>npm run clora</code>; the PEFT zip targets Point-MAE's module names
            (<code>blocks.blocks.<var>i</var>.attn.qkv</code>, …); the merged model is a whole Point-MAE state dict with the new head.
          </p>`
        : html`<p class="muted">
            The adapter file loads back here and with <code>npm run clora</code>; the PEFT zip loads with stock <code>peft</code> on a timm ViT; the
            merged model loads wherever a timm ViT does; the ONNX file runs in ONNX Runtime (Python, JavaScript, mobile) with the class names and
            preprocessing in its metadata.
          </p>`}
    `;
  }
}

customElements.define('clora-export-panel', ExportPanel);

declare global {
  interface HTMLElementTagNameMap {
    'clora-export-panel': ExportPanel;
  }
}
