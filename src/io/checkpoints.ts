// Training checkpoints in IndexedDB: adapter and optimizer state, step, settings, data set fingerprint and
// the metrics history, so a reload (or a lost GPU) resumes where training was with its curves intact.
//
// A run keeps its latest checkpoint. A new one is written under a new key first and the previous one is
// deleted only after that write succeeded, so a full disk (QuotaExceededError) never loses the last good one.
// Small descriptions live apart from the tensors, so listing never loads the tensors; the tensors are written
// first, so a write cut short (a crash) leaves tensors without a description, never a listed half checkpoint,
// and removeLeftovers clears those.
import { createStore, del, get, promisifyRequest, set, type UseStore } from 'idb-keyval';
import type { CheckpointState } from '../worker/protocol';
import { checkCheckpoint, checkCheckpointMeta, CHECKPOINT_RECORD_VERSION, CheckpointError, type CheckpointData, type CheckpointMeta } from './checkpoint-record';

export { CheckpointError, type CheckpointData, type CheckpointMeta } from './checkpoint-record';

export interface Checkpoint {
  meta: CheckpointMeta;
  data: CheckpointData;
}

/** A stored description that cannot be listed, and why. */
export interface UnreadableCheckpoint {
  key: string;
  reason: string;
}

/** One sentence for the page about stored checkpoints that cannot be listed. */
export function describeUnreadable(unreadable: UnreadableCheckpoint[]): string | undefined {
  if (unreadable.length === 0) return undefined;
  if (unreadable.length === 1) return `${unreadable[0]!.reason} It is left out of the list.`;
  return `${unreadable.length} saved checkpoints cannot be used and are left out of the list. The first: ${unreadable[0]!.reason}`;
}

export interface StorageUse {
  usage: number;
  quota: number;
  persisted: boolean;
}

function isQuotaError(error: unknown): boolean {
  const name = (error as { name?: string } | null)?.name;
  return name === 'QuotaExceededError' || (error instanceof DOMException && error.code === 22);
}

export function formatMegabytes(bytes: number): string {
  if (bytes >= 1e9) return `${(bytes / 1e9).toFixed(1)} GB`;
  if (bytes >= 1e6) return `${(bytes / 1e6).toFixed(1)} MB`;
  return `${Math.max(0, Math.round(bytes / 1e3))} kB`;
}

export function stateBytes(state: CheckpointState): number {
  let n = state.optimizer.m.byteLength + state.optimizer.v.byteLength;
  for (const t of state.trainable.values()) n += t.byteLength;
  return n;
}

export class CheckpointStore {
  private meta: UseStore;
  private data: UseStore;
  /** A Web Lock every tab's writes share, so that leftovers are removed only while no write is under way. */
  private writes: string;

  constructor(prefix = 'clora-web') {
    this.meta = createStore(`${prefix}-checkpoints`, 'meta');
    this.data = createStore(`${prefix}-checkpoint-data`, 'data');
    this.writes = `${prefix}-checkpoint-writes`;
  }

  /**
   * Removes tensor records that have no description: what a write cut short leaves (the tab crashed or was
   * closed between the two records), invisible but taking space. Only while no tab is writing a checkpoint
   * (their writes hold the lock shared); returns how many went.
   */
  async removeLeftovers(): Promise<number> {
    const remove = async (): Promise<number> => {
      const [described, stored] = await Promise.all([this.meta('readonly', (s) => promisifyRequest(s.getAllKeys())), this.data('readonly', (s) => promisifyRequest(s.getAllKeys()))]);
      const known = new Set(described.map(String));
      const leftovers = stored.filter((key) => !known.has(String(key)));
      for (const key of leftovers) await del(key, this.data);
      return leftovers.length;
    };
    if (!navigator.locks) return 0;
    return navigator.locks.request(this.writes, { ifAvailable: true }, (lock) => (lock ? remove() : 0));
  }

  /** Newest first; records that cannot be used are left out (inspect() says which and why). */
  async list(): Promise<CheckpointMeta[]> {
    return (await this.inspect()).list;
  }

