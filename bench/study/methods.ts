// The study's rows: which fine-tuning methods it compares, their settings, and the grids their learning rate
// (and, with SADE, its weight) are chosen from on the validation split.
import { DEFAULT_ADAPTER_SETTINGS, type AdapterSettings } from '../../src/clora/settings';

export type Family = 'head' | 'full' | 'lora' | 'clora' | 'clora-sade';

export const FAMILY_LABELS: Record<Family, string> = {
  head: 'head only',
  full: 'full fine-tuning',
  lora: 'LoRA',
  clora: 'CLoRA, no SADE',
  'clora-sade': 'CLoRA with SADE',
};

export interface StudyMethod {
  /** What --only names. */
  id: string;
  family: Family;
  label: string;
  settings: AdapterSettings;
  /** The SADE weight is chosen on the validation split with the learning rate (CLoRA with SADE only). */
  tuneSade: boolean;
  /** A short tag drawn beside the method's marker in the plot. */
  tag: string;
}

// Every adapter row uses LoRA r8's targets and rank (q,v, r 8) unless its name says otherwise; dropout and
// scale are the engine's defaults for both methods.
const ADAPTER: AdapterSettings = { ...DEFAULT_ADAPTER_SETTINGS, targets: ['q', 'v'], rank: 8, sadeWeight: 0 };

const lora = (rank: number): StudyMethod => ({ id: `lora-r${rank}`, family: 'lora', label: `LoRA q,v r${rank}`, settings: { ...ADAPTER, method: 'lora', rank }, tuneSade: false, tag: `r${rank}` });

const clora = (spaces: number, sade: boolean): StudyMethod => ({
  id: `clora-p${spaces}${sade ? '-sade' : ''}`,
  family: sade ? 'clora-sade' : 'clora',
  label: `CLoRA q,v r8 p${spaces}${sade ? ', SADE' : ', no SADE'}`,
  settings: { ...ADAPTER, method: 'clora', spaces, sadeWeight: sade ? DEFAULT_ADAPTER_SETTINGS.sadeWeight : 0 },
  tuneSade: sade,
  tag: `p${spaces}`,
});

/**
 * Every row, in table order. CLoRA p1 appears once: with one space SADE has no pair of components to keep
 * apart (L_SADE is identically zero), so "p1 with SADE" would be the same run.
 */
export const STUDY_METHODS: readonly StudyMethod[] = [
  { id: 'head', family: 'head', label: 'head only (linear probe)', settings: { ...ADAPTER, method: 'head' }, tuneSade: false, tag: 'head' },
  { id: 'full', family: 'full', label: 'full fine-tuning', settings: { ...ADAPTER, method: 'full' }, tuneSade: false, tag: 'full' },
  lora(4),
  lora(8),
  lora(16),
  clora(1, false),
  clora(2, false),
  clora(4, false),
  clora(8, false),
  clora(2, true),
  clora(4, true),
  clora(8, true),
];

/** The row every CLoRA row is compared with, seed by seed: same targets, same rank. */
export const BASELINE_METHOD = 'lora-r8';

/**
 * Learning-rate grids. Full fine-tuning moves every weight of the backbone and wants a smaller rate than
 * methods that train a head and small adapters, so its grid sits lower. The others reach 3e-2: in a reduced
 * run (4 epochs) every one of them chose 1e-2, the top of a grid that stopped there.
 */
export const DEFAULT_LR_GRID: Record<Family, number[]> = {
  head: [1e-3, 3e-3, 1e-2, 3e-2],
  full: [1e-4, 3e-4, 1e-3],
  lora: [1e-3, 3e-3, 1e-2, 3e-2],
  clora: [1e-3, 3e-3, 1e-2, 3e-2],
  'clora-sade': [1e-3, 3e-3, 1e-2, 3e-2],
};

/** SADE weights tried with every learning rate of the grid (the engine's default, 0.1, in the middle). */
export const DEFAULT_SADE_GRID = [0.01, 0.1, 1];

export class StudyOptionError extends Error {
  override name = 'StudyOptionError';
}

/** The rows --only names (all when none), in table order; an unknown name is refused with the list. */
export function selectMethods(only: readonly string[] | undefined): StudyMethod[] {
  if (!only || only.length === 0) return [...STUDY_METHODS];
  const unknown = only.filter((id) => !STUDY_METHODS.some((m) => m.id === id));
  if (unknown.length) throw new StudyOptionError(`--only: unknown method${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}; the rows are ${STUDY_METHODS.map((m) => m.id).join(', ')}.`);
  return STUDY_METHODS.filter((m) => only.includes(m.id));
}
