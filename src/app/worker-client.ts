// The page's side of the worker protocol: typed requests that resolve with the worker's reply, and events.
import type { ErrorKind, ReplyMessage, ReplyValue, RequestType, WorkerEvent, WorkerMessage, WorkerRequest } from '../worker/protocol';
import workerScript from '../worker/main.ts?worker&url';

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

  /**
   * Starts the training worker from a blob: URL whose one line imports the worker's script. A worker made
   * from a blob: URL runs under the page's Content-Security-Policy, the built site's meta tag included; one
   * made from the script's own URL would run under that response's headers, which a static host may not
   * set — and it is the worker that downloads models, so the site's list of model hosts must hold there.
   */
  static create(): WorkerClient {
    const script = new URL(workerScript, location.href).href;
    const loader = URL.createObjectURL(new Blob([`import ${JSON.stringify(script)};\n`], { type: 'text/javascript' }));
    const worker = new Worker(loader, { type: 'module', name: 'clora-training' });
    worker.addEventListener('message', () => URL.revokeObjectURL(loader), { once: true });
    return new WorkerClient(worker);
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
