import { LitElement, css, html } from 'lit';
import { formatMegabytes, type CheckpointMeta } from '../io/checkpoints';
import type { CheckpointsState } from '../app/state';
import { emit } from '../app/events';
import { baseStyles } from './styles';
import { percent } from './format';

/**
 * Saved checkpoints (newest first) with Resume, Use (the checkpoint answers Try it and the exports, without
 * training) and Delete, storage used versus quota, and any saving problem (a full quota says so; the
 * previous checkpoint is kept). Emits `resume-checkpoint` {id}, `use-checkpoint` {id} and `delete-checkpoint` {id}.
 */
export class CheckpointList extends LitElement {
  static override properties = {
    state: { attribute: false },
    busy: { type: Boolean },
    inUse: { type: String, attribute: 'in-use' },
  };
  declare state: CheckpointsState | undefined;
  declare busy: boolean;
  /** The id of the checkpoint that is the current model, if one is. */
  declare inUse: string | undefined;

  constructor() {
    super();
    this.state = undefined;
    this.busy = false;
    this.inUse = undefined;
  }

  static override styles = [
    baseStyles,
    css`
      ul {
        list-style: none;
        padding: 0;
        margin: 0.4rem 0;
        display: grid;
        gap: 0.35rem;
      }
      li {
        display: flex;
        flex-wrap: wrap;
        gap: 0.5rem;
        align-items: center;
        padding: 0.35rem 0.5rem;
        border: 1px solid #dde3ec;
        border-radius: 6px;
      }
      li .what {
        flex: 1 1 18rem;
      }
    `,
  ];

  private describe(c: CheckpointMeta): string {
    const when = new Date(c.createdAt).toLocaleString();
    const parts = [`${c.settings.adapter.method} on ${c.backbone.label}`, `step ${c.step} of ${c.totalSteps}`, `${c.classes.length} classes`];
    if (c.loss !== undefined) parts.push(`loss ${c.loss.toFixed(4)}`);
    if (c.validationAccuracy !== undefined) parts.push(`validation ${percent(c.validationAccuracy)}`);
    parts.push(formatMegabytes(c.bytes), `saved ${when}${c.reason === 'pause' ? ' on pause' : c.reason === 'stop' ? ' on stop' : c.reason === 'done' ? ' at the end' : ''}`);
    return parts.join(' · ');
  }

  override render() {
    const s = this.state;
    if (!s) return '';
    const storage = s.storage;
    return html`
      ${s.list.length
        ? html`<ul aria-label="Saved checkpoints">
            ${s.list.map(
              (c) => html`<li data-testid="checkpoint">
                <span class="what">${this.describe(c)}</span>
                <button ?disabled=${this.busy || c.step >= c.totalSteps} aria-label=${`Resume from the checkpoint at step ${c.step}`} @click=${() => emit(this, 'resume-checkpoint', { id: c.id })}>Resume</button>
                <button
                  ?disabled=${this.busy || this.inUse === c.id}
                  aria-label=${`Use the checkpoint at step ${c.step} for Try it and exports`}
                  aria-pressed=${this.inUse === c.id ? 'true' : 'false'}
                  @click=${() => emit(this, 'use-checkpoint', { id: c.id })}
                >
                  ${this.inUse === c.id ? 'In use' : 'Use'}
                </button>
                <button ?disabled=${this.busy} aria-label=${`Delete the checkpoint at step ${c.step}`} @click=${() => emit(this, 'delete-checkpoint', { id: c.id })}>Delete</button>
              </li>`,
            )}
          </ul>`
        : html`<p class="muted">No checkpoints yet: training saves one every few steps, and on pause and stop.</p>`}
      ${s.saving ? html`<p class="muted" role="status">Saving a checkpoint…</p>` : ''}
      ${s.message ? html`<p class="alert" role="alert" data-testid="checkpoint-message">${s.message}</p>` : ''}
      ${storage
        ? html`<p class="muted" data-testid="storage">
            Storage: ${formatMegabytes(storage.usage)} used of ${formatMegabytes(storage.quota)} available to this page${storage.persisted
              ? ' (persistent: the browser will not clear it on its own)'
              : ' (the browser may clear it when space runs low)'}.
          </p>`
        : ''}
    `;
  }
}

customElements.define('clora-checkpoints', CheckpointList);

declare global {
  interface HTMLElementTagNameMap {
    'clora-checkpoints': CheckpointList;
  }
}
