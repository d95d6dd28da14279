// Training checkpoints in IndexedDB: adapter and optimizer state, step, settings, data set fingerprint and
// the metrics history, so a reload (or a lost GPU) resumes where training was with its curves intact.
//
// A run keeps its latest checkpoint. A new one is written under a new key first and the previous one is
// deleted only after that write succeeded, so a full disk (QuotaExceededError) never loses the last good one.
// Small descriptions live apart from the tensors, so listing never loads the tensors.
import { createStore, del, get, promisifyRequest, set, type UseStore } from 'idb-keyval';
import type { AccuracyPoint, CheckpointState, RunSettings } from '../worker/protocol';

export interface CheckpointMeta {
  id: string;
  runId: string;
  createdAt: number;
  reason: 'interval' | 'pause' | 'stop' | 'done';
  step: number;
  totalSteps: number;
  epoch: number;
  settings: RunSettings;
  classes: string[];
  /** datasetFingerprint() of the data the run trains on. */
  fingerprint: string;
  backbone: { spec: string; label: string; url: string | undefined };
  loss: number | undefined;
  validationAccuracy: number | undefined;
  /** Bytes of tensor data (adapter and optimizer moments). */
  bytes: number;
}

export interface CheckpointData {
  state: CheckpointState;
  accuracy: AccuracyPoint[];
}

export interface Checkpoint {
  meta: CheckpointMeta;
  data: CheckpointData;
}

export class CheckpointError extends Error {
  override name = 'CheckpointError';
  constructor(
    message: string,
    /** True when the browser's storage quota was the cause. */
    readonly quota: boolean,
  ) {
    super(message);
  }
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

  constructor(prefix = 'clora-web') {
    this.meta = createStore(`${prefix}-checkpoints`, 'meta');
    this.data = createStore(`${prefix}-checkpoint-data`, 'data');
  }

  /** Newest first. */
  async list(): Promise<CheckpointMeta[]> {
    const all = await this.meta('readonly', (store) => promisifyRequest(store.getAll()));
    return (all as CheckpointMeta[]).sort((a, b) => b.createdAt - a.createdAt);
  }

  async latestOf(runId: string): Promise<CheckpointMeta | undefined> {
    return (await this.list()).find((m) => m.runId === runId);
  }

  async load(id: string): Promise<Checkpoint> {
    const [meta, data] = await Promise.all([get<CheckpointMeta>(id, this.meta), get<CheckpointData>(id, this.data)]);
    if (!meta || !data) throw new CheckpointError('This checkpoint is no longer in the browser\'s storage (it was deleted or the site data was cleared).', false);
    return { meta, data };
  }

  /**
   * Writes a checkpoint under a new id, then deletes the run's older ones. On failure nothing older is
   * touched and the half-written new one is removed; the error says what happened and what to do.
   */
  async save(meta: Omit<CheckpointMeta, 'id' | 'bytes'>, data: CheckpointData): Promise<CheckpointMeta> {
    const older = (await this.list()).filter((m) => m.runId === meta.runId);
    const full: CheckpointMeta = { ...meta, id: `${meta.runId}@${meta.step}-${Date.now().toString(36)}`, bytes: stateBytes(data.state) };
    try {
      await set(full.id, data, this.data);
      await set(full.id, full, this.meta);
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
      throw new CheckpointError(`The checkpoint at step ${meta.step} could not be saved (${error instanceof Error ? error.message : String(error)}). ${kept}`, false);
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
