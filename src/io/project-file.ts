// The project file: one .zip that carries a whole project from one browser to another — the labelled
// images in class folders, `project.json` (classes, validation split, settings, backbone reference, sample
// keys) and, when there is one, the latest training checkpoint as the checkpoint file (clora-checkpoint).
//
//   project.json                      this module's ProjectFile, validated by validateProject()
//   images/<folder>/<seq>.png         each stored sample, 8-bit RGB at the size it is stored (the model's)
//   checkpoint.safetensors            the training checkpoint (optional)
//
// Browser-safe and free of storage code: the page's src/app/project.ts writes and opens projects with it.
// validateProject is pure (any JSON value in, a ProjectFile or a ProjectError sentence out), so it can be
// fuzzed.

export const PROJECT_FORMAT = 'clora-web-project';
export const PROJECT_FORMAT_VERSION = 1;
export const PROJECT_JSON = 'project.json';
export const CHECKPOINT_ENTRY = 'checkpoint.safetensors';
export const IMAGES_FOLDER = 'images';

/** A project that cannot be opened, said as a sentence: what is wrong and what to do. */
export class ProjectError extends Error {
  override name = 'ProjectError';
}

export interface ProjectClass {
  /** The sample keys' class id ("c3"): kept, so the restored data set has the same fingerprint. */
  id: string;
  name: string;
  /** Its folder under images/ (the name made safe for a file system, unique). */
  folder: string;
  /** Image files in the folder, "<sequence>.png", in key order. */
  images: string[];
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

/** "<seq, 9 digits>.png" ↔ sequence number. */
export function imageFileName(seq: number): string {
  return `${String(seq).padStart(9, '0')}.png`;
}

export function seqOfImageFile(name: string): number | undefined {
  const m = /^(\d{1,9})\.png$/.exec(name);
  return m ? Number(m[1]) : undefined;
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

export function imagePath(folder: string, file: string): string {
  return `${IMAGES_FOLDER}/${folder}/${file}`;
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

/**
 * The project described by `value` (parsed project.json), checked field by field. Refuses with a sentence
 * (ProjectError): anything that is not a clora-web project, a project from a newer format version (what
 * to do: update the app), and every inconsistency (duplicate classes, folders or images, unsafe folder
 * names, sequence numbers at or past next_seq, numbers out of range).
 */
export function validateProject(value: unknown): ProjectFile {
  if (!isObject(value) || value.format !== PROJECT_FORMAT) {
    throw new ProjectError(`This is not a clora-web project: its project.json does not say "format": "${PROJECT_FORMAT}". Open a .zip saved with Save project (a folder of images goes in with Add a .zip).`);
  }
  const version = value.format_version;
  if (typeof version === 'number' && Number.isInteger(version) && version > PROJECT_FORMAT_VERSION) {
    throw new ProjectError(
      `This project was saved by a newer version of clora-web (project format version ${version}; this page reads version ${PROJECT_FORMAT_VERSION}). Open it in an updated clora-web: reload the page to get the latest version, or ask whoever shared it for a copy saved by this version.`,
    );
  }
  if (version !== PROJECT_FORMAT_VERSION) fail(`its "format_version" is ${JSON.stringify(version)}, not ${PROJECT_FORMAT_VERSION}`);
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
    if (!Array.isArray(c.images) || c.images.length > 10_000_000) fail(`the images of class "${name}" are not a list`);
    const seen = new Set<number>();
    const images = c.images.map((f: unknown) => {
      const seq = typeof f === 'string' ? seqOfImageFile(f) : undefined;
      if (seq === undefined) fail(`class "${name}" lists ${JSON.stringify(f)}, which is not an image file name like 000000001.png`);
      if (seq >= nextSeq) fail(`class "${name}" lists ${f as string}, at or past nextSeq ${nextSeq}`);
      if (seen.has(seq)) fail(`class "${name}" lists image ${seq} twice`);
      seen.add(seq);
      return f as string;
    });
    return { id, name, folder, images };
  });
  const settings = value.settings;
  if (!isObject(settings)) fail('"settings" is not an object');
  const savedAt = typeof value.savedAt === 'string' ? value.savedAt : '';
  return {
    format: PROJECT_FORMAT,
    format_version: PROJECT_FORMAT_VERSION,
    savedAt,
    backbone,
    classes,
    validationShare: share(value.validationShare, '"validationShare"') <= 0.9 ? (value.validationShare as number) : fail('"validationShare" is over 0.9'),
    nextSeq,
    settings,
    checkpoint: checkpointOf(value.checkpoint),
  };
}

/** The images project.json lists, by their path in the zip, with their class and sequence number. */
export function listedImages(project: ProjectFile): Map<string, { classId: string; seq: number }> {
  const out = new Map<string, { classId: string; seq: number }>();
  for (const c of project.classes) for (const f of c.images) out.set(imagePath(c.folder, f), { classId: c.id, seq: seqOfImageFile(f)! });
  return out;
}
