// The data set on the page: classes and their samples in IndexedDB (added from drops, files, zips, webcam
// frames or the sample data, prepared by the worker), the validation share, thumbnails, and the skipped
// files. Intakes run one after another: they share the manifest and its sequence counter.
import {
  packSamples,
  runIntake,
  sampleDataFiles,
  SampleStore,
  validationFlags,
  walkDropped,
  walkFileList,
  type DatasetManifest,
  type DroppedItem,
  type FoundFile,
  type IntakeProgress,
  type SkippedFile,
  type StoredSample,
} from '../data/intake';
import type { PackedSamples } from '../worker/protocol';
import type { BackboneController } from './backbone';
import { messageOf, type AppContext } from './context';
import type { ClassView, DataState } from './state';

/** Thumbnails shown per class. */
const THUMBNAILS = 6;

/** A thumbnail image URL from stored RGB bytes. */
function thumbnailUrl(rgb: Uint8Array, size: number): string {
  const canvas = document.createElement('canvas');
  canvas.width = size;
  canvas.height = size;
  const context = canvas.getContext('2d');
  if (!context) return '';
  const image = context.createImageData(size, size);
  for (let p = 0; p < size * size; p++) {
    image.data[p * 4] = rgb[p * 3]!;
    image.data[p * 4 + 1] = rgb[p * 3 + 1]!;
    image.data[p * 4 + 2] = rgb[p * 3 + 2]!;
    image.data[p * 4 + 3] = 255;
  }
  context.putImageData(image, 0, 0);
  return canvas.toDataURL('image/png');
}

