// The worker's global scope: how replies and events leave it. Every file of the worker posts through here.
import type { RequestMessage, WorkerEvent } from './protocol';

interface WorkerScope {
  postMessage(message: unknown, transfer?: Transferable[]): void;
  onmessage: ((event: MessageEvent<RequestMessage>) => void) | null;
}

export const scope = self as unknown as WorkerScope;

/** Sends an event to the page (progress, metrics, checkpoints, run state, device loss). */
export function emit(event: WorkerEvent, transfer: Transferable[] = []): void {
  scope.postMessage(event, transfer);
}

export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
