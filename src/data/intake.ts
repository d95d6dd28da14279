// Data set intake for the web app: what a user drops (folders with one sub-folder per class, a .zip of
// the same, images onto a class, webcam frames) becomes labelled samples in IndexedDB. A data set holds
// images or point clouds (src/data/point-samples.ts), never both: each intake checks its files for its kind.
//
// Files are checked from their first bytes before anything is decoded (empty, not an image, a huge image);
// the rest are decoded, resized and centre-cropped to the model's input by the training worker and stored
// as 8-bit RGB, a few KB each at 28×28 (150 KB at 224×224), never as bitmaps: 5,000 dropped photos cost
// the tab a list of keys, not 5,000 decoded images. Thumbnails are made on demand from the stored bytes.
import { createStore, del, delMany, get, getMany, promisifyRequest, set, setMany, type UseStore } from 'idb-keyval';
import { declaredSize } from './declared-size';
import { imageFormat, jpegHeader, MAX_IMAGE_PIXELS, pngHeader, tooSmallForHeader, type ImageFormat } from './preprocess';
import { zipEntries, ZipError, type ZipReadOptions } from '../io/zip';
import { DatasetError } from './dataset';
import { pointFormatOf } from './points/read';
import type { StoredCloud } from './point-samples';
import type { SampleKind } from './sample-kind';
import type { PackedSamples, PreparedCloud, PrepareItem, PrepareResult } from '../worker/protocol';

// ---------------------------------------------------------------------------------------------
// What was dropped

/** A file with the path it was found under (folder names included), e.g. "fashion/Coat/001.png". */
export interface FoundFile {
  path: string;
  file: Blob;
  /** Why the file was refused before it could be read (a zip entry over the size limit, a corrupt zip). */
  refused?: string;
}

/** What a drop carried: directory entries where the browser gives them, plain files otherwise. */
export interface DroppedItem {
  entry?: FileSystemEntry;
  file?: File;
}

/**
 * Must run inside the drop event handler: the DataTransfer is emptied once the handler returns, but the
 * entries taken here stay readable.
 */
export function itemsFromDataTransfer(transfer: DataTransfer | null): DroppedItem[] {
  if (!transfer) return [];
  const out: DroppedItem[] = [];
  if (transfer.items && transfer.items.length) {
    for (const item of Array.from(transfer.items)) {
      if (item.kind !== 'file') continue;
      const entry = item.webkitGetAsEntry?.() ?? undefined;
      const file = item.getAsFile() ?? undefined;
      if (entry || file) out.push({ entry: entry ?? undefined, file });
    }
  } else {
    for (const file of Array.from(transfer.files)) out.push({ file });
  }
  return out;
}

function readDirectory(reader: FileSystemDirectoryReader): Promise<FileSystemEntry[]> {
  return new Promise((resolve, reject) => reader.readEntries(resolve, reject));
}

function entryFile(entry: FileSystemFileEntry): Promise<File> {
  return new Promise((resolve, reject) => entry.file(resolve, reject));
}

/** Walks dropped folders depth-first (readEntries returns at most 100 entries per call: call until empty). */
export async function* walkDropped(items: DroppedItem[]): AsyncGenerator<FoundFile> {
  async function* walk(entry: FileSystemEntry): AsyncGenerator<FoundFile> {
    if (entry.isFile) {
      yield { path: entry.fullPath.replace(/^\/+/, ''), file: await entryFile(entry as FileSystemFileEntry) };
    } else if (entry.isDirectory) {
      const reader = (entry as FileSystemDirectoryEntry).createReader();
      const children: FileSystemEntry[] = [];
      for (;;) {
        const batch = await readDirectory(reader);
        if (batch.length === 0) break;
        children.push(...batch);
      }
      children.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      for (const child of children) yield* walk(child);
    }
  }
  for (const item of items) {
    if (item.entry) yield* walk(item.entry);
    else if (item.file) yield { path: (item.file as File & { webkitRelativePath?: string }).webkitRelativePath || item.file.name, file: item.file };
  }
}

/** Files from an <input type=file> (with `webkitdirectory`, each carries its relative path). */
export async function* walkFileList(files: ArrayLike<File>): AsyncGenerator<FoundFile> {
  for (const file of Array.from(files)) yield { path: file.webkitRelativePath || file.name, file };
}

