import { LitElement, css, html } from 'lit';
import { emit as emitApp, emitterFor } from '../app/events';
import { CAMERA_RATES } from '../app/preferences';
import { DEFAULT_CAMERA, type CameraPrefs } from '../app/state';
import { listCameras, type CameraChoice } from './cameras';
import { baseStyles } from './styles';

/** What the webcam tells the element around it (data panel, Try it). */
export interface WebcamEvents {
  /** Frames recorded while "Hold to record" was held. */
  frames: { blobs: Blob[] };
  /** A new live frame. */
  frame: { blob: Blob };
}

const emit = emitterFor<WebcamEvents>();

/** Frames per second of the live stream (Try it paces itself with `busy`). */
const LIVE_FPS = 5;

/**
 * The webcam: the camera to use (front, back, external, as the browser lists them), a mirror switch, a
 * preview, and either "Hold to record" (mode "record": mouse, touch, Space or Enter held down; frames are
 * taken at a steady rate with a live count, and `frames` {blobs} is emitted when released) or a live stream
 * (mode "live": `frame` {blob} for each new frame while on; the listener paces itself by setting `busy`).
 * The camera, mirroring and rate come from `camera` and changes are emitted as `camera-change` {patch}, so
 * the app remembers them.
 */
export class WebcamCapture extends LitElement {
  static override properties = {
    mode: { type: String },
    label: { type: String },
    busy: { type: Boolean },
    disabled: { type: Boolean },
    camera: { attribute: false },
    on: { state: true },
    recording: { state: true },
    captured: { state: true },
    message: { state: true },
    cameras: { state: true },
    activeDevice: { state: true },
  };
  declare mode: 'record' | 'live';
  declare label: string;
  declare busy: boolean;
  declare disabled: boolean;
  declare camera: CameraPrefs;
  declare private on: boolean;
  declare private recording: boolean;
  declare private captured: number;
  declare private message: string;
  declare private cameras: CameraChoice[];
  /** The deviceId of the camera streaming now. */
  declare private activeDevice: string;

  private stream: MediaStream | undefined;
  private timer: number | undefined;
  private frames: Blob[] = [];
  private pendingFrames = 0;
  private releaseRequested = false;
  private onDeviceChange = (): void => void this.refreshCameras();