  /** Every stored description, checked: the usable ones newest first, and the rest with the reason. */
  async inspect(): Promise<{ list: CheckpointMeta[]; unreadable: UnreadableCheckpoint[] }> {
    const [keys, all] = await this.meta('readonly', (store) => Promise.all([promisifyRequest(store.getAllKeys()), promisifyRequest(store.getAll())]));
    const list: CheckpointMeta[] = [];
    const unreadable: UnreadableCheckpoint[] = [];
    all.forEach((value, i) => {
      try {
        list.push(checkCheckpointMeta(value));
      } catch (error) {
        if (!(error instanceof CheckpointError)) throw error;
        unreadable.push({ key: String(keys[i]), reason: error.message });
      }
    });
    return { list: list.sort((a, b) => b.createdAt - a.createdAt), unreadable };
  }

  async latestOf(runId: string): Promise<CheckpointMeta | undefined> {
    return (await this.list()).find((m) => m.runId === runId);
  }

  async load(id: string): Promise<Checkpoint> {
    const [meta, data] = await Promise.all([get<unknown>(id, this.meta), get<unknown>(id, this.data)]);
    if (meta === undefined || data === undefined) throw new CheckpointError('This checkpoint is no longer in the browser\'s storage (it was deleted or the site data was cleared).', false);
    return checkCheckpoint(meta, data);
  }

  /**
   * Writes a checkpoint under a new id, then deletes the run's older ones. On failure nothing older is
   * touched and the half-written new one is removed; the error says what happened and what to do.
   */
  async save(meta: Omit<CheckpointMeta, 'id' | 'bytes' | 'version'>, data: CheckpointData): Promise<CheckpointMeta> {
    const older = (await this.list()).filter((m) => m.runId === meta.runId);
    const full: CheckpointMeta = { ...meta, version: CHECKPOINT_RECORD_VERSION, id: `${meta.runId}@${meta.step}-${Date.now().toString(36)}`, bytes: stateBytes(data.state) };
    try {
      const write = async (): Promise<void> => {
        await set(full.id, data, this.data);
        await set(full.id, full, this.meta);
      };
      await (navigator.locks ? navigator.locks.request(this.writes, { mode: 'shared' }, write) : write());
    } catch (error) {
      await del(full.id, this.meta).catch(() => undefined);
      await del(full.id, this.data).catch(() => undefined);
      const kept = older[0] ? `The previous checkpoint (step ${older[0].step}) is kept.` : 'No earlier checkpoint of this run exists.';
      if (isQuotaError(error)) {
        const use = await storageUse().catch(() => undefined);
        throw new CheckpointError(
          `The browser's storage for this page is full: the checkpoint at step ${meta.step} (${formatMegabytes(full.bytes)}) could not be saved` +
            `${use ? ` (${formatMegabytes(use.usage)} of ${formatMegabytes(use.quota)} used)` : ''}. ${kept} ` +
            'Delete old checkpoints or other site data, then pause or stop again to save.',
          true,
        );
      }
      // An aborted transaction rejects with its error, which is null when nothing but the abort went wrong.
      const why = error instanceof Error ? error.message.replace(/\.$/, '') : 'the write was aborted';
      throw new CheckpointError(`The checkpoint at step ${meta.step} could not be saved: the browser's storage refused it (${why}). ${kept} Later checkpoints are still tried.`, false);
    }
    for (const old of older) await this.delete(old.id).catch(() => undefined);
    return full;
  }

  async delete(id: string): Promise<void> {
    // Description first: a checkpoint without one is invisible, never half-listed.
    await del(id, this.meta);
    await del(id, this.data);
  }
}

/** Storage used versus quota for this origin, and whether it is persistent. */
export async function storageUse(): Promise<StorageUse> {
  const storage = navigator.storage;
  if (!storage?.estimate) return { usage: 0, quota: 0, persisted: false };
  const { usage = 0, quota = 0 } = await storage.estimate();
  const persisted = storage.persisted ? await storage.persisted() : false;
  return { usage, quota, persisted };
}

/** Asks the browser to keep this origin's data under storage pressure; resolves with whether it will. */
export async function requestPersistentStorage(): Promise<boolean> {
  const storage = navigator.storage;
  if (!storage?.persist) return false;
  try {
    return (await storage.persisted?.()) || (await storage.persist());
  } catch {
    return false;
  }
}
