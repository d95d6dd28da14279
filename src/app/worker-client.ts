// The page's side of the worker protocol: typed requests that resolve with the worker's reply, and events.
import type { ErrorKind, ReplyMessage, ReplyValue, RequestType, WorkerEvent, WorkerMessage, WorkerRequest } from '../worker/protocol';

/** A request the worker refused; `kind` says what sort of problem it was. */
export class WorkerError extends Error {
  override name = 'WorkerError';
  constructor(
    message: string,
    readonly kind: ErrorKind,
  ) {
    super(message);
  }
}

type Pending = { resolve(value: unknown): void; reject(error: Error): void };

export class WorkerClient {
  private nextId = 1;
  private pending = new Map<number, Pending>();
  private listeners: ((event: WorkerEvent) => void)[] = [];

  constructor(private worker: Worker) {
    worker.onmessage = (event: MessageEvent<WorkerMessage>) => this.receive(event.data);
    worker.onerror = (event) => {
      // A worker that fails to start (a script error) fails every request waiting on it.
      const error = new WorkerError(`The training worker stopped: ${event.message || 'it could not be loaded'}. Reload the page.`, 'other');
      for (const p of this.pending.values()) p.reject(error);
      this.pending.clear();
    };
  }

  static create(): WorkerClient {
    return new WorkerClient(new Worker(new URL('../worker/main.ts', import.meta.url), { type: 'module', name: 'clora-training' }));
  }

  onEvent(listener: (event: WorkerEvent) => void): void {
    this.listeners.push(listener);
  }

  request<T extends RequestType>(request: Extract<WorkerRequest, { type: T }>, transfer: Transferable[] = []): Promise<ReplyValue[T]> {
    const id = this.nextId++;
    return new Promise<ReplyValue[T]>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.worker.postMessage({ ...request, id }, transfer);
    });
  }

  private receive(message: WorkerMessage): void {
    if (message.kind === 'reply') {
      const reply = message as ReplyMessage;
      const p = this.pending.get(reply.id);
      if (!p) return;
      this.pending.delete(reply.id);
      if (reply.ok) p.resolve(reply.value);
      else p.reject(new WorkerError(reply.error?.message ?? 'The worker failed without saying why.', reply.error?.kind ?? 'other'));
      return;
    }
    for (const listener of this.listeners) listener(message);
  }

  terminate(): void {
    this.worker.terminate();
  }
}
