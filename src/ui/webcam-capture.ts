import { LitElement, css, html } from 'lit';
import { emitterFor } from '../app/events';
import { baseStyles } from './styles';

/** What the webcam tells the element around it (data panel, Try it). */
export interface WebcamEvents {
  /** Frames recorded while "Hold to record" was held. */
  frames: { blobs: Blob[] };
  /** A new live frame. */
  frame: { blob: Blob };
}

const emit = emitterFor<WebcamEvents>();

/** Frames per second while recording or predicting live. */
const RECORD_FPS = 5;

/**
 * The webcam: a preview, and either a "Hold to record" button (mode "record": mouse, touch, Space or
 * Enter held down; emits `frames` {blobs} when released) or a live stream of frames (mode "live": emits
 * `frame` {blob} for each new frame while `live` is on; the listener paces itself by setting `busy`).
 */
export class WebcamCapture extends LitElement {
  static override properties = {
    mode: { type: String },
    label: { type: String },
    busy: { type: Boolean },
    disabled: { type: Boolean },
    on: { state: true },
    recording: { state: true },
    captured: { state: true },
    message: { state: true },
  };
  declare mode: 'record' | 'live';
  declare label: string;
  declare busy: boolean;
  declare disabled: boolean;
  declare private on: boolean;
  declare private recording: boolean;
  declare private captured: number;
  declare private message: string;

  private stream: MediaStream | undefined;
  private timer: number | undefined;
  private frames: Blob[] = [];
  private pendingFrames = 0;
  private releaseRequested = false;

  constructor() {
    super();
    this.mode = 'record';
    this.label = 'Webcam';
    this.busy = false;
    this.disabled = false;
    this.on = false;
    this.recording = false;
    this.captured = 0;
    this.message = '';
  }

  static override styles = [
    baseStyles,
    css`
      video {
        width: 160px;
        height: 120px;
        background: #222;
        border-radius: 6px;
        object-fit: cover;
      }
      .hold[aria-pressed='true'] {
        background: #b3261e;
        border-color: #b3261e;
        color: #fff;
      }
    `,
  ];

  get isOn(): boolean {
    return this.on;
  }

  async start(): Promise<void> {
    if (this.on) return;
    if (!navigator.mediaDevices?.getUserMedia) {
      this.message = 'This browser gives no camera access here (it needs https or localhost).';
      return;
    }
    try {
      this.stream = await navigator.mediaDevices.getUserMedia({ video: { width: { ideal: 640 }, height: { ideal: 480 } }, audio: false });
    } catch (error) {
      const name = (error as { name?: string }).name;
      this.message =
        name === 'NotAllowedError'
          ? 'The camera was not allowed: allow it in the browser\'s site settings and try again.'
          : name === 'NotFoundError'
            ? 'No camera was found on this computer.'
            : `The camera could not be started (${(error as Error).message}).`;
      return;
    }
    this.message = '';
    this.on = true;
    await this.updateComplete;
    const video = this.renderRoot.querySelector('video');
    if (video) {
      video.srcObject = this.stream;
      await video.play().catch(() => undefined);
    }
    if (this.mode === 'live') this.scheduleLive();
  }

  stop(): void {
    this.endRecording();
    window.clearTimeout(this.timer);
    this.timer = undefined;
    this.stream?.getTracks().forEach((t) => t.stop());
    this.stream = undefined;
    this.on = false;
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    this.stop();
  }

  /** One frame of the preview as a JPEG. */
  private async grab(): Promise<Blob | undefined> {
    const video = this.renderRoot.querySelector('video');
    if (!video || video.readyState < 2 || !video.videoWidth) return undefined;
    const canvas = document.createElement('canvas');
    canvas.width = video.videoWidth;
    canvas.height = video.videoHeight;
    canvas.getContext('2d')?.drawImage(video, 0, 0);
    return new Promise((resolve) => canvas.toBlob((b) => resolve(b ?? undefined), 'image/jpeg', 0.9));
  }

  private scheduleLive(): void {
    window.clearTimeout(this.timer);
    this.timer = window.setTimeout(async () => {
      if (!this.on || this.mode !== 'live') return;
      if (!this.busy) {
        const blob = await this.grab();
        if (blob) emit(this, 'frame', { blob });
      }
      this.scheduleLive();
    }, 1000 / RECORD_FPS);
  }

  private beginRecording(): void {
    if (!this.on || this.recording || this.disabled) return;
    this.recording = true;
    this.releaseRequested = false;
    this.frames = [];
    this.captured = 0;
    const tick = async (): Promise<void> => {
      if (!this.recording) return;
      this.pendingFrames++;
      const blob = await this.grab();
      this.pendingFrames--;
      if (blob) {
        this.frames.push(blob);
        this.captured = this.frames.length;
      }
      if (this.recording) this.timer = window.setTimeout(tick, 1000 / RECORD_FPS);
      else this.flushFrames();
    };
    void tick();
  }

  private endRecording(): void {
    if (!this.recording) return;
    this.recording = false;
    window.clearTimeout(this.timer);
    this.releaseRequested = true;
    this.flushFrames();
  }

  private flushFrames(): void {
    if (!this.releaseRequested || this.pendingFrames > 0) return;
    this.releaseRequested = false;
    const blobs = this.frames;
    this.frames = [];
    if (blobs.length) emit(this, 'frames', { blobs });
  }

  private onKeyDown(event: KeyboardEvent): void {
    if ((event.key === ' ' || event.key === 'Enter') && !event.repeat) {
      event.preventDefault();
      this.beginRecording();
    }
  }

  private onKeyUp(event: KeyboardEvent): void {
    if (event.key === ' ' || event.key === 'Enter') {
      event.preventDefault();
      this.endRecording();
    }
  }

  override render() {
    return html`
      <div class="row">
        ${this.on
          ? html`<video muted playsinline aria-label="${this.label} preview"></video>`
          : ''}
        <div>
          ${this.on
            ? html`<button @click=${() => this.stop()}>Stop camera</button>`
            : html`<button ?disabled=${this.disabled} @click=${() => void this.start()}>Start camera</button>`}
          ${this.mode === 'record' && this.on
            ? html`<button
                  class="hold"
                  aria-pressed=${this.recording ? 'true' : 'false'}
                  ?disabled=${this.disabled}
                  @pointerdown=${(e: PointerEvent) => {
                    (e.target as HTMLElement).setPointerCapture?.(e.pointerId);
                    this.beginRecording();
                  }}
                  @pointerup=${() => this.endRecording()}
                  @pointercancel=${() => this.endRecording()}
                  @keydown=${this.onKeyDown}
                  @keyup=${this.onKeyUp}
                  @blur=${() => this.endRecording()}
                  @contextmenu=${(e: Event) => e.preventDefault()}
                >
                  Hold to record
                </button>
                <span class="muted" role="status">${this.recording ? `Recording… ${this.captured} frame${this.captured === 1 ? '' : 's'}` : this.captured ? `Captured ${this.captured} frames` : ''}</span>`
            : ''}
          ${this.message ? html`<p class="alert" role="alert">${this.message}</p>` : ''}
        </div>
      </div>
    `;
  }
}

customElements.define('clora-webcam', WebcamCapture);

declare global {
  interface HTMLElementTagNameMap {
    'clora-webcam': WebcamCapture;
  }
}
