// Projects on the page: Save project writes one .zip (the samples in class folders — images as PNG, point
// clouds as .npy — project.json, and the latest checkpoint of this data set as a checkpoint file), Export data
// set writes just the class folders, and Open project restores all of it in another browser — samples, classes,
// split, settings, the checkpoint with its curves, so Resume continues the run. A project is opened into a
// staging data set beside the current one and the page switches to it only once every sample is in and the
// checkpoint is saved: a newer format, a damaged zip or a missing file is refused with a sentence and the
// current project is untouched.
import { SettingsError } from '../clora/settings';
import { classOfKey, runData, SampleStore, type DatasetManifest, type StoredSample } from '../data/intake';
import { isStoredCloud } from '../data/point-samples';
import { inputKindOf, sampleNoun, samplesText, type SampleKind } from '../data/sample-kind';
import { deleteDataset } from '../io/active-dataset';
import { dataIdentity, type CheckpointRun } from '../io/checkpoint-file';
import type { CheckpointMeta } from '../io/checkpoints';
import { checkProjectCheckpoint } from '../io/project-checkpoint';
import { cloudFile, storedCloudOf } from '../io/project-clouds';
import { CHECKPOINT_ENTRY, classFolders, PROJECT_JSON, projectDamaged, ProjectError, projectJson, SAMPLE_FILES, sampleFileName, type ProjectCheckpoint, type ProjectFile, type ProjectPoints } from '../io/project-file';
import { readProjectEntries, readProjectJson } from '../io/project-zip';
import { ZipWriter } from '../io/zip';
import type { BackboneInfo, PrepareItem } from '../worker/protocol';
import type { BackboneController } from './backbone';
import type { CheckpointController } from './checkpoints';
import { messageOf, type AppContext } from './context';
import type { DataController } from './data-set';
import { download, type ModelIo } from './model-io';
import { settingsFrom } from './preferences';
import type { ProjectState, UiSettings } from './state';

/** Samples encoded or decoded per batch. */
const BATCH = 64;

/** The sequence number of a sample key ("c3/000000017" → 17). */
function seqOfKey(key: string): number {
  return Number(key.slice(key.lastIndexOf('/') + 1));
}

/** A stored sample as the file a project holds: an image as PNG, a cloud as .npy (both open back to the same stored values). */
async function sampleFile(sample: StoredSample, kind: SampleKind): Promise<Uint8Array> {
  if (isStoredCloud(sample) !== (kind === 'points')) throw new Error(`${sample.key} is not one of the ${sampleNoun(kind)} this data set holds: clear the data set and add one kind of sample`);
  if (isStoredCloud(sample)) return cloudFile(sample.count, sample.points);
  const { size, rgb } = sample;
  const canvas = new OffscreenCanvas(size, size);
  const context = canvas.getContext('2d');
  if (!context) throw new Error('this browser gave no 2D canvas to write images with');
  const image = context.createImageData(size, size);
  for (let p = 0; p < size * size; p++) {
    image.data[p * 4] = rgb[p * 3]!;
    image.data[p * 4 + 1] = rgb[p * 3 + 1]!;
    image.data[p * 4 + 2] = rgb[p * 3 + 2]!;
    image.data[p * 4 + 3] = 255;
  }
  context.putImageData(image, 0, 0);
  return new Uint8Array(await (await canvas.convertToBlob({ type: 'image/png' })).arrayBuffer());
}

/** The kind of sample a data set holds (data sets saved before point clouds came hold images). */
function kindOf(manifest: DatasetManifest): SampleKind {
  return manifest.kind ?? 'images';
}

/**
 * A point project's point settings, from the backbone its clouds are stored for; a sentence when the loaded
 * backbone takes the other kind of sample (the project would name a backbone its samples do not fit).
 */
function pointSettings(kind: SampleKind, info: BackboneInfo): ProjectPoints | null {
  if (inputKindOf(info.kind) !== kind) {
    throw new Error(`this data set holds ${sampleNoun(kind)}, and the loaded backbone ${info.label} takes ${sampleNoun(inputKindOf(info.kind))}: load the backbone they were added for, then save`);
  }
  return info.kind === 'point' ? { count: info.points, groups: info.groups, groupSize: info.groupSize } : null;
}

function today(): string {
  return new Date().toISOString().slice(0, 10);
}

export class ProjectController {
  constructor(
    private readonly ctx: AppContext,
    private readonly backbone: BackboneController,
    private readonly data: DataController,
    private readonly checkpoints: CheckpointController,
    private readonly model: ModelIo,
    private readonly applySettings: (settings: UiSettings) => void,
  ) {}

  private patch(fields: Partial<ProjectState>): void {
    this.ctx.store.patch('project', fields);
  }

