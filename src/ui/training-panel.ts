import { LitElement, css, html } from 'lit';
import { styleProperties } from './style-properties';
import { TARGETS, type Target } from '../clora/settings';
import type { RunView, UiSettings } from '../app/state';
import { sampleNoun, samplesText, type SampleKind } from '../data/sample-kind';
import './clora-chart';
import './evaluation-view';
import { emit } from '../app/events';
import { baseStyles } from './styles';
import { duration, percent, seconds } from './format';

const METHOD_NAMES: Record<UiSettings['method'], string> = { clora: 'CLoRA', lora: 'LoRA', head: 'the head' };

const METHOD_LABELS: Record<UiSettings['method'], string> = {
  clora: 'CLoRA (shared spaces + small cores)',
  lora: 'LoRA',
  head: 'Head only (linear probe)',
};

/**
 * Training: the method and its settings (common ones in front, the rest in an "Advanced" fold), the
 * Train / Quick mode / Pause / Resume / Stop buttons, a progress bar with epoch, step, images/s and ETA, live
 * charts of loss (with SADE) and train/validation accuracy, and the final evaluation. After a quick run, one
 * button goes on to fine-tuning from its head. Emits `settings-change` {patch}, `train`, `quick-train`,
 * `train-from-quick`, `pause`, `resume`, `stop` (and the evaluation's events bubble through).
 */
export class TrainingPanel extends LitElement {
  static override properties = {
    settings: { attribute: false },
    run: { attribute: false },
    canTrain: { type: Boolean, attribute: 'can-train' },
    hint: { type: String },
    kind: { type: String },
  };
  declare settings: UiSettings | undefined;
  declare run: RunView | undefined;
  declare canTrain: boolean;
  declare hint: string;
  /** What the run trains on: images, or point clouds (the augmentation and the counts say so). */
  declare kind: SampleKind;

  constructor() {
    super();
    this.settings = undefined;
    this.run = undefined;
    this.canTrain = false;
    this.hint = '';
    this.kind = 'images';
  }

  static override styles = [
    baseStyles,
    css`
      form {
        display: grid;
        gap: 0.5rem;
      }
      details {
        border: 1px solid #dde3ec;
        border-radius: 6px;
        padding: 0.4rem 0.6rem;
      }
      summary {
        cursor: pointer;
      }
      .buttons {
        margin: 0.75rem 0 0.5rem;
      }
      .progress {
        margin: 0.5rem 0;
      }
      .bar {
        height: 0.9rem;
      }
      .charts {
        display: grid;
        grid-template-columns: repeat(auto-fit, minmax(18rem, 1fr));
        gap: 0.75rem;
        margin-top: 0.5rem;
      }
      fieldset {
        border: none;
        padding: 0;
        margin: 0;
      }
    `,
  ];

  private change(patch: Partial<UiSettings>): void {
    emit(this, 'settings-change', { patch });
  }

  private num(key: keyof UiSettings, label: string, opts: { min?: number; max?: number; step?: number | 'any'; integer?: boolean } = {}) {
    const s = this.settings!;
    return html`<label
      >${label}
      <input
        type="number"
        name=${key}
        min=${opts.min ?? 0}
        max=${opts.max ?? ''}
        step=${opts.step ?? (opts.integer ? 1 : 'any')}
        .value=${String(s[key])}
        @change=${(e: Event) => {
          const v = Number((e.target as HTMLInputElement).value);
          if (Number.isFinite(v)) this.change({ [key]: opts.integer ? Math.round(v) : v } as Partial<UiSettings>);
        }}
    /></label>`;
  }

