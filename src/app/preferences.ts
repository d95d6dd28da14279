// What the page remembers between visits in localStorage: the training settings and the backbone choice
// (a chosen file cannot be kept). Private mode or full storage just means nothing is remembered.
import { DEFAULT_UI_SETTINGS, type BackboneChoice, type UiSettings } from './state';

const SETTINGS_KEY = 'clora-web.settings';
const BACKBONE_KEY = 'clora-web.backbone';

export function savedSettings(): UiSettings {
  try {
    const saved = JSON.parse(localStorage.getItem(SETTINGS_KEY) ?? 'null') as Partial<UiSettings> | null;
    return { ...DEFAULT_UI_SETTINGS, ...(saved ?? {}) };
  } catch {
    return { ...DEFAULT_UI_SETTINGS };
  }
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