  private idle(): boolean {
    return this.ctx.store.state.project.busy === undefined;
  }

  /** Save project: project.json, the latest checkpoint of this data set, then every sample in its class folder. */
  async save(): Promise<void> {
    const { worker } = this.ctx;
    if (!worker || !this.idle()) return;
    this.patch({ busy: 'saving', progress: undefined, message: 'Saving the project…', failed: false });
    try {
      const info = await this.backbone.require();
      const store = this.data.samples;
      const manifest = await this.data.currentManifest();
      const kind = kindOf(manifest);
      const points = pointSettings(kind, info);
      const keys = await store.keys();
      const { fingerprint, trainLabels } = runData(manifest, keys);
      const folders = classFolders(manifest.classes.map((c) => c.name));
      const keysByClass = new Map(manifest.classes.map((c) => [c.id, [] as string[]]));
      for (const key of keys) keysByClass.get(classOfKey(key))?.push(key);

      // The newest checkpoint trained on exactly these images and on this backbone.
      await this.checkpoints.saved();
      const latest = this.ctx.store.state.checkpoints.list.find((c) => c.fingerprint === fingerprint && c.backbone.spec === info.spec);
      let checkpoint: { meta: ProjectCheckpoint; file: Blob } | undefined;
      if (latest) {
        const { meta, data } = await this.checkpoints.load(latest.id);
        const file = await worker.request({
          type: 'writeCheckpointFile',
          run: { settings: meta.settings.adapter, classes: meta.classes, train: meta.settings.train, totalSteps: meta.totalSteps, state: data.state, data: await dataIdentity(trainLabels), extra: {} },
        });
        checkpoint = {
          file,
          meta: {
            file: CHECKPOINT_ENTRY,
            runId: meta.runId,
            step: meta.step,
            totalSteps: meta.totalSteps,
            createdAt: meta.createdAt,
            reason: meta.reason,
            checkpointEvery: meta.settings.checkpointEvery,
            quick: meta.settings.quick === true,
            fingerprint,
            accuracy: data.accuracy.map((a) => ({ step: a.step, epoch: a.epoch, train: a.train, validation: a.validation ?? null })),
          },
        };
      }
      const project: Omit<ProjectFile, 'format' | 'format_version'> = {
        savedAt: new Date().toISOString(),
        kind,
        points,
        backbone: { spec: info.spec, label: info.label, url: this.backbone.currentUrl() ?? null },
        classes: manifest.classes.map((c, i) => ({ id: c.id, name: c.name, folder: folders[i]!, files: (keysByClass.get(c.id) ?? []).map((k) => sampleFileName(kind, seqOfKey(k))) })),
        validationShare: manifest.validationShare,
        nextSeq: manifest.nextSeq,
        settings: { ...this.ctx.store.state.settings },
        checkpoint: checkpoint?.meta ?? null,
      };
      const zip = new ZipWriter();
      zip.add(PROJECT_JSON, new TextEncoder().encode(`${JSON.stringify(projectJson(project), null, 1)}\n`));
      if (checkpoint) zip.add(CHECKPOINT_ENTRY, new Uint8Array(await checkpoint.file.arrayBuffer()), 'store');
      await this.addSamples(zip, manifest, keysByClass, (c) => `${SAMPLE_FILES[kind].folder}/${folders[manifest.classes.indexOf(c)]!}`);
      const name = `clora-project-${today()}.zip`;
      const blob = zip.finish();
      download(blob, name);
      const what = checkpoint ? `, and the checkpoint at step ${checkpoint.meta.step} of ${checkpoint.meta.totalSteps}` : ' (no checkpoint of this data set yet)';
      this.patch({ busy: undefined, progress: undefined, message: `Saved ${name} (${(blob.size / 1e6).toFixed(1)} MB): ${samplesText(kind, keys.length)} in ${manifest.classes.length} classes, the settings${what}.` });
    } catch (error) {
      this.patch({ busy: undefined, progress: undefined, failed: true, message: `The project could not be saved: ${messageOf(error)}` });
    }
  }

  /** Export data set: each class's samples (PNG images or .npy clouds) in a folder of its name, nothing else. */
  async exportDataset(): Promise<void> {
    if (!this.idle()) return;
    this.patch({ busy: 'exporting', progress: undefined, message: 'Exporting the data set…', failed: false });
    try {
      const manifest = await this.data.currentManifest();
      const keys = await this.data.samples.keys();
      const folders = classFolders(manifest.classes.map((c) => c.name));
      const keysByClass = new Map(manifest.classes.map((c) => [c.id, [] as string[]]));
      for (const key of keys) keysByClass.get(classOfKey(key))?.push(key);
      const zip = new ZipWriter();
      await this.addSamples(zip, manifest, keysByClass, (c) => folders[manifest.classes.indexOf(c)]!);
      const name = `clora-data-set-${today()}.zip`;
      download(zip.finish(), name);
      this.patch({ busy: undefined, progress: undefined, message: `Saved ${name}: ${samplesText(kindOf(manifest), keys.length)} in ${manifest.classes.length} class folders.` });
    } catch (error) {
      this.patch({ busy: undefined, progress: undefined, failed: true, message: `The data set could not be exported: ${messageOf(error)}` });
    }
  }

