import { LitElement, css, html } from 'lit';
import { styleProperties } from './style-properties';
import { BUNDLED_MODEL, type KnownModel } from '../nn/models';
import type { BackboneChoice, BackboneState } from '../app/state';
import type { BackboneInfo } from '../worker/protocol';
import { emit } from '../app/events';
import { baseStyles } from './styles';

function mb(bytes: number): string {
  return `${(bytes / 1e6).toFixed(bytes < 10e6 ? 1 : 0)} MB`;
}

/** Its size and input ("4 blocks, width 64, 4 heads, 28×28 input, …"), then which kind it is and what it takes. */
function describe(i: BackboneInfo) {
  const input = i.kind === 'point' ? `${i.points.toLocaleString('en-US')} points in ${i.groups} groups of ${i.groupSize}` : `${i.imageSize}×${i.imageSize} input`;
  const kind =
    i.kind === 'point'
      ? 'Point transformer (Point-MAE): it takes point clouds (.ply, .obj, .off, .xyz, .txt, .pts or .npy files).'
      : 'Image transformer (ViT): it takes images.';
  return html`${i.depth} blocks, width ${i.dim}, ${i.heads} head${i.heads === 1 ? '' : 's'}, ${input}, ${(i.parameters / 1e6).toFixed(2)} M parameters.
    <span data-testid="backbone-kind">${kind}</span>`;
}

/**
 * Picks the backbone: a bundled one (the image default, and any other the site bundles, such as a point
 * transformer; offline), a known hub model (downloaded once, with progress, then cached), a custom URL or a
 * local .safetensors or PyTorch .pth file, image or point backbone alike (the kind is read from the weights).
 * Shows which kind is loaded and what input it takes. Emits `choose-backbone` {choice} and `cancel-download`.
 */
export class BackbonePicker extends LitElement {
  static override properties = {
    state: { attribute: false },
    models: { attribute: false },
    disabled: { type: Boolean },
    selected: { state: true },
    customUrl: { state: true },
  };
  declare state: BackboneState | undefined;
  declare models: readonly KnownModel[];
  declare disabled: boolean;
  declare private selected: string;
  declare private customUrl: string;

  constructor() {
    super();
    this.state = undefined;
    this.models = [];
    this.disabled = false;
    this.selected = '';
    this.customUrl = '';
  }

  static override styles = [
    baseStyles,
    css`
      fieldset {
        border: none;
        padding: 0;
        margin: 0;
        display: grid;
        gap: 0.35rem;
      }
      legend {
        font-weight: 600;
        margin-bottom: 0.3rem;
      }
      .choice {
        display: flex;
        gap: 0.5rem;
        align-items: center;
      }
      input[type='url'] {
        width: min(32rem, 100%);
      }
      .status {
        margin-top: 0.5rem;
      }
    `,
  ];

  private currentKey(): string {
    if (this.selected) return this.selected;
    const c = this.state?.choice;
    if (!c) return 'bundled';
    return c.kind === 'known' ? `known:${c.id}` : c.kind;
  }

  private choose(choice: BackboneChoice): void {
    emit(this, 'choose-backbone', { choice });
  }

  private onRadio(key: string): void {
    this.selected = key;
    if (key === 'bundled') this.choose({ kind: 'bundled' });
    else if (key.startsWith('known:')) this.choose({ kind: 'known', id: key.slice(6) });
  }

  private onUrl(event: Event): void {
    event.preventDefault();
    const url = this.customUrl.trim();
    if (url) this.choose({ kind: 'url', url });
  }

  private onFile(event: Event): void {
    const input = event.target as HTMLInputElement;
    const file = input.files?.[0];
    if (file) this.choose({ kind: 'file', file });
    input.value = '';
  }

  private renderStatus() {
    const s = this.state;
    if (!s) return '';
    if (s.status === 'loading') {
      const p = s.progress;
      const fraction = p?.total ? p.loaded / p.total : undefined;
      return html`<div class="status">
        <p role="status">${p ? `Downloading the backbone: ${mb(p.loaded)}${p.total ? ` of ${mb(p.total)}` : ''}…` : 'Loading the backbone…'}</p>
        ${fraction !== undefined
          ? html`<div class="bar" role="progressbar" aria-label="Backbone download" aria-valuemin="0" aria-valuemax="100" aria-valuenow=${Math.round(100 * fraction)}>
              <span style=${styleProperties({ width: `${(100 * fraction).toFixed(1)}%` })}></span>
            </div>`
          : ''}
        ${p ? html`<button @click=${() => emit(this, 'cancel-download')}>Cancel download</button>` : ''}
      </div>`;
    }
    if (s.status === 'error') return html`<p class="status alert" role="alert">${s.message}</p>`;
    if (s.status === 'ready' && s.info) {
      const i = s.info;
      return html`<p class="status note" data-testid="backbone-info">
        <strong>${i.label}</strong>${i.fromCache ? " (from this browser's cache)" : ''}: ${describe(i)}
        ${s.message ? html`<br /><span class="alert" role="alert">${s.message}</span>` : ''}
      </p>`;
    }
    return s.message ? html`<p class="status alert" role="alert">${s.message}</p>` : '';
  }

  override render() {
    const key = this.currentKey();
    const busy = this.disabled || this.state?.status === 'loading';
    return html`
      <fieldset ?disabled=${busy}>
        <legend>Backbone</legend>
        <label class="choice"
          ><input type="radio" name="backbone" value="bundled" .checked=${key === 'bundled'} @change=${() => this.onRadio('bundled')} />
          ${BUNDLED_MODEL.label}: no download</label
        >
        ${this.models.filter((m) => m.id !== BUNDLED_MODEL.id).map(
          (m) => html`<label class="choice"
            ><input type="radio" name="backbone" value=${`known:${m.id}`} .checked=${key === `known:${m.id}`} @change=${() => this.onRadio(`known:${m.id}`)} />
            ${m.label}${m.bundled ? ': no download' : ` — download ${mb(m.bytes)} from the Hugging Face hub (${m.license})`}</label
          >`,
        )}
        <label class="choice"><input type="radio" name="backbone" value="url" .checked=${key === 'url'} @change=${() => (this.selected = 'url')} /> A URL</label>
        ${key === 'url'
          ? html`<form class="row" @submit=${this.onUrl}>
              <label>Backbone URL <input type="url" placeholder="https://…/model.safetensors" .value=${this.customUrl} @input=${(e: Event) => (this.customUrl = (e.target as HTMLInputElement).value)} /></label>
              <button type="submit">Load URL</button>
            </form>`
          : ''}
        <label class="choice"><input type="radio" name="backbone" value="file" .checked=${key === 'file'} @change=${() => (this.selected = 'file')} /> A file on this computer</label>
        ${key === 'file'
          ? html`<label>Backbone file (.safetensors) or PyTorch checkpoint (.pth) <input type="file" accept=".safetensors,.pth,.pt" @change=${this.onFile} /></label>`
          : ''}
      </fieldset>
      ${this.renderStatus()}
    `;
  }
}

customElements.define('clora-backbone-picker', BackbonePicker);

declare global {
  interface HTMLElementTagNameMap {
    'clora-backbone-picker': BackbonePicker;
  }
}
