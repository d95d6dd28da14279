// The fuzz entry for the project file (a .zip: project.json, images in class folders, the checkpoint file;
// src/io/project-file.ts), read as the page's Open project reads it (src/io/project-zip.ts): project.json
// found and checked, then the archive walked, each listed image handed over once. The decoding of the images
// and the checkpoint file have entries of their own. Seeds are projects written here the way Save project
// writes them, from the repository's sample images and checkpoint fixtures. Half the mutations change the
// zip's bytes; the other half change its content — project.json's values (removed, retyped, made hostile),
// the entries' names and bytes — and write a sound zip again, so the checks after the zip layer are reached.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { ProjectError, SAMPLE_FILES, samplePath } from '../../src/io/project-file';
import { readProjectEntries, readProjectJson } from '../../src/io/project-zip';
import type { Rng } from '../../src/train/rng';
import { makeZip } from '../helpers/zip-bomb';
import { InvariantError, type FuzzReader, type FuzzSeed } from './fuzz-reader';
import { mutateBytes } from './mutate';
import { mutateValue } from './mutate-value';
import { root, seedFiles } from './seed-files';

const MB = 1 << 20;
/** As in the zip intake's entry: bombs are refused at 4 MB an entry, so they cost little time. */
const ENTRY_LIMIT = 4 * MB;

/** A project as values: project.json's object and the zip's entries in order. */
interface Content {
  json: Record<string, unknown>;
  entries: { name: string; data: Uint8Array }[];
}

const encode = (value: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(value));

/** The zip for `content` (which a mutation may have broken anywhere): entries that are no longer a name and bytes are left out. */
function write(content: Content): Uint8Array<ArrayBuffer> {
  const entries = Array.isArray(content?.entries) ? content.entries : [];
  const parts = entries.flatMap((e) => (typeof e?.name === 'string' && e.data instanceof Uint8Array ? [{ name: e.name, data: e.data, method: 'store' as const }] : []));
  const json = content?.json === undefined ? [] : [{ name: 'project.json', data: encode(content.json) }];
  return makeZip([...json, ...parts]);
}

function sampleImages(): Uint8Array[] {
  const dir = join(root, 'public/samples/fashion');
  return readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .slice(0, 3)
    .map((d) => new Uint8Array(readFileSync(join(dir, d.name, '001.png'))));
}

/** A project as Save project writes it: `names` classes of two images each, and the checkpoint if given. */
function project(names: string[], folders: string[], checkpoint?: Uint8Array): Content {
  const pngs = sampleImages();
  let seq = 1;
  const classes = names.map((name, i) => ({ id: `c${i + 1}`, name, folder: folders[i]!, images: [seq++, seq++].map((s) => `${String(s).padStart(9, '0')}.png`) }));
  const json = {
    format: 'clora-web-project',
    format_version: 1,
    savedAt: '2026-12-07T00:00:00.000Z',
    backbone: { spec: 'clora-web/vit-mnist', label: 'Bundled ViT', url: 'https://example.org/models/vit-mnist.safetensors' },
    classes,
    validationShare: 0.2,
    nextSeq: seq,
    settings: { method: 'clora', epochs: 3, batchSize: 16 },
    checkpoint: checkpoint
      ? { file: 'checkpoint.safetensors', runId: 'run-1', step: 2, totalSteps: 6, createdAt: 1_700_000_000_000, reason: 'pause', checkpointEvery: 2, quick: false, fingerprint: 'abc-6', accuracy: [{ step: 2, epoch: 1, train: 0.5, validation: null }] }
      : null,
  };
  const entries = classes.flatMap((c, i) => c.images.map((f, k) => ({ name: samplePath('images', c.folder, f), data: pngs[(i + k) % pngs.length]! })));
  return { json, entries: checkpoint ? [{ name: 'checkpoint.safetensors', data: checkpoint }, ...entries] : entries };
}

const contents = new WeakMap<Uint8Array, Content>();

function seed(name: string, content: Content): FuzzSeed<Uint8Array<ArrayBuffer>> {
  const value = write(content);
  contents.set(value, content);
  return { name, value };
}

async function seeds(): Promise<FuzzSeed<Uint8Array<ArrayBuffer>>[]> {
  const checkpoint = seedFiles('tests/fixtures/checkpoint', /^head_adamw\.step2\.safetensors$/)[0]!.value;
  return [
    seed('a project of two classes with its checkpoint', project(['cat', 'dog'], ['cat', 'dog'], checkpoint)),
    seed('a project of three classes, no checkpoint', project(['T-shirt', 'Trouser', 'Bag'], ['T-shirt', 'Trouser', 'Bag'])),
    seed('class names needing folders of their own', project(['a/b', 'A/B', 'con'], ['a_b', 'A_B (2)', 'class_con'])),
  ];
}

/** The two-class seed changed as `change` says. */
function variant(name: string, change: (c: Content) => void): FuzzSeed<Uint8Array<ArrayBuffer>> {
  const content = structuredClone(project(['cat', 'dog'], ['cat', 'dog']));
  change(content);
  return { name, value: write(content) };
}