export class DataController {
  private manifest: DatasetManifest | undefined;
  private intakeChain: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly ctx: AppContext,
    private readonly backbone: BackboneController,
    readonly samples: SampleStore,
    /** The sample data set's index (public/samples/…/index.json). */
    readonly sampleDataUrl: string,
  ) {}

  private patch(fields: Partial<DataState>): void {
    this.ctx.store.patch('data', fields);
  }

  private async ensureManifest(): Promise<DatasetManifest> {
    this.manifest ??= await this.samples.manifest();
    return this.manifest;
  }

  private async saveManifest(): Promise<void> {
    if (this.manifest) await this.samples.saveManifest(this.manifest);
  }

  /** The saved data set, as the page opens. */
  async load(): Promise<void> {
    try {
      this.manifest = await this.samples.manifest();
      await this.refreshClasses();
    } catch (error) {
      this.patch({ message: `The saved data set could not be read (${messageOf(error)}).` });
    }
  }

  /** Resolves once the intakes started so far are over. */
  settled(): Promise<unknown> {
    return this.intakeChain;
  }

  /** Every sample packed for training, with the data set's fingerprint (checkpoints compare it). */
  async pack(): Promise<{ samples: PackedSamples; fingerprint: string }> {
    return packSamples(this.samples, await this.ensureManifest());
  }

  private async refreshClasses(): Promise<void> {
    const manifest = await this.ensureManifest();
    const old = new Map(this.ctx.store.state.data.classes.map((c) => [c.id, c]));
    const classes: ClassView[] = [];
    let total = 0;
    for (const info of manifest.classes) {
      const keys = await this.samples.keysOf(info.id);
      total += keys.length;
      const previous = old.get(info.id);
      let thumbnails = previous && previous.count === keys.length && previous.thumbnails.length ? previous.thumbnails : [];
      if (thumbnails.length < Math.min(THUMBNAILS, keys.length)) {
        const picked = await this.samples.get(keys.slice(0, THUMBNAILS));
        thumbnails = picked.map((s) => thumbnailUrl(s.rgb, s.size));
      }
      const validation = validationFlags(keys.length, manifest.validationShare).filter(Boolean).length;
      classes.push({ id: info.id, name: info.name, count: keys.length, validation, thumbnails });
    }
    this.patch({ classes, total, skipped: manifest.skipped, validationShare: manifest.validationShare, sampleLoaded: Boolean(manifest.sample) });
  }

  /** The share of every class held out for validation (part of the data set, so checkpoints compare it). */
  async setValidationShare(share: number): Promise<void> {
    if (!(share >= 0 && share <= 0.9)) {
      this.patch({ message: 'The validation share must be between 0 % and 90 %.' });
      return;
    }
    // In place: an intake under way holds the same manifest.
    (await this.ensureManifest()).validationShare = share;
    await this.saveManifest();
    await this.refreshClasses();
  }

  private newClassId(m: DatasetManifest): string {
    return `c${m.nextSeq++}`;
  }

  private classIdFor(m: DatasetManifest, name: string): string {
    const clean = name.trim() || 'unnamed';
    const found = m.classes.find((c) => c.name === clean);
    if (found) return found.id;
    const id = this.newClassId(m);
    m.classes = [...m.classes, { id, name: clean }];
    return id;
  }

  async addClass(name?: string): Promise<void> {
    const m = await this.ensureManifest();
    let base = (name ?? '').trim() || `class ${m.classes.length + 1}`;
    let n = 2;
    const taken = new Set(m.classes.map((c) => c.name));
    const wanted = base;
    while (taken.has(base)) base = `${wanted} ${n++}`;
    m.classes = [...m.classes, { id: this.newClassId(m), name: base }];
    await this.saveManifest();
    await this.refreshClasses();
  }

  async renameClass(id: string, name: string): Promise<void> {
    const m = await this.ensureManifest();
    const clean = name.trim();
    if (!clean) {
      this.patch({ message: 'A class needs a name.' });
      return;
    }
    if (m.classes.some((c) => c.name === clean && c.id !== id)) {
      this.patch({ message: `There is already a class named "${clean}".` });
      return;
    }
    m.classes = m.classes.map((c) => (c.id === id ? { ...c, name: clean } : c));
    await this.saveManifest();
    this.patch({ message: undefined });
    await this.refreshClasses();
  }

  async deleteClass(id: string): Promise<void> {
    const m = await this.ensureManifest();
    const name = m.classes.find((c) => c.id === id)?.name;
    await this.samples.deleteClass(id);
    m.classes = m.classes.filter((c) => c.id !== id);
    await this.saveManifest();
    await this.refreshClasses();
    this.patch({ message: name ? `Deleted the class "${name}" and its images.` : undefined });
  }

  async clear(): Promise<void> {
    await this.samples.clear();
    this.manifest = { ...(await this.samples.manifest()), validationShare: this.ctx.store.state.data.validationShare };
    await this.saveManifest();
    this.patch({ classes: [], skipped: [], total: 0, message: 'The data set is empty now.', sampleLoaded: false });
  }

  clearSkipped(): void {
    if (!this.manifest) return;
    this.manifest.skipped = [];
    void this.saveManifest();
    this.patch({ skipped: [] });
  }

  /** Runs one intake after the others: files found are prepared by the worker and stored. */
  private intake(label: string, found: () => AsyncIterable<FoundFile>, targetClassId?: string): Promise<IntakeProgress | undefined> {
    const job = this.intakeChain.then(async () => {
      const worker = this.ctx.worker;
      try {
        await this.backbone.require();
        if (!worker) throw new Error('WebGPU is not available in this browser, so images cannot be prepared.');
        const m = await this.ensureManifest();
        this.patch({ intake: { label, seen: 0, added: 0, skipped: 0, done: false }, message: undefined });
        const skippedNow: SkippedFile[] = [];
        const result = await runIntake(
          found(),
          {
            store: this.samples,
            prepare: (items) => worker.request({ type: 'prepare', items }),
            classId: (name) => this.classIdFor(m, name),
            nextSeq: () => m.nextSeq++,
            onProgress: (p) => this.patch({ intake: { ...p, label } }),
            onSkipped: (s) => skippedNow.push(s),
            onAdded: (added) => this.noteAdded(m, added),
          },
          targetClassId,
        );
        m.skipped = [...m.skipped, ...skippedNow];
        await this.saveManifest();
        await this.refreshClasses();
        const skippedText = result.skipped ? `, skipped ${result.skipped} (see the list below)` : '';
        this.patch({ intake: undefined, message: `${label}: added ${result.added} image${result.added === 1 ? '' : 's'}${skippedText}.` });
        return result;
      } catch (error) {
        await this.saveManifest().catch(() => undefined);
        await this.refreshClasses().catch(() => undefined);
        this.patch({ intake: undefined, message: `${label} failed: ${messageOf(error)}` });
        return undefined;
      }
    });
    this.intakeChain = job;
    return job;
  }

  /** Live counts while an intake runs (thumbnails for classes that have few). */
  private noteAdded(m: DatasetManifest, added: StoredSample[]): void {
    const byId = new Map(this.ctx.store.state.data.classes.map((c) => [c.id, { ...c, thumbnails: [...c.thumbnails] }]));
    for (const s of added) {
      let view = byId.get(s.classId);
      if (!view) {
        const name = m.classes.find((c) => c.id === s.classId)?.name ?? s.classId;
        view = { id: s.classId, name, count: 0, validation: 0, thumbnails: [] };
        byId.set(s.classId, view);
      }
      view.count++;
      if (view.thumbnails.length < THUMBNAILS) view.thumbnails.push(thumbnailUrl(s.rgb, s.size));
    }
    const classes = m.classes.map((c) => byId.get(c.id) ?? { id: c.id, name: c.name, count: 0, validation: 0, thumbnails: [] });
    this.patch({ classes, total: classes.reduce((n, c) => n + c.count, 0) });
  }

  addDropped(items: DroppedItem[], targetClassId?: string): Promise<IntakeProgress | undefined> {
    return this.intake(targetClassId ? 'Adding images' : 'Adding the dropped folder', () => walkDropped(items), targetClassId);
  }

  addFiles(files: File[], targetClassId?: string, label = 'Adding files'): Promise<IntakeProgress | undefined> {
    return this.intake(label, () => walkFileList(files), targetClassId);
  }

  /** Webcam frames recorded into a class. */
  addFrames(classId: string, blobs: Blob[]): Promise<IntakeProgress | undefined> {
    return this.intake(
      'Adding webcam frames',
      async function* () {
        let n = 0;
        for (const blob of blobs) yield { path: `webcam-${Date.now()}-${++n}.jpg`, file: blob };
      },
      classId,
    );
  }

  async useSampleData(): Promise<void> {
    const m = await this.ensureManifest();
    if (m.sample === this.sampleDataUrl && this.ctx.store.state.data.total > 0) {
      this.patch({ message: 'The sample data is already in the data set.' });
      return;
    }
    const result = await this.intake('Loading the sample data', () => sampleDataFiles(this.sampleDataUrl));
    if (result && result.added > 0) {
      this.manifest!.sample = this.sampleDataUrl;
      await this.saveManifest();
      this.patch({ sampleLoaded: true });
    }
  }
}
