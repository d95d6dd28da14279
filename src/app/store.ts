// The one place the app's state changes: each change makes a new state object (components compare by
// identity) and tells the listeners.
import type { AppState } from './state';

/** Slices of the state that are objects, patched field by field. */
type ObjectSlice = { [K in keyof AppState]: AppState[K] extends object ? K : never }[keyof AppState];

export class Store {
  private listeners: ((state: AppState) => void)[] = [];

  constructor(private current: AppState) {}

  get state(): AppState {
    return this.current;
  }

  /** Replaces whole slices. */
  update(patch: Partial<AppState>): void {
    this.current = { ...this.current, ...patch };
    for (const listener of this.listeners) listener(this.current);
  }

  /** Changes some fields of one slice, keeping the rest. */
  patch<K extends ObjectSlice>(slice: K, fields: Partial<AppState[K]>): void {
    this.update({ [slice]: { ...this.current[slice], ...fields } } as Partial<AppState>);
  }

  subscribe(listener: (state: AppState) => void): () => void {
    this.listeners.push(listener);
    return () => {
      this.listeners = this.listeners.filter((l) => l !== listener);
    };
  }
}