  constructor() {
    super();
    this.mode = 'record';
    this.label = 'Webcam';
    this.busy = false;
    this.disabled = false;
    this.camera = DEFAULT_CAMERA;
    this.on = false;
    this.recording = false;
    this.captured = 0;
    this.message = '';
    this.cameras = [];
    this.activeDevice = '';
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
      video.mirrored {
        transform: scaleX(-1);
      }
      .hold {
        touch-action: none;
        user-select: none;
        -webkit-user-select: none;
        -webkit-touch-callout: none;
      }
      .hold[aria-pressed='true'] {
        background: #b3261e;
        border-color: #b3261e;
        color: #fff;
      }
      select {
        max-width: 16rem;
      }
    `,
  ];

  get isOn(): boolean {
    return this.on;
  }

  override connectedCallback(): void {
    super.connectedCallback();
    navigator.mediaDevices?.addEventListener?.('devicechange', this.onDeviceChange);
    void this.refreshCameras();
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    navigator.mediaDevices?.removeEventListener?.('devicechange', this.onDeviceChange);
    this.stop();
  }

  private async refreshCameras(): Promise<void> {
    try {
      this.cameras = await listCameras();
    } catch {
      this.cameras = [];
    }
  }

  private changeCamera(patch: Partial<CameraPrefs>): void {
    emitApp(this, 'camera-change', { patch });
  }

  /** Opens the chosen camera (or the default one); a camera chosen before that is gone falls back to the default. */
  private async open(wanted: string | undefined): Promise<MediaStream> {
    const size = { width: { ideal: 640 }, height: { ideal: 480 } };
    if (wanted) {
      try {
        return await navigator.mediaDevices.getUserMedia({ video: { ...size, deviceId: { exact: wanted } }, audio: false });
      } catch (error) {
        const name = (error as { name?: string }).name;
        if (name !== 'OverconstrainedError' && name !== 'NotFoundError') throw error;
        this.message = 'The camera chosen before is not connected now: using the default camera.';
      }
    }
    return navigator.mediaDevices.getUserMedia({ video: size, audio: false });
  }

  /** Starts the camera: `deviceId`, else the one the app remembers, else the browser's default. */
  async start(deviceId = this.camera.deviceId): Promise<void> {
    if (this.on) return;
    if (!navigator.mediaDevices?.getUserMedia) {
      this.message = 'This browser gives no camera access here (it needs https or localhost).';
      return;
    }
    this.message = '';
    try {
      this.stream = await this.open(deviceId);
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
    this.activeDevice = this.stream.getVideoTracks()[0]?.getSettings().deviceId ?? '';
    this.on = true;
    // Labels (and often the full list) come once the page may use a camera.
    await this.refreshCameras();
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
    this.activeDevice = '';
  }

  private async choose(deviceId: string): Promise<void> {
    this.changeCamera({ deviceId: deviceId || undefined });
    if (!this.on) return;
    // Switch the running camera (the app's remembered choice may not have come back down yet).
    this.stop();
    await this.updateComplete;
    await this.start(deviceId || undefined);
  }

  /** One frame of the preview as a JPEG, mirrored when the preview is. */
  private async grab(): Promise<Blob | undefined> {
    const video = this.renderRoot.querySelector('video');
    if (!video || video.readyState < 2 || !video.videoWidth) return undefined;
    const canvas = document.createElement('canvas');
    canvas.width = video.videoWidth;
    canvas.height = video.videoHeight;
    const context = canvas.getContext('2d');
    if (!context) return undefined;
    if (this.camera.mirror) {
      context.translate(canvas.width, 0);
      context.scale(-1, 1);
    }
    context.drawImage(video, 0, 0);
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
    }, 1000 / LIVE_FPS);
  }

  /**
   * Takes frames at a steady rate: each one is due at start + k / fps (not "a period after the previous one
   * finished"), and a frame whose time has passed while the previous was being taken is skipped, not rushed.
   */
  private beginRecording(): void {
    if (!this.on || this.recording || this.disabled) return;
    this.recording = true;
    this.releaseRequested = false;
    this.frames = [];
    this.captured = 0;
    const period = 1000 / this.camera.fps;
    const start = performance.now();
    let k = 0;
    const tick = async (): Promise<void> => {
      if (!this.recording) return;
      this.pendingFrames++;
      const blob = await this.grab();
      this.pendingFrames--;
      if (blob) {
        this.frames.push(blob);
        this.captured = this.frames.length;
      }
      if (!this.recording) {
        this.flushFrames();
        return;
      }
      k = Math.max(k + 1, Math.ceil((performance.now() - start) / period));
      this.timer = window.setTimeout(tick, Math.max(0, start + k * period - performance.now()));
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

  private renderChoices() {
    const selected = this.activeDevice || this.camera.deviceId || '';
    return html`<div class="row">
      ${this.cameras.length > 1 || this.camera.deviceId
        ? html`<label
            >Camera
            <select aria-label="Camera" ?disabled=${this.disabled || this.recording} @change=${(e: Event) => void this.choose((e.target as HTMLSelectElement).value)}>
              ${this.cameras.length === 0 ? html`<option value="">Default camera</option>` : ''}
              ${this.cameras.map((c) => html`<option value=${c.deviceId} ?selected=${c.deviceId === selected}>${c.name}</option>`)}
            </select></label
          >`
        : ''}
      <label><input type="checkbox" .checked=${this.camera.mirror} @change=${(e: Event) => this.changeCamera({ mirror: (e.target as HTMLInputElement).checked })} /> Mirror</label>
      ${this.mode === 'record'
        ? html`<label
            >Frames per second
            <select aria-label="Frames per second" ?disabled=${this.recording} @change=${(e: Event) => this.changeCamera({ fps: Number((e.target as HTMLSelectElement).value) })}>
              ${CAMERA_RATES.map((r) => html`<option value=${r} ?selected=${r === this.camera.fps}>${r}</option>`)}
            </select></label
          >`
        : ''}
    </div>`;
  }

  override render() {
    return html`
      ${this.renderChoices()}
      <div class="row">
        ${this.on
          ? html`<video class=${this.camera.mirror ? 'mirrored' : ''} muted playsinline aria-label="${this.label} preview" data-device-id=${this.activeDevice}></video>`
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
                <span class="muted" role="status" data-testid="recording-count"
                  >${this.recording
                    ? `Recording… ${this.captured} frame${this.captured === 1 ? '' : 's'} (${this.camera.fps} per second)`
                    : this.captured
                      ? `Captured ${this.captured} frame${this.captured === 1 ? '' : 's'}`
                      : ''}</span
                >`
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
