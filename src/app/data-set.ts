// The data set on the page: classes and their samples in IndexedDB (added from drops, files, zips, webcam
// frames or the sample data, prepared by the worker), the validation share, thumbnails (3-D previews for
// point clouds), and the skipped files. A data set holds images or point clouds, as the backbone takes them
// (src/app/data-kind.ts). Intakes run one after another: they share the manifest and its sequence counter.
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
import type { ActiveDataset } from '../io/active-dataset';
import { isStoredCloud, packClouds, precheckPointFile } from '../data/point-samples';
import { dequantizeCloud } from '../data/points/quantize';
import { samplesText, sampleNoun, type SampleKind } from '../data/sample-kind';
import type { PackedData } from '../worker/protocol';
import type { BackboneController } from './backbone';
import { messageOf, type AppContext } from './context';
import { backboneTakes, mixedIntakeRefusal } from './data-kind';
import type { ClassView, DataState } from './state';
import { thumbnailUrl } from './thumbnails';

/** Thumbnails shown per class. */
const THUMBNAILS = 6;
/** 3-D previews shown per class of point clouds (each a canvas the user can turn). */
const CLOUD_PREVIEWS = 3;

/** What a class card shows of stored samples: thumbnails of images, or clouds to turn. */
function previewsOf(samples: StoredSample[]): Pick<ClassView, 'thumbnails' | 'clouds'> {
  const clouds = samples.filter(isStoredCloud);
  if (clouds.length) return { thumbnails: [], clouds: clouds.slice(0, CLOUD_PREVIEWS).map((s) => dequantizeCloud(s.points)) };
  return { thumbnails: samples.flatMap((s) => ('rgb' in s ? [thumbnailUrl(s.rgb, s.size)] : [])).slice(0, THUMBNAILS) };
}

export class DataController {
  private manifest: DatasetManifest | undefined;
  private intakeChain: Promise<unknown> = Promise.resolve();
  /** The page's data set: the default one until load() finds which one is active (an opened project's). */
  private store: SampleStore;

  constructor(
    private readonly ctx: AppContext,
    private readonly backbone: BackboneController,
    readonly active: ActiveDataset,
    /** The sample data sets' indexes (public/samples/…/index.json), by the kind of sample the backbone takes. */
    readonly sampleDataUrls: Record<SampleKind, string>,
  ) {
    this.store = new SampleStore();
  }

  get samples(): SampleStore {
    return this.store;
  }

  /** The data set as stored: classes, split, sequence counter (a project saves it). */
  async currentManifest(): Promise<DatasetManifest> {
    await this.intakeChain;
    return this.ensureManifest();
  }

  /** Shows the active data set again after the pointer moved to another one (an opened project's). */
  async reloadActive(): Promise<void> {
    await this.intakeChain;
    this.manifest = undefined;
    this.patch({ classes: [], message: undefined });
    await this.load();
  }

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
      this.store = await this.active.store();
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

  /** What the stored samples are: undefined while the data set is empty. */
  private heldKind(m: DatasetManifest): SampleKind | undefined {
    return this.ctx.store.state.data.total > 0 ? (m.kind ?? 'images') : undefined;
  }

  /** Every sample packed for training, with the data set's fingerprint (checkpoints compare it). */
  async pack(): Promise<{ samples: PackedData; fingerprint: string }> {
    const m = await this.ensureManifest();
    return m.kind === 'points' ? packClouds(this.samples, m) : packSamples(this.samples, m);
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
      const shown = previous ? previous.thumbnails.length + (previous.clouds?.length ?? 0) : 0;
      let previews: Pick<ClassView, 'thumbnails' | 'clouds'> = previous && previous.count === keys.length && shown ? previous : { thumbnails: [] };
      const wanted = manifest.kind === 'points' ? CLOUD_PREVIEWS : THUMBNAILS;
      if (previews.thumbnails.length + (previews.clouds?.length ?? 0) < Math.min(wanted, keys.length)) {
        previews = previewsOf(await this.samples.get(keys.slice(0, wanted)));
      }
      const validation = validationFlags(keys.length, manifest.validationShare).filter(Boolean).length;
      classes.push({ id: info.id, name: info.name, count: keys.length, validation, thumbnails: previews.thumbnails, clouds: previews.clouds });
    }
    const kind = total > 0 ? (manifest.kind ?? 'images') : undefined;
    this.patch({ classes, total, kind, skipped: manifest.skipped, validationShare: manifest.validationShare, sampleLoaded: Boolean(manifest.sample) });
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
    this.patch({ message: name ? `Deleted the class "${name}" and its ${sampleNoun(m.kind ?? 'images')}.` : undefined });
  }

  async clear(): Promise<void> {
    await this.samples.clear();
    this.manifest = { ...(await this.samples.manifest()), validationShare: this.ctx.store.state.data.validationShare };
    await this.saveManifest();
    this.patch({ classes: [], skipped: [], total: 0, kind: undefined, message: 'The data set is empty now.', sampleLoaded: false });
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
        const backbone = await this.backbone.require();
        if (!worker) throw new Error('WebGPU is not available in this browser, so files cannot be prepared.');
        const m = await this.ensureManifest();
        const kind = backboneTakes(backbone);
        const held = this.heldKind(m);
        if (held && held !== kind) {
          this.patch({ message: mixedIntakeRefusal(held, this.ctx.store.state.data.total, backbone.label) });
          return undefined;
        }
        m.kind = kind;
        this.patch({ intake: { label, seen: 0, added: 0, skipped: 0, done: false }, message: undefined });
        const skippedNow: SkippedFile[] = [];
        const result = await runIntake(
          found(),
          {
            store: this.samples,
            prepare: (items) => (kind === 'points' ? worker.request({ type: 'preparePoints', items }) : worker.request({ type: 'prepare', items })),
            precheck: kind === 'points' ? (_path, file) => precheckPointFile(file) : undefined,
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
        this.patch({ intake: undefined, message: `${label}: added ${samplesText(kind, result.added)}${skippedText}.` });
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
      if (isStoredCloud(s)) {
        if ((view.clouds?.length ?? 0) < CLOUD_PREVIEWS) view.clouds = [...(view.clouds ?? []), dequantizeCloud(s.points)];
      } else if (view.thumbnails.length < THUMBNAILS) view.thumbnails.push(thumbnailUrl(s.rgb, s.size));
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

  /** The sample data set for what the loaded backbone takes: furniture point clouds, or Fashion-MNIST images. */
  async useSampleData(): Promise<void> {
    const m = await this.ensureManifest();
    // A backbone still loading decides which set is wanted (without one, the intake says what to do).
    const url = this.sampleDataUrls[backboneTakes(await this.backbone.require().catch(() => undefined))];
    if (m.sample === url && this.ctx.store.state.data.total > 0) {
      this.patch({ message: 'The sample data is already in the data set.' });
      return;
    }
    const result = await this.intake('Loading the sample data', () => sampleDataFiles(url));
    if (result && result.added > 0) {
      this.manifest!.sample = url;
      await this.saveManifest();
      this.patch({ sampleLoaded: true });
    }
  }
}
