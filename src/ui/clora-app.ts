import { LitElement, css, html } from 'lit';
import { adapterName } from '../gpu/context';
import { createBrowserGpuContext } from '../gpu/browser';

type GpuStatus = { kind: 'checking' } | { kind: 'ready'; adapter: string; features: string[] } | { kind: 'error'; message: string };

/** The app shell: says whether this browser can train on its GPU, and which adapter it found. */
// Reactive state is declared through `static properties` (no decorators), which works with any transpiler.
export class CloraApp extends LitElement {
  static override properties = { gpuStatus: { state: true } };
  declare private gpuStatus: GpuStatus;

  constructor() {
    super();
    this.gpuStatus = { kind: 'checking' };
  }

  static override styles = css`
    :host { display: block; font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; color: #1d2430; }
    h1 { font-size: 1.6rem; margin-bottom: 0.25rem; }
    .status { padding: 0.75rem 1rem; border-radius: 6px; background: #eef3f8; }
    .status.error { background: #fdecec; color: #8a1c1c; }
    .privacy { color: #4a5566; font-size: 0.9rem; }
  `;

  override connectedCallback(): void {
    super.connectedCallback();
    void this.detectGpu();
  }

  private async detectGpu(): Promise<void> {
    try {
      const ctx = await createBrowserGpuContext();
      this.gpuStatus = { kind: 'ready', adapter: adapterName(ctx.adapter), features: [...ctx.features].filter((f) => ['shader-f16', 'subgroups', 'timestamp-query'].includes(f)) };
      ctx.destroy();
    } catch (error) {
      this.gpuStatus = { kind: 'error', message: error instanceof Error ? error.message : String(error) };
    }
  }

  override render() {
    const s = this.gpuStatus;
    return html`
      <h1>clora-web</h1>
      <p>Fine-tune a pretrained vision transformer with CLoRA on your own GPU, in this page.</p>
      <p class="privacy">Nothing leaves your machine: images, weights and checkpoints stay in this browser.</p>
      ${s.kind === 'checking'
        ? html`<p class="status" role="status">Looking for a WebGPU adapter…</p>`
        : s.kind === 'ready'
          ? html`<p class="status" role="status">WebGPU ready on <strong>${s.adapter}</strong>${s.features.length ? html` (${s.features.join(', ')})` : ''}.</p>`
          : html`<p class="status error" role="alert">${s.message}</p>`}
    `;
  }
}

customElements.define('clora-app', CloraApp);

declare global {
  interface HTMLElementTagNameMap {
    'clora-app': CloraApp;
  }
}
