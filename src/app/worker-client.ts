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
  private endListeners: ((error: WorkerError) => void)[] = [];
  /** The page ended the worker itself: its end is no news. */
  private terminated = false;
  /** The Web Lock the worker holds while it lives (see init). */
  private readonly lock = `clora-training-worker-${crypto.randomUUID()}`;

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

  /** Called once if the worker ends without the page asking (the browser stopped it, or it closed itself). */
  onEnd(listener: (error: WorkerError) => void): void {
    this.endListeners.push(listener);
  }

  /**
   * Starts the worker (it finds the GPU). It takes the lifetime lock first; once it answers, the page asks for
   * the same lock, which the browser grants only when the worker has ended and let go of it: a worker that
   * ends mid-run is noticed at once, not when a request never comes back.
   */
  async init(): Promise<ReplyValue['init']> {
    const ready = await this.request({ type: 'init', lock: this.lock });
    void navigator.locks.request(this.lock, () => this.ended());
    return ready;
  }

  private ended(): void {
    if (this.terminated) return;
    const error = new WorkerError('The training worker stopped unexpectedly (the browser ended it, for example to free memory): what it held is gone.', 'workerLost');
    for (const p of this.pending.values()) p.reject(error);
    this.pending.clear();
    for (const listener of this.endListeners) listener(error);
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
    this.terminated = true;
    this.worker.terminate();
  }
}
