// What the page remembers between visits in localStorage: the training settings, the backbone choice (a
// chosen file cannot be kept) and the webcam set-up. Private mode or full storage just means nothing is
// remembered.
import { DEFAULT_CAMERA, DEFAULT_UI_SETTINGS, type BackboneChoice, type CameraPrefs, type UiSettings } from './state';

const SETTINGS_KEY = 'clora-web.settings';
const BACKBONE_KEY = 'clora-web.backbone';
const CAMERA_KEY = 'clora-web.camera';

/** Frame rates the webcam offers for recording. */
export const CAMERA_RATES = [2, 5, 10, 15];

export function savedCamera(): CameraPrefs {
  try {
    const saved = JSON.parse(localStorage.getItem(CAMERA_KEY) ?? 'null') as Partial<CameraPrefs> | null;
    return {
      deviceId: typeof saved?.deviceId === 'string' && saved.deviceId ? saved.deviceId : undefined,
      mirror: saved?.mirror === true,
      fps: CAMERA_RATES.includes(saved?.fps as number) ? (saved!.fps as number) : DEFAULT_CAMERA.fps,
    };
  } catch {
    return { ...DEFAULT_CAMERA };
  }
}

export function saveCamera(camera: CameraPrefs): void {
  try {
    localStorage.setItem(CAMERA_KEY, JSON.stringify(camera));
  } catch {
    // not remembered
  }
}

export function savedSettings(): UiSettings {
  try {
    return settingsFrom(JSON.parse(localStorage.getItem(SETTINGS_KEY) ?? 'null'));
  } catch {
    return { ...DEFAULT_UI_SETTINGS };
  }
}

/**
 * Settings from anything saved (localStorage, a project file): each known field whose value has the
 * default's type is kept, anything else falls back to the default.
 */
export function settingsFrom(saved: unknown): UiSettings {
  const out: Record<string, unknown> = { ...DEFAULT_UI_SETTINGS };
  if (typeof saved !== 'object' || saved === null) return out as unknown as UiSettings;
  for (const [key, fallback] of Object.entries(DEFAULT_UI_SETTINGS)) {
    const value = (saved as Record<string, unknown>)[key];
    const fits = Array.isArray(fallback) ? Array.isArray(value) && value.every((v) => typeof v === 'string') : typeof value === typeof fallback && (typeof value !== 'number' || Number.isFinite(value));
    if (fits) out[key] = value;
  }
  return out as unknown as UiSettings;
}

export function saveSettings(settings: UiSettings): void {
  try {
    localStorage.setItem(SETTINGS_KEY, JSON.stringify(settings));
  } catch {
    // not remembered
  }
}

export function savedBackboneChoice(): BackboneChoice {
  try {
    const saved = JSON.parse(localStorage.getItem(BACKBONE_KEY) ?? 'null') as BackboneChoice | null;
    if (saved && (saved.kind === 'bundled' || saved.kind === 'known' || saved.kind === 'url')) return saved;
  } catch {
    // fall through to the default
  }
  return { kind: 'bundled' };
}

export function saveBackboneChoice(choice: BackboneChoice): void {
  if (choice.kind === 'file') return;
  try {
    localStorage.setItem(BACKBONE_KEY, JSON.stringify(choice));
  } catch {
    // not remembered
  }
}
