import { LitElement, css, html } from 'lit';
import { styleProperties } from './style-properties';
import { projectCloud } from './point-projection';

/** Radians turned per CSS pixel dragged, and per arrow key press. */
const DRAG_SPEED = 0.012;
const KEY_STEP = Math.PI / 12;
const START = { yaw: 0.6, pitch: 0.35 };

/**
 * A point cloud drawn on a canvas that the user turns: drag it (mouse, pen or touch) or focus it and use
 * the arrow keys (Home puts it back). The cloud is [P, 3], normalised into the unit sphere, y up. Emits
 * nothing: it only shows.
 */
export class PointPreview extends LitElement {
  static override properties = {
    points: { attribute: false },
    label: { type: String },
    size: { type: Number },
    yaw: { state: true },
    pitch: { state: true },
  };
  declare points: Float32Array | undefined;
  declare label: string;
  /** Side of the square canvas in CSS pixels. */
  declare size: number;
  declare private yaw: number;
  declare private pitch: number;
  private drag: { id: number; x: number; y: number } | undefined;

  constructor() {
    super();
    this.points = undefined;
    this.label = 'Point cloud';
    this.size = 72;
    this.yaw = START.yaw;
    this.pitch = START.pitch;
  }

  static override styles = css`
    :host {
      display: inline-block;
      line-height: 0;
    }
    canvas {
      touch-action: none;
      cursor: grab;
      border-radius: 4px;
      background: #f1f5fb;
    }
    canvas:active {
      cursor: grabbing;
    }
    canvas:focus-visible {
      outline: 3px solid #f0a500;
      outline-offset: 2px;
    }
  `;

  private turn(dYaw: number, dPitch: number): void {
    this.yaw = (this.yaw + dYaw) % (2 * Math.PI);
    this.pitch = Math.max(-Math.PI / 2, Math.min(Math.PI / 2, this.pitch + dPitch));
  }

  private onPointerDown(event: PointerEvent): void {
    (event.target as Element).setPointerCapture?.(event.pointerId);
    this.drag = { id: event.pointerId, x: event.clientX, y: event.clientY };
    event.preventDefault();
  }

  private onPointerMove(event: PointerEvent): void {
    const d = this.drag;
    if (!d || d.id !== event.pointerId) return;
    this.turn((event.clientX - d.x) * DRAG_SPEED, (event.clientY - d.y) * DRAG_SPEED);
    this.drag = { id: d.id, x: event.clientX, y: event.clientY };
  }

  private onPointerEnd(event: PointerEvent): void {
    if (this.drag?.id === event.pointerId) this.drag = undefined;
  }

  private onKey(event: KeyboardEvent): void {
    const turns: Record<string, [number, number]> = { ArrowLeft: [-KEY_STEP, 0], ArrowRight: [KEY_STEP, 0], ArrowUp: [0, -KEY_STEP], ArrowDown: [0, KEY_STEP] };
    const t = turns[event.key];
    if (t) this.turn(t[0], t[1]);
    else if (event.key === 'Home') {
      this.yaw = START.yaw;
      this.pitch = START.pitch;
    } else return;
    event.preventDefault();
  }

  override updated(): void {
    this.draw();
  }

  private draw(): void {
    const canvas = this.renderRoot.querySelector('canvas');
    const context = canvas?.getContext('2d');
    if (!canvas || !context) return;
    context.clearRect(0, 0, canvas.width, canvas.height);
    if (!this.points) return;
    const { x, y, depth, order } = projectCloud(this.points, this.yaw, this.pitch);
    const side = canvas.width;
    const half = side / 2;
    const radius = side * 0.45;
    const dot = Math.max(1, side / 60);
    for (const i of order) {
      // Nearer points are darker and larger: depth in [−1, 1] → shade in [0, 1].
      const near = (depth[i]! + 1) / 2;
      const light = Math.round(78 - 48 * near);
      context.fillStyle = `hsl(216 60% ${light}%)`;
      const r = dot * (0.8 + 0.5 * near);
      context.fillRect(half + x[i]! * radius - r / 2, half - y[i]! * radius - r / 2, r, r);
    }
  }

  override render() {
    const scale = Math.min(3, Math.max(1, Math.round(globalThis.devicePixelRatio || 1)));
    const degrees = (radians: number): number => Math.round((radians * 180) / Math.PI);
    return html`<canvas
      width=${this.size * scale}
      height=${this.size * scale}
      style=${styleProperties({ width: `${this.size}px`, height: `${this.size}px` })}
      tabindex="0"
      role="img"
      aria-label=${`${this.label}, seen turned ${degrees(this.yaw)}° and tilted ${degrees(this.pitch)}°: drag it or use the arrow keys to turn it`}
      data-yaw=${this.yaw.toFixed(3)}
      data-pitch=${this.pitch.toFixed(3)}
      @pointerdown=${this.onPointerDown}
      @pointermove=${this.onPointerMove}
      @pointerup=${this.onPointerEnd}
      @pointercancel=${this.onPointerEnd}
      @keydown=${this.onKey}
    ></canvas>`;
  }
}

customElements.define('clora-point-preview', PointPreview);

declare global {
  interface HTMLElementTagNameMap {
    'clora-point-preview': PointPreview;
  }
}
