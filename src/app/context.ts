// What every part of the page's controller shares: the state store and the training worker (absent until
// start() made it, and without WebGPU).
import type { Store } from './store';
import type { WorkerClient } from './worker-client';

export interface AppContext {
  readonly store: Store;
  worker: WorkerClient | undefined;
}

export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