  private renderSettings(locked: boolean) {
    const s = this.settings!;
    return html`<form @submit=${(e: Event) => e.preventDefault()}>
      <fieldset ?disabled=${locked}>
        <div class="row">
          <label
            >Method
            <select name="method" @change=${(e: Event) => this.change({ method: (e.target as HTMLSelectElement).value as UiSettings['method'] })}>
              ${(Object.keys(METHOD_LABELS) as UiSettings['method'][]).map((m) => html`<option value=${m} ?selected=${s.method === m}>${METHOD_LABELS[m]}</option>`)}
            </select></label
          >
          ${s.method !== 'head' ? this.num('rank', 'Rank', { min: 1, max: 64, integer: true }) : ''}
          ${s.method === 'clora' ? this.num('spaces', 'Spaces', { min: 1, max: 16, integer: true }) : ''}
          ${s.method === 'clora' ? this.num('sadeWeight', 'SADE weight', { min: 0, step: 0.01 }) : ''}
          ${this.num('lr', 'Learning rate', { min: 0, step: 'any' })} ${this.num('epochs', 'Epochs', { min: 1, max: 1000, integer: true })}
          ${this.num('batchSize', 'Batch size', { min: 1, max: 512, integer: true })}
        </div>
        <details>
          <summary>Advanced</summary>
          <div class="row">
            ${s.method !== 'head'
              ? html`<fieldset class="row" aria-label="Adapted projections">
                  <span>Targets</span>
                  ${TARGETS.map(
                    (t: Target) => html`<label
                      ><input
                        type="checkbox"
                        .checked=${s.targets.includes(t)}
                        @change=${(e: Event) => {
                          const on = (e.target as HTMLInputElement).checked;
                          this.change({ targets: on ? [...s.targets, t] : s.targets.filter((x) => x !== t) });
                        }}
                      />${t}</label
                    >`,
                  )}
                </fieldset>`
              : ''}
            ${s.method !== 'head' ? this.num('dropout', 'Dropout', { min: 0, max: 0.9, step: 0.05 }) : ''}
            ${s.method !== 'head' ? this.num('scale', 'Scale', { step: 'any' }) : ''} ${this.num('weightDecay', 'Weight decay', { min: 0, step: 'any' })}
            ${this.num('warmup', 'Warm-up steps', { min: 0, integer: true })} ${this.num('labelSmoothing', 'Label smoothing', { min: 0, max: 0.9, step: 0.05 })}
            ${this.num('seed', 'Seed', { min: 0, integer: true })} ${this.num('checkpointEvery', 'Checkpoint every (steps)', { min: 1, integer: true })}
            ${this.num('quickEpochs', 'Quick-mode epochs', { min: 1, max: 1000, integer: true })}
            <label
              ><input type="checkbox" .checked=${s.augment} @change=${(e: Event) => this.change({ augment: (e.target as HTMLInputElement).checked })} />
              ${this.kind === 'points' ? 'Scale and shift point clouds at random (Point-MAE)' : 'Flip images at random'}</label
            >
          </div>
        </details>
      </fieldset>
    </form>`;
  }

  private renderProgress() {
    const r = this.run!;
    if (r.totalSteps === 0 || (r.phase === 'idle' && !r.resumable)) return '';
    const last = r.metrics.at(-1);
    const fraction = r.totalSteps ? r.step / r.totalSteps : 0;
    const epochs = r.stepsPerEpoch ? r.totalSteps / r.stepsPerEpoch : undefined;
    const epoch = r.stepsPerEpoch ? r.step / r.stepsPerEpoch : last?.epoch;
    const text =
      `Step ${r.step} of ${r.totalSteps}` +
      (epoch !== undefined ? ` · epoch ${epoch.toFixed(2)}${epochs ? ` of ${Math.round(epochs)}` : ''}` : '') +
      (last && r.phase === 'training' ? ` · ${last.imagesPerSecond.toFixed(1)} ${sampleNoun(this.kind)}/s · about ${duration(last.etaSeconds)} left` : '');
    return html`<div class="progress">
      <div
        class="bar"
        role="progressbar"
        aria-label="Training progress"
        aria-valuemin="0"
        aria-valuemax=${r.totalSteps}
        aria-valuenow=${r.step}
        aria-valuetext=${text}
      >
        <span style=${styleProperties({ width: `${(100 * fraction).toFixed(1)}%` })}></span>
      </div>
      <p class="muted" data-testid="progress-text">${text}</p>
    </div>`;
  }

  private quickText(r: RunView): string {
    const f = r.features;
    return `Quick mode: the head on backbone features${f && f.done === f.total ? ` of ${samplesText(this.kind, f.total)} (${f.cached} from the cache)` : ''}. `;
  }

