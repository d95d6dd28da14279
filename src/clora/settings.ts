// The fine-tuning method and its settings (clora-spec §1 defaults), validated before any GPU work.

export type Method = 'clora' | 'lora' | 'head' | 'full';
export const METHODS: readonly Method[] = ['clora', 'lora', 'head', 'full'];

/** Adaptable linear maps of a timm block, in the contract's order. */
export type Target = 'q' | 'k' | 'v' | 'proj' | 'fc1' | 'fc2';
export const TARGETS: readonly Target[] = ['q', 'k', 'v', 'proj', 'fc1', 'fc2'];

export interface AdapterSettings {
  method: Method;
  rank: number;
  spaces: number;
  targets: Target[];
  scale: number;
  sadeWeight: number;
  dropout: number;
}

export const DEFAULT_ADAPTER_SETTINGS: AdapterSettings = {
  method: 'clora',
  rank: 8,
  spaces: 4,
  targets: ['q', 'v'],
  scale: 1,
  sadeWeight: 0.1,
  dropout: 0.1,
};

/** The adapter settings each method uses; the others mean nothing to it (head and full have no branches). */
const SETTINGS_OF_METHOD: Record<Method, readonly (keyof AdapterSettings)[]> = {
  clora: ['rank', 'spaces', 'targets', 'scale', 'sadeWeight', 'dropout'],
  lora: ['rank', 'targets', 'scale', 'dropout'],
  head: [],
  full: [],
};

export function settingApplies(method: Method, setting: keyof AdapterSettings): boolean {
  return setting === 'method' || (SETTINGS_OF_METHOD[method] ?? []).includes(setting);
}

/** What a method trains, for messages that say why a setting does not apply to it. */
export const METHOD_TRAINS: Record<Method, string> = {
  clora: 'shared down/up bases with small cores per target, and the head',
  lora: 'two low-rank factors per target, and the head',
  head: 'only the classifier head',
  full: 'every weight of the backbone and the head, with no low-rank branches',
};

/** A setting a user gave that cannot work; the message says which and why. */
export class SettingsError extends Error {
  override name = 'SettingsError';
}

export function parseTargets(text: string): Target[] {
  const names = text.split(',').map((t) => t.trim()).filter(Boolean);
  if (names.length === 0) throw new SettingsError('--targets is empty: name at least one of q, k, v, proj, fc1, fc2.');
  const unknown = names.filter((n) => !(TARGETS as readonly string[]).includes(n));
  if (unknown.length) throw new SettingsError(`Unknown target${unknown.length > 1 ? 's' : ''} ${unknown.map((u) => `"${u}"`).join(', ')}: targets are q, k, v, proj, fc1 and fc2.`);
  // Keep the contract's order and drop repeats, so files and parameter layouts do not depend on spelling.
  return TARGETS.filter((t) => names.includes(t));
}

export function validateAdapterSettings(s: AdapterSettings): void {
  if (!METHODS.includes(s.method)) throw new SettingsError(`Unknown method "${s.method}": use clora, lora, head or full.`);
  if (s.method === 'clora' || s.method === 'lora') {
    if (!Number.isInteger(s.rank) || s.rank < 1) throw new SettingsError(`The rank must be a whole number ≥ 1 (got ${s.rank}).`);
    if (s.targets.length === 0) throw new SettingsError('At least one target is needed (q, k, v, proj, fc1, fc2).');
  }
  if (s.method === 'clora' && (!Number.isInteger(s.spaces) || s.spaces < 1)) throw new SettingsError(`The number of spaces must be a whole number ≥ 1 (got ${s.spaces}).`);
  if (s.method === 'clora' && s.spaces * s.rank > 128) throw new SettingsError(`spaces × rank is ${s.spaces * s.rank}; at most 128 is supported.`);
  if (!Number.isFinite(s.scale)) throw new SettingsError(`The scale must be a finite number (got ${s.scale}).`);
  if (!(Number.isFinite(s.sadeWeight) && s.sadeWeight >= 0)) throw new SettingsError(`The SADE weight must be ≥ 0 (got ${s.sadeWeight}).`);
  if (!(s.dropout >= 0 && s.dropout < 1)) throw new SettingsError(`The dropout must be in [0, 1) (got ${s.dropout}).`);
}
