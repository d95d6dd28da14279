// The events components emit and the controller handles, in one typed map: a component can only emit a
// name the map has, with its detail's type, and the controller must handle every name with that type.
import type { DroppedItem } from '../data/intake';
import type { BackboneChoice, CameraPrefs, ExportFormat, UiSettings } from './state';

/** Every user intent a component reports, by event name, with its detail (`void`: none). */
export interface AppEvents {
  'choose-backbone': { choice: BackboneChoice };
  'cancel-download': void;
  'use-sample-data': void;
  'add-dropped': { items: DroppedItem[]; classId?: string };
  'add-files': { files: File[]; classId?: string; label?: string };
  'add-frames': { classId: string; blobs: Blob[] };
  'add-class': { name: string };
  'rename-class': { id: string; name: string };
  'delete-class': { id: string };
  'clear-data': void;
  'clear-skipped': void;
  'set-validation-share': { share: number };
  'settings-change': { patch: Partial<UiSettings> };
  train: void;
  /** Quick mode: the head on cached backbone features. */
  'quick-train': void;
  /** Fine-tuning onward from the quick run's head. */
  'train-from-quick': void;
  pause: void;
  resume: void;
  stop: void;
  'resume-checkpoint': { id: string };
  'delete-checkpoint': { id: string };
  /** Make a saved checkpoint the model Try it and the exports use (no training). */
  'use-checkpoint': { id: string };
  /** Show the images of one confusion-matrix cell (row: true class, column: predicted class). */
  'open-confusion-cell': { actual: number; predicted: number };
  'close-confusion-cell': void;
  /** Projects: one .zip with the images, settings and latest checkpoint, and the data set alone. */
  'save-project': void;
  'open-project': { file: File };
  'export-dataset': void;
  /** The webcam's camera, mirroring or frame rate changed (remembered for the next visit). */
  'camera-change': { patch: Partial<CameraPrefs> };
  export: { format: ExportFormat };
  'import-adapter': { file: File };
  predict: { image: Blob };
  /** Try it with a point file (a point backbone is loaded). */
  'predict-cloud': { file: File };
  /** Switch to the new version of the site that is waiting. */
  'reload-update': void;
}

/** A handler for every event of a map, each taking its own detail. */
export type Handlers<M> = { [K in keyof M]: (detail: M[K]) => void };

type DetailArgs<T> = [T] extends [void] ? [] : [detail: T];

/**
 * An emit function for one event map. Events bubble and cross shadow roots (composed), so whatever
 * element listens above the component hears them.
 */
export function emitterFor<M>(): <K extends keyof M & string>(from: EventTarget, name: K, ...detail: DetailArgs<M[K]>) => void {
  return (from, name, ...detail) => {
    from.dispatchEvent(new CustomEvent(name, { detail: detail[0], bubbles: true, composed: true }));
  };
}

/** Emits one of the app's events (see AppEvents). */
export const emit = emitterFor<AppEvents>();

/** Calls `handlers` for each event of the map that reaches `target`; returns a function that stops listening. */
export function listen<M>(target: EventTarget, handlers: Handlers<M>): () => void {
  const entries = Object.entries(handlers) as [string, (detail: unknown) => void][];
  const listeners = entries.map(([name, handler]) => [name, (event: Event) => handler((event as CustomEvent).detail)] as const);
  for (const [name, listener] of listeners) target.addEventListener(name, listener);
  return () => {
    for (const [name, listener] of listeners) target.removeEventListener(name, listener);
  };
}