/**
 * Expands .zip files into their entries (paths prefixed with nothing: the archive's own folders count).
 * Refused entries and an archive that breaks part-way come out as refused files, so the intake lists them
 * with the reason and keeps everything read before and after.
 */
export async function* expandZips(found: AsyncIterable<FoundFile>, options: ZipReadOptions = {}): AsyncGenerator<FoundFile> {
  for await (const f of found) {
    if (!/\.zip$/i.test(f.path)) {
      yield f;
      continue;
    }
    try {
      for await (const entry of zipEntries(f.file, baseName(f.path), options)) {
        if ('refused' in entry) yield { path: entry.path, file: new Blob([]), refused: entry.refused };
        else yield { path: entry.path, file: new Blob([entry.data]) };
      }
    } catch (error) {
      if (!(error instanceof ZipError)) throw error;
      yield { path: f.path, file: new Blob([]), refused: error.message };
    }
  }
}

export function baseName(path: string): string {
  return path.split('/').filter(Boolean).at(-1) ?? path;
}

/** The class of a file dropped without a target: the folder that holds it. */
export function classFromPath(path: string): string | undefined {
  const parts = path.split('/').filter(Boolean);
  return parts.length >= 2 ? parts[parts.length - 2] : undefined;
}

// ---------------------------------------------------------------------------------------------
// Checks from the first bytes

const HEAD_BYTES = 256 * 1024;

/** The image format of a file's first bytes (PNG, JPEG, GIF, WebP, BMP, AVIF), if it is an image. */
export function sniffImage(head: Uint8Array): string | undefined {
  const format = imageFormat(head);
  if (format) return format;
  const ascii = String.fromCharCode(...head.subarray(0, 12));
  if (ascii.startsWith('GIF87a') || ascii.startsWith('GIF89a')) return 'gif';
  if (ascii.startsWith('RIFF') && ascii.slice(8, 12) === 'WEBP') return 'webp';
  if (ascii.startsWith('BM')) return 'bmp';
  if (ascii.slice(4, 8) === 'ftyp') return 'avif';
  return undefined;
}

/**
 * Why a file cannot be used, from its size and header alone; undefined when it looks like an image
 * of a sane size (decoding may still find it corrupt).
 */
