// The one model the worker predicts and exports with: the run being trained (with its training session),
// an imported adapter, a saved checkpoint's weights, or the backbone's own head. Whatever replaces it, a new
// backbone or a lost device, it leaves the slot through release(): the one place a model and its session
// are ended and disposed.
import type { FineTuneModel } from '../clora/model';
import type { ModelSource } from './protocol';
import type { TrainingSession } from './session';

export interface HeldModel {
  model: FineTuneModel;
  source: ModelSource;
  /** Which model this is, in words: Try it says it with every prediction. */
  label: string;
  /** The training session of a trained model, while it can still train or be inspected. */
  session: TrainingSession | undefined;
}

let held: HeldModel | undefined;
/** Counts changes of the slot: a model built across awaits is kept only if nothing else took the slot meanwhile. */
let version = 0;

export function slotVersion(): number {
  return version;
}

export function heldModel(): HeldModel | undefined {
  return held;
}

/** The session of the model in the slot, if it is a trained one. */
export function heldSession(): TrainingSession | undefined {
  return held?.session;
}

/** Puts a model in the slot, releasing the one that was there. */
export function hold(model: FineTuneModel, source: ModelSource, label: string, session?: TrainingSession): void {
  release();
  held = { model, source, label, session };
  version++;
}

/**
 * Empties the slot: the session (if any) ends — its run stops and a paused run's wait is woken so its loop
 * returns — then the trainer and the model give their GPU buffers back. After a device loss the buffers are
 * gone with the device, and a step may still be unwinding, so nothing is disposed then.
 */
export function release(opts: { deviceLost?: boolean } = {}): void {
  const h = held;
  if (!h) return;
  held = undefined;
  version++;
  h.session?.end();
  if (opts.deviceLost) return;
  h.session?.trainer.dispose();
  h.model.dispose();
}
