// Which data set in IndexedDB is the page's. Opening a project writes its images into a new data set beside
// the current one (a staging area); only when every image is in does this pointer switch to it, and only
// then is the old one deleted. A project that fails half-way leaves the pointer, and the data set the user
// had, untouched.
import { createStore, del, get, set, type UseStore } from 'idb-keyval';
import { SampleStore } from '../data/intake';

const ACTIVE = 'dataset';

export class ActiveDataset {
  private pointer: UseStore;

  /** `base`: the app's storage prefix, whose own data set is the default. */
  constructor(private readonly base = 'clora-web') {
    this.pointer = createStore(`${base}-active`, 'active');
  }

  /** The storage prefix of the page's data set. */
  async prefix(): Promise<string> {
    return (await get<string>(ACTIVE, this.pointer)) ?? this.base;
  }

  async store(): Promise<SampleStore> {
    return new SampleStore(await this.prefix());
  }

  /** A fresh prefix for a data set being staged. */
  stagingPrefix(): string {
    return `${this.base}-staged-${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
  }

  /** Makes `prefix` the page's data set. */
  async activate(prefix: string): Promise<void> {
    if (prefix === this.base) await del(ACTIVE, this.pointer);
    else await set(ACTIVE, prefix, this.pointer);
  }
}

/** Deletes a data set's two databases (samples and manifest); a blocked or failed deletion is left to the browser. */
export async function deleteDataset(prefix: string): Promise<void> {
  await Promise.all(
    [`${prefix}-samples`, `${prefix}-dataset`].map(
      (name) =>
        new Promise<void>((resolve) => {
          const request = indexedDB.deleteDatabase(name);
          request.onsuccess = request.onerror = request.onblocked = () => resolve();
        }),
    ),
  );
}