  private renderStatus() {
    const r = this.run!;
    const last = r.metrics.at(-1);
    const acc = r.accuracy.at(-1);
    const parts: string[] = [];
    if (last) parts.push(`loss ${last.loss.toFixed(4)}${last.sade ? ` (SADE ${last.sade.toFixed(4)})` : ''}`);
    if (acc) parts.push(`train accuracy ${percent(acc.train)}${acc.validation !== undefined ? `, validation accuracy ${percent(acc.validation)}` : ''}`);
    const phaseText: Record<string, string> = {
      idle: r.resumable ? `A saved run can continue from step ${r.resumable.step} of ${r.resumable.totalSteps}: press Resume.` : '',
      starting: 'Starting…',
      training: 'Training…',
      paused: 'Paused.',
      stopped: 'Stopped.',
      done: 'Done.',
      failed: 'Interrupted.',
    };
    const noun = sampleNoun(this.kind);
    const counts = r.trainCount ? `${r.trainCount} training and ${r.validationCount} validation ${noun}, ${r.trainableParameters.toLocaleString('en')} trainable parameters. ` : '';
    const took = r.phase === 'done' && r.seconds !== undefined ? `Took ${seconds(r.seconds)}. ` : '';
    const f = r.features;
    const featureText =
      r.quick && f && (r.phase === 'starting' || f.done < f.total)
        ? html`<p class="muted" role="status" data-testid="features-status">
            Backbone features: ${f.done} of ${f.total} ${noun}${f.cached ? ` (${f.cached} cached from an earlier quick run)` : ''}.
          </p>`
        : '';
    return html`
      ${featureText}
      <p role="status" data-testid="run-status">${phaseText[r.phase]} ${r.quick ? this.quickText(r) : ''}${took}${counts}${parts.join(' · ')}</p>
      ${r.message ? html`<p class=${r.errorKind ? 'alert' : 'note'} role=${r.errorKind ? 'alert' : 'status'} data-testid="run-message">${r.message}</p>` : ''}
    `;
  }

  override render() {
    const r = this.run;
    if (!this.settings || !r) return '';
    const active = r.phase === 'training' || r.phase === 'starting';
    const canResume = r.phase === 'paused' || ((r.phase === 'idle' || r.phase === 'failed' || r.phase === 'stopped') && r.resumable !== undefined && r.resumable.step < r.resumable.totalSteps);
    const metrics = r.metrics;
    const hasSade = metrics.some((m) => m.sade > 0);
    const lossData = [metrics.map((m) => m.step), metrics.map((m) => m.loss), ...(hasSade ? [metrics.map((m) => m.sade)] : [])];
    const accData = [r.accuracy.map((a) => a.step), r.accuracy.map((a) => a.train), r.accuracy.map((a) => a.validation ?? null)];
    return html`
      ${this.renderSettings(active || r.phase === 'paused')}
      <div class="row buttons">
        <button class="primary" ?disabled=${!this.canTrain || active || r.phase === 'paused'} @click=${() => emit(this, 'train')}>Train</button>
        <button
          ?disabled=${!this.canTrain || active || r.phase === 'paused'}
          title="Trains only the head, on features the backbone computes once per image: results in seconds"
          @click=${() => emit(this, 'quick-train')}
        >
          Quick mode
        </button>
        <button ?disabled=${r.phase !== 'training'} @click=${() => emit(this, 'pause')}>Pause</button>
        <button ?disabled=${!canResume || active} @click=${() => emit(this, 'resume')}>Resume</button>
        <button ?disabled=${!(r.phase === 'training' || r.phase === 'paused')} @click=${() => emit(this, 'stop')}>Stop</button>
        ${this.hint ? html`<span class="muted">${this.hint}</span>` : ''}
      </div>
      ${r.quick && r.phase === 'done' && r.live
        ? html`<p class="note">
            Quick mode trained the head on the backbone's cached features. For better results, fine-tune the backbone's attention with the adapter,
            starting from this head:
            <button class="primary" ?disabled=${!this.canTrain} @click=${() => emit(this, 'train-from-quick')}>
              Fine-tune with ${METHOD_NAMES[this.settings.method === 'head' ? 'clora' : this.settings.method]} from here
            </button>
          </p>`
        : ''}
      ${this.renderProgress()} ${this.renderStatus()}
      <div class="charts">
        <clora-chart
          label="Loss"
          .series=${[{ label: 'loss', color: '#1f5fbf' }, ...(hasSade ? [{ label: 'SADE', color: '#c2410c', scale: 'SADE' }] : [])]}
          .data=${lossData}
        ></clora-chart>
        <clora-chart
          label="Accuracy"
          percent
          .series=${[
            { label: 'train', color: '#15803d' },
            { label: 'validation', color: '#7c3aed' },
          ]}
          .data=${accData}
        ></clora-chart>
      </div>
      ${r.evaluation ? html`<clora-evaluation .evaluation=${r.evaluation.evaluation} .on=${r.evaluation.on} .cell=${r.cell} kind=${this.kind}></clora-evaluation>` : ''}
    `;
  }
}

customElements.define('clora-training-panel', TrainingPanel);

declare global {
  interface HTMLElementTagNameMap {
    'clora-training-panel': TrainingPanel;
  }
}