export async function precheck(path: string, file: Blob): Promise<string | undefined> {
  if (file.size === 0) return 'empty file (0 bytes): it did not finish downloading or saving';
  const head = new Uint8Array(await file.slice(0, HEAD_BYTES).arrayBuffer());
  const kind = sniffImage(head);
  if (!kind) {
    const ext = /\.([A-Za-z0-9]{1,8})$/.exec(path)?.[1];
    // .txt is as often notes as points: only the unambiguous point formats get the point-backbone advice.
    if (ext && ext.toLowerCase() !== 'txt' && pointFormatOf(path)) {
      return `a point cloud (.${ext.toLowerCase()}), but the loaded backbone takes images and a data set holds one kind of sample: load a point backbone to train on point clouds`;
    }
    return `not an image${ext ? ` (.${ext.toLowerCase()})` : ''}: use PNG, JPEG, GIF, WebP or BMP files`;
  }
  const header = kind === 'png' ? pngHeader(head) : kind === 'jpeg' ? jpegHeader(head) : undefined;
  if (kind === 'png' && !header) return 'corrupt PNG: its header is missing or damaged';
  const size = header ?? declaredSize(kind, head);
  if (size && size.width * size.height > MAX_IMAGE_PIXELS) {
    const mp = Math.round((size.width * size.height) / 1e6);
    return `${mp}-megapixel image (${size.width} × ${size.height}), over the ${MAX_IMAGE_PIXELS / 1e6}-megapixel limit: scale it down first`;
  }
  if (header && (header.width === 0 || header.height === 0)) return `corrupt ${kind.toUpperCase()}: its header gives a size of ${header.width} × ${header.height}`;
  if (header) return tooSmallForHeader(kind as ImageFormat, header, file.size);
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// The stored data set

export interface ClassInfo {
  id: string;
  name: string;
}

export interface SkippedFile {
  file: string;
  reason: string;
}

export interface DatasetManifest {
  version: 1;
  classes: ClassInfo[];
  nextSeq: number;
  /** Share of every class held out for validation, in [0, 0.9]. */
  validationShare: number;
  skipped: SkippedFile[];
  /** The sample data set's index URL once "Use sample data" added it. */
  sample?: string;
  /** What the samples are; absent in data sets saved before point clouds came (images). */
  kind?: SampleKind;
}

export interface StoredImage {
  key: string;
  classId: string;
  /** Side of the square RGB image. */
  size: number;
  rgb: Uint8Array;
}

/** One sample in IndexedDB: an image, or a point cloud (src/data/point-samples.ts). */
export type StoredSample = StoredImage | StoredCloud;

const MANIFEST = 'manifest';
const MAX_SKIPPED = 1000;

export function emptyManifest(): DatasetManifest {
  return { version: 1, classes: [], nextSeq: 1, validationShare: 0.2, skipped: [] };
}

/** Sample keys sort by class, then by arrival: "<classId>/<seq, 9 digits>". */
export function sampleKey(classId: string, seq: number): string {
  return `${classId}/${String(seq).padStart(9, '0')}`;
}

export function classOfKey(key: string): string {
  return key.slice(0, key.lastIndexOf('/'));
}

/** Samples and the manifest in IndexedDB (two databases, as idb-keyval keeps one store per database). */
export class SampleStore {
  private samples: UseStore;
  private meta: UseStore;

  constructor(prefix = 'clora-web') {
    this.samples = createStore(`${prefix}-samples`, 'samples');
    this.meta = createStore(`${prefix}-dataset`, 'dataset');
  }

  async manifest(): Promise<DatasetManifest> {
    return (await get<DatasetManifest>(MANIFEST, this.meta)) ?? emptyManifest();
  }

  async saveManifest(m: DatasetManifest): Promise<void> {
    await set(MANIFEST, { ...m, skipped: m.skipped.slice(-MAX_SKIPPED) }, this.meta);
  }

  async put(samples: StoredSample[]): Promise<void> {
    await setMany(samples.map((s) => [s.key, s] as [IDBValidKey, StoredSample]), this.samples);
  }

  async get(keys: string[]): Promise<StoredSample[]> {
    return (await getMany<StoredSample>(keys, this.samples)).filter((s): s is StoredSample => s !== undefined);
  }

  /** Every key, sorted (class, then arrival). */
  async keys(): Promise<string[]> {
    return this.samples('readonly', (store) => promisifyRequest(store.getAllKeys())).then((k) => (k as string[]).sort());
  }

  async keysOf(classId: string): Promise<string[]> {
    const range = IDBKeyRange.bound(`${classId}/`, `${classId}/\uffff`);
    return this.samples('readonly', (store) => promisifyRequest(store.getAllKeys(range))).then((k) => (k as string[]).sort());
  }

  async deleteClass(classId: string): Promise<void> {
    const range = IDBKeyRange.bound(`${classId}/`, `${classId}/\uffff`);
    await this.samples('readwrite', (store) => promisifyRequest(store.delete(range)));
  }

  async delete(keys: string[]): Promise<void> {
    await delMany(keys, this.samples);
  }

  async clear(): Promise<void> {
    await this.samples('readwrite', (store) => promisifyRequest(store.clear()));
    await del(MANIFEST, this.meta);
  }
}

/** Validation flags for one class's keys (sorted): evenly spread, `share` of them, at least one training sample. */
export function validationFlags(count: number, share: number): boolean[] {
  const flags = Array.from({ length: count }, (_, i) => Math.floor((i + 1) * share) > Math.floor(i * share));
  if (count > 0 && flags.every(Boolean)) flags[0] = false;
  return flags;
}

/** FNV-1a over the class names, every sample key and the split: equal exactly when the data set is the same. */
export function datasetFingerprint(classes: ClassInfo[], keys: string[], share: number): string {
  let h = 0x811c9dc5;
  const feed = (text: string): void => {
    for (let i = 0; i < text.length; i++) {
      h ^= text.charCodeAt(i);
      h = Math.imul(h, 0x01000193) >>> 0;
    }
    h ^= 0x1f;
    h = Math.imul(h, 0x01000193) >>> 0;
  };
  for (const c of classes) feed(`${c.id}=${c.name}`);
  for (const k of keys) feed(k);
  feed(String(share));
  return `${h.toString(16).padStart(8, '0')}-${keys.length}`;
}

/**
 * What a run's checkpoint records about the data it trains on: the data set's fingerprint, the training samples'
 * labels in the order the worker gets them (packSamples), and the class names (the labels' order).
 */
export function runData(manifest: DatasetManifest, keys: string[]): { fingerprint: string; trainLabels: Int32Array; classes: string[] } {
  const { used, fingerprint } = runOrder(manifest, keys);
  const labels: number[] = [];
  used.forEach((c, label) => validationFlags(c.keys.length, manifest.validationShare).forEach((held) => held || labels.push(label)));
  return { fingerprint, trainLabels: Int32Array.from(labels), classes: used.map((c) => c.info.name) };
}

/**
 * The order a run takes the samples in (classes with samples in the manifest's order, each class's keys in
 * key order) and the data set's fingerprint over it: what training, packing and checkpoints agree on.
 */
export function runOrder(manifest: DatasetManifest, keys: string[]): { used: { info: ClassInfo; keys: string[] }[]; ordered: string[]; fingerprint: string } {
  const used = classesWithSamples(manifest, keys);
  const ordered = used.flatMap((c) => c.keys);
  return { used, ordered, fingerprint: datasetFingerprint(used.map((c) => c.info), ordered, manifest.validationShare) };
}

/** Classes that hold at least one sample, in the manifest's order, with their keys. */
export function classesWithSamples(manifest: DatasetManifest, keys: string[]): { info: ClassInfo; keys: string[] }[] {
  const byClass = new Map<string, string[]>();
  for (const k of keys) {
    const c = classOfKey(k);
    let list = byClass.get(c);
    if (!list) byClass.set(c, (list = []));
    list.push(k);
  }
  return manifest.classes.map((info) => ({ info, keys: byClass.get(info.id) ?? [] })).filter((c) => c.keys.length > 0);
}

/** Reads the whole data set from IndexedDB into one packed message for the worker. */
export async function packSamples(store: SampleStore, manifest: DatasetManifest): Promise<{ samples: PackedSamples; fingerprint: string }> {
  const { used, ordered, fingerprint } = runOrder(manifest, await store.keys());
  const count = ordered.length;
  const sizes = new Int32Array(count);
  const labels = new Int32Array(count);
  const validation = new Uint8Array(count);
  const chunks: Uint8Array[] = [];
  const packedKeys: string[] = [];
  let total = 0;
  let index = 0;
  for (const [label, c] of used.entries()) {
    const flags = validationFlags(c.keys.length, manifest.validationShare);
    for (let start = 0; start < c.keys.length; start += 256) {
      const part = await store.get(c.keys.slice(start, start + 256));
      part.forEach((s, k) => {
        if (!('rgb' in s)) throw new DatasetError(`The data set mixes point clouds with images (${s.key} is a point cloud): clear it and add one kind of sample.`);
        sizes[index] = s.size;
        labels[index] = label;
        validation[index] = flags[start + k] ? 1 : 0;
        chunks.push(s.rgb);
        packedKeys.push(s.key);
        total += s.rgb.byteLength;
        index++;
      });
    }
  }
  const rgb = new Uint8Array(total);
  let offset = 0;
  for (const c of chunks) {
    rgb.set(c, offset);
    offset += c.byteLength;
  }
  return { samples: { classes: used.map((c) => c.info.name), count: index, keys: packedKeys, sizes: sizes.subarray(0, index).slice(), rgb, labels: labels.subarray(0, index).slice(), validation: validation.subarray(0, index).slice() }, fingerprint };
}

// ---------------------------------------------------------------------------------------------
// The intake pipeline

export interface IntakeProgress {
  /** Files looked at so far, and how many of them were kept or skipped. */
  seen: number;
  added: number;
  skipped: number;
  done: boolean;
}

export interface IntakeDeps {
  store: SampleStore;
  /** Decodes and resizes a batch of images, or reads a batch of point files (the worker). */
  prepare(items: PrepareItem[]): Promise<(PrepareResult | PreparedCloud)[]>;
  /** Why a file cannot be used, from its first bytes (default: the image check, precheck). */
  precheck?(path: string, file: Blob): Promise<string | undefined>;
  /** The id of the class with this name, created when missing. */
  classId(name: string): string;
  /** Next sample sequence number (persisted with the manifest by the caller). */
  nextSeq(): number;
  onProgress(p: IntakeProgress): void;
  onSkipped(s: SkippedFile): void;
  onAdded(samples: StoredSample[]): void;
}

const BATCH = 32;
/** A batch is also sent once its files hold this much: entries unpacked from a zip live in memory until prepared. */
const BATCH_BYTES = 64 * 1024 * 1024;

/**
 * Checks, prepares and stores every file of `found`. With `targetClassId` every image goes to that
 * class; otherwise the folder holding a file names its class, and loose files are skipped with advice.
 * Batches are prepared one at a time, so memory does not grow with the number of files.
 */
export async function runIntake(found: AsyncIterable<FoundFile>, deps: IntakeDeps, targetClassId?: string): Promise<IntakeProgress> {
  const progress: IntakeProgress = { seen: 0, added: 0, skipped: 0, done: false };
  let batch: { item: PrepareItem; classId: string }[] = [];
  let batchBytes = 0;
  const skip = (file: string, reason: string): void => {
    progress.skipped++;
    deps.onSkipped({ file, reason });
  };
  const flush = async (): Promise<void> => {
    if (batch.length === 0) return;
    const current = batch;
    batch = [];
    batchBytes = 0;
    const results = await deps.prepare(current.map((b) => b.item));
    const keep: StoredSample[] = [];
    results.forEach((r, i) => {
      const entry = current[i]!;
      if (r.ok) keep.push('rgb' in r ? { key: r.key, classId: entry.classId, size: r.size, rgb: r.rgb } : { key: r.key, classId: entry.classId, count: r.count, points: r.points });
      else skip(entry.item.name, r.reason.replace(new RegExp(`^${escapeRegExp(entry.item.name)} `), '').replace(/^The image /, ''));
    });
    if (keep.length) {
      await deps.store.put(keep);
      progress.added += keep.length;
      deps.onAdded(keep);
    }
    deps.onProgress({ ...progress });
  };
  for await (const f of expandZips(found)) {
    progress.seen++;
    const name = baseName(f.path);
    if (name.startsWith('.') || /^(thumbs\.db|desktop\.ini)$/i.test(name)) {
      progress.seen--;
      continue; // hidden and system files are not the user's data
    }
    if (f.refused) {
      skip(f.path, f.refused);
      continue;
    }
    const className = targetClassId ? undefined : classFromPath(f.path);
    if (!targetClassId && !className) {
      skip(f.path, 'not in a class folder: drop it onto a class, or drop a folder with one sub-folder per class');
      continue;
    }
    const reason = await (deps.precheck ?? precheck)(f.path, f.file);
    if (reason) {
      skip(f.path, reason);
      continue;
    }
    // A class is made only for a folder that holds at least one usable file.
    const classId = targetClassId ?? deps.classId(className!);
    batch.push({ item: { key: sampleKey(classId, deps.nextSeq()), name: f.path, blob: f.file }, classId });
    batchBytes += f.file.size;
    if (batch.length >= BATCH || batchBytes >= BATCH_BYTES) await flush();
    else if (progress.seen % 8 === 0) deps.onProgress({ ...progress });
  }
  await flush();
  progress.done = true;
  deps.onProgress({ ...progress });
  return progress;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

// ---------------------------------------------------------------------------------------------
// The sample data set (public/samples/…/index.json lists the files: no directory listing needed)

export interface SampleIndex {
  name: string;
  license: string;
  classes: string[];
  files: Record<string, string[]>;
}

/** The files of a sample data set as if its folder had been dropped (class folder / file). */
export async function* sampleDataFiles(indexUrl: string, signal?: AbortSignal): AsyncGenerator<FoundFile> {
  const response = await fetch(indexUrl, { signal });
  if (!response.ok) throw new Error(`The sample data index ${indexUrl} could not be loaded (HTTP ${response.status}).`);
  const index = (await response.json()) as SampleIndex;
  const base = new URL(indexUrl, location.href);
  const paths = index.classes.flatMap((c) => index.files[c] ?? []);
  // A few requests in flight at once; files are yielded in order.
  const ahead = 8;
  const pending: Promise<Blob>[] = [];
  const fetchBlob = async (path: string): Promise<Blob> => {
    const r = await fetch(new URL(path, base), { signal });
    if (!r.ok) throw new Error(`The sample file ${path} could not be loaded (HTTP ${r.status}).`);
    return r.blob();
  };
  for (let i = 0; i < Math.min(ahead, paths.length); i++) pending.push(fetchBlob(paths[i]!));
  for (let i = 0; i < paths.length; i++) {
    const blob = await pending[i]!;
    if (i + ahead < paths.length) pending.push(fetchBlob(paths[i + ahead]!));
    yield { path: paths[i]!, file: blob };
  }
}