  private async addSamples(zip: ZipWriter, manifest: DatasetManifest, keysByClass: Map<string, string[]>, folderOf: (c: DatasetManifest['classes'][number]) => string): Promise<void> {
    const kind = kindOf(manifest);
    const total = keysByClass.size ? [...keysByClass.values()].reduce((n, k) => n + k.length, 0) : 0;
    let done = 0;
    for (const c of manifest.classes) {
      const keys = keysByClass.get(c.id) ?? [];
      for (let start = 0; start < keys.length; start += BATCH) {
        const samples = await this.data.samples.get(keys.slice(start, start + BATCH));
        const files = await Promise.all(samples.map((s) => sampleFile(s, kind)));
        // PNGs are compressed already; .npy coordinates deflate by about a quarter.
        samples.forEach((s, i) => zip.add(`${folderOf(c)}/${sampleFileName(kind, seqOfKey(s.key))}`, files[i]!, kind === 'points' ? 'deflate' : 'store'));
        done += samples.length;
        this.patch({ progress: { done, total } });
      }
    }
  }

  /**
   * Open project: read and check project.json, load its backbone, put every sample into a staging data set
   * and read the checkpoint; only then save the checkpoint, switch the page to the staged data set and
   * delete the old one. Any refusal before that deletes the staging area and leaves everything as it was.
   */
  async open(file: File): Promise<void> {
    const { store, worker } = this.ctx;
    if (!worker || !this.idle()) return;
    const run = store.state.run;
    if (run.phase === 'training' || run.phase === 'starting' || (run.phase === 'paused' && run.live)) {
      this.patch({ failed: true, message: 'Stop the current run before opening a project (its last checkpoint is kept).' });
      return;
    }
    if (store.state.data.intake) {
      this.patch({ failed: true, message: 'Samples are being added: open the project once they are in.' });
      return;
    }
    this.patch({ busy: 'opening', progress: undefined, message: `Opening ${file.name}…`, failed: false });
    const prefix = this.data.active.stagingPrefix();
    const staged = new SampleStore(prefix);
    let savedCheckpoint: CheckpointMeta | undefined;
    try {
      const project = await readProjectJson(file, file.name);
      const info = await this.backbone.requireFor({ ...project.backbone, url: project.backbone.url ?? undefined }).catch((error: unknown) => {
        throw new ProjectError(`The project was made with the backbone ${project.backbone.label}, which could not be loaded: ${messageOf(error)}`);
      });
      if (inputKindOf(info.kind) !== project.kind) {
        throw projectDamaged(`it holds ${sampleNoun(project.kind)}, but its backbone ${info.label} takes ${sampleNoun(inputKindOf(info.kind))}`);
      }
      const checkpointBytes = await this.stageSamples(file, project, staged);
      const manifest: DatasetManifest = {
        version: 1,
        kind: project.kind,
        classes: project.classes.map((c) => ({ id: c.id, name: c.name })),
        nextSeq: project.nextSeq,
        validationShare: project.validationShare,
        skipped: [],
      };
      await staged.saveManifest(manifest);
      const data = runData(manifest, await staged.keys());
      let checkpointRun: CheckpointRun | undefined;
      if (project.checkpoint) {
        if (!checkpointBytes) throw projectDamaged(`it lists a checkpoint but holds no ${CHECKPOINT_ENTRY}`);
        if (project.checkpoint.fingerprint !== data.fingerprint) throw projectDamaged(`its ${sampleNoun(project.kind)} are not those its checkpoint was trained on`);
        checkpointRun = await worker.request({ type: 'readCheckpointFile', file: checkpointBytes, name: `${file.name}: ${CHECKPOINT_ENTRY}` });
        await checkProjectCheckpoint(project.checkpoint, checkpointRun, data);
        // Saving replaces a run's older checkpoints: a run this browser already has is kept, the opened one
        // gets a run name of its own.
        const taken = (await this.checkpoints.store.list()).some((c) => c.runId === project.checkpoint!.runId);
        const record = { ...project.checkpoint, runId: taken ? `${project.checkpoint.runId}-opened-${Date.now().toString(36)}` : project.checkpoint.runId };
        savedCheckpoint = await this.checkpoints.store.save(...checkpointRecord(record, checkpointRun, data.fingerprint, { spec: info.spec, label: info.label, url: this.backbone.currentUrl() }));
      }
      // Complete: the page switches to the project's data set, then the old one goes.
      const old = this.data.samples;
      const oldPrefix = await this.data.active.prefix();
      await this.data.active.activate(prefix);
      await this.data.reloadActive();
      await old.clear().catch(() => undefined);
      await deleteDataset(oldPrefix);
      this.applySettings(settingsFrom(project.settings));
      store.patch('run', { resumable: undefined });
      await this.checkpoints.refresh();
      if (savedCheckpoint) await this.model.useCheckpoint(savedCheckpoint.id);
      const total = project.classes.reduce((n, c) => n + c.files.length, 0);
      const resume = checkpointRun
        ? savedCheckpoint && savedCheckpoint.step < savedCheckpoint.totalSteps
          ? ` and its checkpoint at step ${savedCheckpoint.step} of ${savedCheckpoint.totalSteps}: press Resume to go on training.`
          : ' and its finished run, whose model answers Try it.'
        : '.';
      this.patch({ busy: undefined, progress: undefined, message: `Opened ${file.name}: ${samplesText(project.kind, total)} in ${project.classes.length} classes, the settings${resume}` });
    } catch (error) {
      if (savedCheckpoint) await this.checkpoints.store.delete(savedCheckpoint.id).catch(() => undefined);
      await staged.clear().catch(() => undefined);
      await deleteDataset(prefix);
      const text = error instanceof ProjectError || error instanceof SettingsError ? error.message : `${file.name} could not be opened: ${messageOf(error)}`;
      this.patch({ busy: undefined, progress: undefined, failed: true, message: `${text} Nothing here was changed.` });
    }
  }