async function hostile(): Promise<FuzzSeed<Uint8Array<ArrayBuffer>>[]> {
  type Classes = { folder: string; images: string[]; name: string }[];
  const classes = (c: Content) => c.json.classes as Classes;
  const png = sampleImages()[0]!;
  return [
    variant('a newer format version', (c) => (c.json.format_version = 2)),
    variant('a folder that climbs out', (c) => {
      classes(c)[0]!.folder = '../../etc';
      c.entries.push({ name: 'images/../../etc/000000001.png', data: png });
    }),
    variant('a folder with a backslash', (c) => (classes(c)[0]!.folder = '..\\..\\x')),
    variant('an image name that climbs out', (c) => (classes(c)[0]!.images[0] = '../../../000000001.png')),
    variant('a next sequence of 2^53', (c) => (c.json.nextSeq = 2 ** 53)),
    variant('100,001 classes', (c) => (c.json.classes = Array.from({ length: 100_001 }, (_, i) => ({ id: `c${i}`, name: `k${i}`, folder: `k${i}`, images: [] })))),
    variant('class names with markup', (c) => classes(c).forEach((k, i) => (k.name = ['<img src=x onerror=alert(1)>', '"><script>alert(2)</script>'][i]!))),
    variant('__proto__ keys in project.json', (c) => Object.defineProperty(c.json, '__proto__', { value: { polluted: true }, enumerable: true })),
    variant('a checkpoint past its total steps', (c) => (c.json.checkpoint = { file: 'checkpoint.safetensors', runId: 'r', step: 9, totalSteps: 6, createdAt: 0, reason: 'pause', checkpointEvery: 2, quick: false, fingerprint: 'f', accuracy: [] })),
    variant('an image it does not list', (c) => c.entries.push({ name: 'images/cat/000000009.png', data: png })),
    variant('a listed image missing', (c) => c.entries.pop()),
    variant('an image twice', (c) => c.entries.push({ ...c.entries[0]! })),
    variant('an image twice, once with backslashes', (c) => c.entries.push({ name: c.entries[0]!.name.replace(/\//g, '\\'), data: png })),
    variant('no project.json (a data set zip)', (c) => delete (c as Partial<Content>).json),
    variant('project.json of null', (c) => (c.json = null as unknown as Content['json'])),
    { name: 'project.json nested 200,000 deep', value: makeZip([{ name: 'project.json', data: new TextEncoder().encode(`${'['.repeat(200_000)}${']'.repeat(200_000)}`) }]) },
    { name: 'project.json as a 300 MB zip bomb', value: makeZip([{ name: 'project.json', zerosMB: 300 }]) },
    { name: 'an image as a 300 MB zip bomb', value: ((c) => makeZip([{ name: 'project.json', data: encode(c.json) }, { name: `${SAMPLE_FILES.images.folder}/cat/000000001.png`, zerosMB: 300 }, ...c.entries.slice(1).map((e) => ({ name: e.name, data: e.data }))]))(project(['cat', 'dog'], ['cat', 'dog'])) },
    { name: 'project.json that is not JSON', value: makeZip([{ name: 'project.json', data: new TextEncoder().encode('{"format": "clora-web-project", ') }]) },
    { name: 'a PNG, not a zip', value: new Uint8Array(png) },
    { name: 'empty', value: new Uint8Array(0) },
  ];
}

export const projectFileReader: FuzzReader = {
  name: 'project file (Open project)',
  seeds,
  hostile,
  // The harness's mutate is synchronous: each seed's content is kept when the seed is made and looked up here.
  mutate: (value: Uint8Array<ArrayBuffer>, rng: Rng) => {
    const content = contents.get(value);
    if (content && rng.next() < 0.5) {
      const m = mutateValue(content, rng);
      return { value: write(m.value as Content), steps: m.steps };
    }
    const m = mutateBytes(value, rng, ['PK\x03\x04', 'PK\x01\x02', 'PK\x05\x06', 'project.json', 'images/', '.png', '"format_version"', '"classes"', '"nextSeq"', '"folder"', '"images"', 'null', '../']);
    return { value: m.bytes, steps: m.steps };
  },
  size: (v) => v.byteLength,
  async open(bytes) {
    const blob = new Blob([bytes]);
    const project = await readProjectJson(blob, 'fuzz.zip', { maxEntryBytes: ENTRY_LIMIT });
    // What Open project relies on once project.json is accepted: plain folders, listed names that are image
    // files below nextSeq, and each listed image handed over once, under its own class.
    const byId = new Map(project.classes.map((c) => [c.id, c]));
    for (const c of project.classes) {
      if (c.folder.includes('/') || c.folder.includes('\\') || c.folder === '..' || c.folder === '.') throw new InvariantError(`accepted the folder ${JSON.stringify(c.folder)}`);
      for (const f of c.files) if (!/^\d{1,9}\.png$/.test(f) || Number(f.slice(0, -4)) >= project.nextSeq) throw new InvariantError(`accepted the image name ${JSON.stringify(f)} (nextSeq ${project.nextSeq})`);
    }
    const total = project.classes.reduce((n, c) => n + c.files.length, 0);
    const seen = new Set<string>();
    await readProjectEntries(
      blob,
      'fuzz.zip',
      project,
      async (image) => {
        const c = byId.get(image.classId);
        if (!c || !image.path.startsWith(`${SAMPLE_FILES.images.folder}/${c.folder}/`)) throw new InvariantError(`handed over ${image.path} as class ${image.classId}`);
        if (seen.has(image.path)) throw new InvariantError(`handed over ${image.path} twice`);
        seen.add(image.path);
      },
      { maxEntryBytes: ENTRY_LIMIT },
    );
    if (seen.size !== total) throw new InvariantError(`handed over ${seen.size} of the ${total} listed images`);
    return undefined;
  },
  errors: [ProjectError],
  // The archive read twice (project.json, then every entry), one entry inflated at a time, and project.json's values.
  budget: (v) => 16 * MB + 2 * ENTRY_LIMIT + 16 * v.byteLength,
};
