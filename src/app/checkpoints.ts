// Checkpoints on the page: each one the worker sends is saved to IndexedDB (one after another; a full
// quota is reported and the previous one survives), the list and the storage use are shown, and after a
// reload or a lost device the newest unfinished one is what Resume continues from, its curves redrawn.
import { CheckpointError, CheckpointStore, describeUnreadable, storageUse, type Checkpoint, type CheckpointMeta } from '../io/checkpoints';
import type { RunSettings, WorkerEvent } from '../worker/protocol';
import { messageOf, type AppContext } from './context';

/** What the page knows about a run that the worker's checkpoint event does not carry. */
export interface RunContext {
  settings: RunSettings;
  fingerprint: string;
  classes: string[];
  totalSteps: number;
  backbone: CheckpointMeta['backbone'];
}

export class CheckpointController {
  private saveChain: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly ctx: AppContext,
    readonly store: CheckpointStore,
  ) {}

  load(id: string): Promise<Checkpoint> {
    return this.store.load(id);
  }

  async delete(id: string): Promise<void> {
    await this.store.delete(id);
    await this.refresh();
  }

  /** Resolves once every checkpoint received so far is written (or failed). */
  saved(): Promise<unknown> {
    return this.saveChain;
  }

  save(event: Extract<WorkerEvent, { kind: 'checkpoint' }>, run: RunContext): void {
    const last = event.state.history.at(-1);
    const acc = event.accuracy.at(-1);
    const store = this.ctx.store;
    this.saveChain = this.saveChain.then(async () => {
      store.patch('checkpoints', { saving: true });
      try {
        await this.store.save(
          {
            runId: event.runId,
            createdAt: Date.now(),
            reason: event.reason,
            step: event.state.step,
            totalSteps: run.totalSteps || last?.totalSteps || event.state.step,
            epoch: last?.epoch ?? 0,
            settings: run.settings,
            classes: run.classes,
            fingerprint: run.fingerprint,
            backbone: run.backbone,
            loss: last?.loss,
            validationAccuracy: acc?.validation,
          },
          { state: event.state, accuracy: event.accuracy },
        );
        store.patch('checkpoints', { saving: false, message: undefined });
      } catch (error) {
        const text = error instanceof CheckpointError ? error.message : `The checkpoint could not be saved: ${messageOf(error)}`;
        store.patch('checkpoints', { saving: false, message: text });
      }
      await this.refresh();
    });
  }

  async refresh(): Promise<void> {
    try {
      await this.store.removeLeftovers();
      const { list, unreadable } = await this.store.inspect();
      this.ctx.store.patch('checkpoints', { list, ...(unreadable.length ? { message: describeUnreadable(unreadable) } : {}) });
      await this.refreshResumable();
    } catch (error) {
      this.ctx.store.patch('checkpoints', { message: `Saved checkpoints could not be read (${messageOf(error)}).` });
    }
    await this.refreshStorage();
  }

  async refreshStorage(): Promise<void> {
    try {
      this.ctx.store.patch('checkpoints', { storage: await storageUse() });
    } catch {
      // estimate() is best effort
    }
  }

  /** After a reload (or a lost device), the newest checkpoint is what Resume continues from. */
  async refreshResumable(): Promise<void> {
    const { store } = this.ctx;
    const run = store.state.run;
    if (run.phase === 'training' || run.phase === 'starting' || (run.phase === 'paused' && run.live)) return;
    const list = store.state.checkpoints.list;
    const resumable = (run.runId ? list.find((c) => c.runId === run.runId) : undefined) ?? list.find((c) => c.step < c.totalSteps);
    if (resumable && run.phase === 'idle' && run.metrics.length === 0) {
      // Show the saved run's curves so the page looks as it was.
      try {
        const { data } = await this.store.load(resumable.id);
        store.patch('run', { resumable, runId: resumable.runId, step: resumable.step, totalSteps: resumable.totalSteps, metrics: data.state.history, accuracy: data.accuracy });
        return;
      } catch {
        // listed but unreadable: offer it anyway; resuming will say what is wrong
      }
    }
    store.patch('run', { resumable });
  }
}