  /**
   * Puts every listed sample into the staging store: images decoded exactly in the worker, clouds read back to
   * their stored 16-bit values here (src/io/project-clouds.ts); returns the checkpoint's bytes, if any.
   */
  private async stageSamples(file: File, project: ProjectFile, staged: SampleStore): Promise<Blob | undefined> {
    const worker = this.ctx.worker!;
    const total = project.classes.reduce((n, c) => n + c.files.length, 0);
    let done = 0;
    let batch: { item: PrepareItem; classId: string; data: Uint8Array }[] = [];
    const flush = async (): Promise<void> => {
      if (!batch.length) return;
      const current = batch;
      batch = [];
      let samples: StoredSample[];
      if (project.kind === 'points') {
        samples = await Promise.all(current.map(async (b) => ({ key: b.item.key, classId: b.classId, ...(await storedCloudOf(b.data, b.item.name)) })));
      } else {
        const results = await worker.request({ type: 'prepare', items: current.map((b) => b.item), exact: true });
        samples = results.map((r, i) => {
          if (!r.ok) throw projectDamaged(`${current[i]!.item.name} cannot be read (${r.reason})`);
          return { key: r.key, classId: current[i]!.classId, size: r.size, rgb: r.rgb };
        });
      }
      await staged.put(samples);
      done += samples.length;
      this.patch({ progress: { done, total } });
    };
    const checkpoint = await readProjectEntries(file, file.name, project, async (sample) => {
      const key = `${sample.classId}/${String(sample.seq).padStart(9, '0')}`;
      batch.push({ item: { key, name: sample.path, blob: new Blob([sample.data], { type: project.kind === 'points' ? 'application/octet-stream' : 'image/png' }) }, classId: sample.classId, data: sample.data });
      if (batch.length >= BATCH) await flush();
    });
    await flush();
    return checkpoint ? new Blob([checkpoint]) : undefined;
  }
}

/** The checkpoint as the page's IndexedDB keeps it, from the project's record and the checkpoint file. */
function checkpointRecord(
  p: ProjectCheckpoint,
  run: CheckpointRun,
  fingerprint: string,
  backbone: CheckpointMeta['backbone'],
): Parameters<CheckpointController['store']['save']> {
  const last = run.state.history.at(-1);
  const accuracy = p.accuracy.map((a) => ({ step: a.step, epoch: a.epoch, train: a.train, validation: a.validation ?? undefined }));
  return [
    {
      runId: p.runId,
      createdAt: p.createdAt,
      reason: p.reason,
      step: run.state.step,
      totalSteps: run.totalSteps,
      epoch: last?.epoch ?? 0,
      settings: { adapter: run.settings, train: run.train, checkpointEvery: p.checkpointEvery, ...(p.quick ? { quick: true } : {}) },
      classes: run.classes,
      fingerprint,
      backbone,
      loss: last?.loss,
      validationAccuracy: accuracy.at(-1)?.validation,
    },
    { state: run.state, accuracy },
  ];
}
