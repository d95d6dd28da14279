// The project file: one .zip that carries a whole project from one browser to another — the labelled
// samples in class folders, `project.json` (what the samples are, classes, validation split, settings,
// backbone reference, sample keys) and, when there is one, the latest training checkpoint as the checkpoint
// file (clora-checkpoint).
//
//   project.json                      this module's ProjectFile, validated by validateProject()
//   images/<folder>/<seq>.png         an image project: each stored sample, 8-bit RGB at its stored size
//   clouds/<folder>/<seq>.npy         a point project: each stored cloud as NumPy float32 [count, 3], the
//                                     stored (normalised, resampled, 16-bit) cloud's exact values
//   checkpoint.safetensors            the training checkpoint (optional)
//
// Format version 1 holds images; version 2 adds point projects ("kind": "points", the point settings, the
// classes' "clouds" lists). Image projects are still written as version 1, so pages made before point
// projects open them; a point project is version 2, so those pages say to update instead of calling it
// damaged. This page reads both.
//
// Browser-safe and free of storage code: the page's src/app/project.ts writes and opens projects with it.
// validateProject is pure (any JSON value in, a ProjectFile or a ProjectError sentence out), so it can be
// fuzzed.
import { sampleNoun, type SampleKind } from '../data/sample-kind';

export const PROJECT_FORMAT = 'clora-web-project';
/** The newest format version this page reads (and writes, for point projects). */
export const PROJECT_FORMAT_VERSION = 2;
export const PROJECT_JSON = 'project.json';
export const CHECKPOINT_ENTRY = 'checkpoint.safetensors';

/** The oldest version that can hold a project of this kind: what Save project writes. */
export function formatVersionFor(kind: SampleKind): number {
  return kind === 'points' ? 2 : 1;
}

/** Where a kind's samples live in the zip, what project.json lists them under, and their file extension. */
export const SAMPLE_FILES: Readonly<Record<SampleKind, { folder: string; list: string; extension: string }>> = {
  images: { folder: 'images', list: 'images', extension: 'png' },
  points: { folder: 'clouds', list: 'clouds', extension: 'npy' },
};

/** A project that cannot be opened, said as a sentence: what is wrong and what to do. */
export class ProjectError extends Error {
  override name = 'ProjectError';
}

export interface ProjectClass {
  /** The sample keys' class id ("c3"): kept, so the restored data set has the same fingerprint. */
  id: string;
  name: string;
  /** Its folder under images/ or clouds/ (the name made safe for a file system, unique). */
  folder: string;
  /** Sample files in the folder, "<sequence>.png" or "<sequence>.npy", in key order (project.json's "images" or "clouds"). */
  files: string[];
}

/** A point project's point settings: those of the backbone its clouds were stored for. */
export interface ProjectPoints {
  /** P: the points each cloud was brought to when it was added (a cloud's file says its own count). */
  count: number;
  groups: number;
  groupSize: number;
}

/** What the checkpoint file does not say about a run, and the page needs to resume it with its curves. */
export interface ProjectCheckpoint {
  file: typeof CHECKPOINT_ENTRY;
  runId: string;
  step: number;
  totalSteps: number;
  createdAt: number;
  reason: 'interval' | 'pause' | 'stop' | 'done';
  /** The app's checkpoint interval and quick mode (the engine's options are in the file). */
  checkpointEvery: number;
  quick: boolean;
  /** The data set fingerprint the run trained on (the restored data set must give the same). */
  fingerprint: string;
  /** Train and validation accuracy at each epoch end. */
  accuracy: { step: number; epoch: number; train: number; validation: number | null }[];
}

export interface ProjectFile {
  format: typeof PROJECT_FORMAT;
  format_version: number;
  savedAt: string;
  /** What the samples are ("kind" in project.json; absent, in version 1, means images). */
  kind: SampleKind;
  /** The point settings, for a point project; null for images. */
  points: ProjectPoints | null;
  /** The backbone the images were prepared for and the checkpoint trained on. */
  backbone: { spec: string; label: string; url: string | null };
  classes: ProjectClass[];
  validationShare: number;
  /** The next sample sequence number (keys stay unique when images are added after opening). */
  nextSeq: number;
  /** The page's training settings (UiSettings), kept as saved; the page fills in what it does not know. */
  settings: Record<string, unknown>;
  checkpoint: ProjectCheckpoint | null;
}

