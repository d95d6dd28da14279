import { LitElement, css, html } from 'lit';
import { emit } from '../app/events';
import type { SiteState } from '../app/state';
import { baseStyles } from './styles';

/**
 * The site itself: its version, whether it is saved for offline use, and a newer version waiting, with a
 * button to switch to it. Emits `reload-update`.
 */
export class SiteStatus extends LitElement {
  static override properties = { site: { attribute: false } };
  declare site: SiteState | undefined;

  constructor() {
    super();
    this.site = undefined;
  }

  static override styles = [
    baseStyles,
    css`
      .update {
        padding: 0.6rem 0.9rem;
        border-radius: 6px;
        background: #fff6dd;
        display: flex;
        gap: 0.8rem;
        align-items: center;
        flex-wrap: wrap;
      }
    `,
  ];

  override render() {
    const s = this.site;
    if (!s) return '';
    return html`
      ${s.updateReady
        ? html`<p class="update" role="status" data-testid="site-update">
            ${s.updating ? 'Switching to the new version…' : 'A new version of clora-web is ready: reload to use it (your data and checkpoints stay).'}
            <button class="primary" ?disabled=${s.updating} @click=${() => emit(this, 'reload-update')}>Reload</button>
          </p>`
        : ''}
      ${s.message ? html`<p class="note" role="alert" data-testid="site-message">${s.message}</p>` : ''}
      <p class="muted" data-testid="site-info">
        <span data-testid="app-version">clora-web ${s.version}</span>${s.offlineReady
          ? html` · <span data-testid="offline-ready">saved for offline use: the app, the bundled backbone and the sample data work without a network</span>`
          : ''}
      </p>
    `;
  }
}

customElements.define('clora-site-status', SiteStatus);

declare global {
  interface HTMLElementTagNameMap {
    'clora-site-status': SiteStatus;
  }
}