/** A project whose parts do not agree (an image missing, a checkpoint of other images), said as a sentence. */
export function projectDamaged(what: string): ProjectError {
  return new ProjectError(`This project file is damaged: ${what}. Open the original .zip again, or save the project again where it was made.`);
}

/** "<seq, 9 digits>.png" (images) or ".npy" (point clouds) ↔ sequence number. */
export function sampleFileName(kind: SampleKind, seq: number): string {
  return `${String(seq).padStart(9, '0')}.${SAMPLE_FILES[kind].extension}`;
}

export function seqOfSampleFile(kind: SampleKind, name: string): number | undefined {
  const m = /^(\d{1,9})\.([a-z]+)$/.exec(name);
  return m && m[2] === SAMPLE_FILES[kind].extension ? Number(m[1]) : undefined;
}

/** Folder names for class names: unsafe characters replaced, empty or reserved names avoided, each unique. */
export function classFolders(names: readonly string[]): string[] {
  const used = new Set<string>();
  return names.map((name, i) => {
    let base = name
      .normalize('NFC')
      .replace(/[\\/:*?"<>|\u0000-\u001f]/g, '_')
      .replace(/^[.\s]+|[.\s]+$/g, '')
      .slice(0, 80);
    // Nothing left, or a name Windows reserves: "class_<n>" by position, "class_<name>".
    if (!base || /^(con|prn|aux|nul|com\d|lpt\d)$/i.test(base)) base = `class_${base || i + 1}`;
    let folder = base;
    for (let n = 2; used.has(folder.toLowerCase()); n++) folder = `${base} (${n})`;
    used.add(folder.toLowerCase());
    return folder;
  });
}

export function samplePath(kind: SampleKind, folder: string, file: string): string {
  return `${SAMPLE_FILES[kind].folder}/${folder}/${file}`;
}

// ---------------------------------------------------------------------------------------------------------
// Validation

const DAMAGED = 'The project file is damaged or was not saved by clora-web';

function fail(what: string): never {
  throw new ProjectError(`${DAMAGED}: ${what}. Open the original .zip again, or save the project again from the browser that made it.`);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function text(v: unknown, what: string, max = 1000): string {
  if (typeof v !== 'string' || v.length === 0 || v.length > max) fail(`${what} is not a name`);
  return v;
}

function integer(v: unknown, what: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) fail(`${what} is not a whole number from ${min} to ${max}`);
  return v;
}

function share(v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > 1) fail(`${what} is not a share between 0 and 1`);
  return v;
}

/** A folder name validateProject accepts: one plain path segment, no traversal. */
function safeFolder(v: unknown, what: string): string {
  const folder = text(v, what, 200);
  if (/[\\/\u0000-\u001f]/.test(folder) || folder === '.' || folder === '..') fail(`${what} "${folder}" is not a plain folder name`);
  return folder;
}

function checkpointOf(v: unknown): ProjectCheckpoint | null {
  if (v === null || v === undefined) return null;
  if (!isObject(v)) fail('"checkpoint" is not an object');
  if (v.file !== CHECKPOINT_ENTRY) fail(`"checkpoint.file" is not "${CHECKPOINT_ENTRY}"`);
  const reason = v.reason;
  if (reason !== 'interval' && reason !== 'pause' && reason !== 'stop' && reason !== 'done') fail('"checkpoint.reason" is not interval, pause, stop or done');
  const totalSteps = integer(v.totalSteps, '"checkpoint.totalSteps"', 1);
  const step = integer(v.step, '"checkpoint.step"', 0, totalSteps);
  if (!Array.isArray(v.accuracy) || v.accuracy.length > 1_000_000) fail('"checkpoint.accuracy" is not a list');
  const accuracy = v.accuracy.map((p: unknown, i) => {
    if (!isObject(p)) fail(`"checkpoint.accuracy[${i}]" is not an object`);
    const validation = p.validation === null || p.validation === undefined ? null : share(p.validation, `"checkpoint.accuracy[${i}].validation"`);
    if (typeof p.epoch !== 'number' || !Number.isFinite(p.epoch) || p.epoch < 0) fail(`"checkpoint.accuracy[${i}].epoch" is not a number`);
    return { step: integer(p.step, `"checkpoint.accuracy[${i}].step"`), epoch: p.epoch, train: share(p.train, `"checkpoint.accuracy[${i}].train"`), validation };
  });
  if (typeof v.createdAt !== 'number' || !Number.isFinite(v.createdAt)) fail('"checkpoint.createdAt" is not a time');
  if (typeof v.quick !== 'boolean') fail('"checkpoint.quick" is not true or false');
  return {
    file: CHECKPOINT_ENTRY,
    runId: text(v.runId, '"checkpoint.runId"', 200),
    step,
    totalSteps,
    createdAt: v.createdAt,
    reason,
    checkpointEvery: integer(v.checkpointEvery, '"checkpoint.checkpointEvery"', 1),
    quick: v.quick,
    fingerprint: text(v.fingerprint, '"checkpoint.fingerprint"', 200),
    accuracy,
  };
}

/** The most points a project's cloud may hold (a point backbone's P is far below: 1,024 to 8,192). */
export const MAX_PROJECT_CLOUD_POINTS = 1 << 20;

function kindOf(value: Record<string, unknown>, version: number): SampleKind {
  const kind = value.kind;
  if (kind === undefined || kind === 'images') return 'images';
  if (kind === 'points' && version >= 2) return 'points';
  if (kind === 'points') fail('it says "kind": "points", which needs format version 2');
  return fail(`its "kind" is ${JSON.stringify(kind)}, not "images" or "points"`);
}

function pointsOf(v: unknown): ProjectPoints {
  if (!isObject(v)) fail('"points" (the point settings of a point project) is not an object');
  const count = integer(v.count, '"points.count"', 1, MAX_PROJECT_CLOUD_POINTS);
  return { count, groups: integer(v.groups, '"points.groups"', 1, count), groupSize: integer(v.groupSize, '"points.groupSize"', 1, count) };
}

/**
 * The project described by `value` (parsed project.json), checked field by field. Refuses with a sentence
 * (ProjectError): anything that is not a clora-web project, a project from a newer format version (what
 * to do: update the app), and every inconsistency (duplicate classes, folders or samples, unsafe folder
 * names, sequence numbers at or past next_seq, numbers out of range, a sample file of the other kind).
 */
export function validateProject(value: unknown): ProjectFile {
  if (!isObject(value) || value.format !== PROJECT_FORMAT) {
    throw new ProjectError(`This is not a clora-web project: its project.json does not say "format": "${PROJECT_FORMAT}". Open a .zip saved with Save project (a folder of images or point files goes in with Add a .zip).`);
  }
  const version = value.format_version;
  if (typeof version === 'number' && Number.isInteger(version) && version > PROJECT_FORMAT_VERSION) {
    throw new ProjectError(
      `This project was saved by a newer version of clora-web (project format version ${version}; this page reads version ${PROJECT_FORMAT_VERSION}). Open it in an updated clora-web: reload the page to get the latest version, or ask whoever shared it for a copy saved by this version.`,
    );
  }
  if (version === undefined) fail(`its project.json has no "format_version" (1 or 2)`);
  if (version !== 1 && version !== 2) fail(`its "format_version" is ${JSON.stringify(version)}, not 1 or 2`);
  const kind = kindOf(value, version);
  const { list, extension } = SAMPLE_FILES[kind];
  const noun = sampleNoun(kind, 1);
  const b = value.backbone;
  if (!isObject(b)) fail('"backbone" is not an object');
  const backbone = { spec: text(b.spec, '"backbone.spec"', 4000), label: text(b.label, '"backbone.label"', 4000), url: b.url === null || b.url === undefined ? null : text(b.url, '"backbone.url"', 4000) };
  const nextSeq = integer(value.nextSeq, '"nextSeq"', 1, 999_999_999);
  if (!Array.isArray(value.classes) || value.classes.length > 100_000) fail('"classes" is not a list');
  const ids = new Set<string>();
  const names = new Set<string>();
  const folders = new Set<string>();
  const classes = value.classes.map((c: unknown, i): ProjectClass => {
    if (!isObject(c)) fail(`class ${i + 1} is not an object`);
    const id = text(c.id, `the id of class ${i + 1}`, 100);
    if (!/^[A-Za-z0-9_-]+$/.test(id)) fail(`the id of class ${i + 1} ("${id}") has characters other than letters, digits, - and _`);
    const name = text(c.name, `the name of class ${i + 1}`, 1000);
    const folder = safeFolder(c.folder, `the folder of class "${name}"`);
    if (ids.has(id)) fail(`two classes have the id "${id}"`);
    if (names.has(name)) fail(`two classes are named "${name}"`);
    if (folders.has(folder.toLowerCase())) fail(`two classes use the folder "${folder}"`);
    ids.add(id);
    names.add(name);
    folders.add(folder.toLowerCase());
    const listed = c[list];
    if (!Array.isArray(listed) || listed.length > 10_000_000) fail(`the ${list} of class "${name}" are not a list`);
    const seen = new Set<number>();
    const files = listed.map((f: unknown) => {
      const seq = typeof f === 'string' ? seqOfSampleFile(kind, f) : undefined;
      if (seq === undefined) fail(`class "${name}" lists ${JSON.stringify(f)}, which is not ${noun === 'image' ? 'an image' : `a ${noun}`} file name like 000000001.${extension}`);
      if (seq >= nextSeq) fail(`class "${name}" lists ${f as string}, at or past nextSeq ${nextSeq}`);
      if (seen.has(seq)) fail(`class "${name}" lists ${noun} ${seq} twice`);
      seen.add(seq);
      return f as string;
    });
    return { id, name, folder, files };
  });
  const settings = value.settings;
  if (!isObject(settings)) fail('"settings" is not an object');
  const savedAt = typeof value.savedAt === 'string' ? value.savedAt : '';
  return {
    format: PROJECT_FORMAT,
    format_version: version,
    savedAt,
    kind,
    points: kind === 'points' ? pointsOf(value.points) : null,
    backbone,
    classes,
    validationShare: share(value.validationShare, '"validationShare"') <= 0.9 ? (value.validationShare as number) : fail('"validationShare" is over 0.9'),
    nextSeq,
    settings,
    checkpoint: checkpointOf(value.checkpoint),
  };
}

/**
 * project.json's content for `project`, at the version its kind needs: an image project exactly as version 1
 * wrote it (no "kind", no "points", the classes' "images"); a point project with "kind", "points" and the
 * classes' "clouds".
 */
export function projectJson(project: Omit<ProjectFile, 'format' | 'format_version'>): Record<string, unknown> {
  const { kind, points, classes, ...rest } = project;
  const list = SAMPLE_FILES[kind].list;
  return {
    format: PROJECT_FORMAT,
    format_version: formatVersionFor(kind),
    savedAt: rest.savedAt,
    ...(kind === 'points' ? { kind, points } : {}),
    backbone: rest.backbone,
    classes: classes.map(({ files, ...c }) => ({ ...c, [list]: files })),
    validationShare: rest.validationShare,
    nextSeq: rest.nextSeq,
    settings: rest.settings,
    checkpoint: rest.checkpoint,
  };
}

/** The samples project.json lists, by their path in the zip, with their class and sequence number. */
export function listedSamples(project: ProjectFile): Map<string, { classId: string; seq: number }> {
  const out = new Map<string, { classId: string; seq: number }>();
  for (const c of project.classes) for (const f of c.files) out.set(samplePath(project.kind, c.folder, f), { classId: c.id, seq: seqOfSampleFile(project.kind, f)! });
  return out;
}
