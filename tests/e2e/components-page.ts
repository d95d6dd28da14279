// Mounts one Lit element at a time for tests/e2e/components.test.ts and records the events it emits.
// Elements get plain objects as properties, exactly as the app shell passes them.
import '../../src/ui/backbone-picker';
import '../../src/ui/checkpoint-list';
import '../../src/ui/class-card';
import '../../src/ui/clora-chart';
import '../../src/ui/data-panel';
import '../../src/ui/evaluation-view';
import '../../src/ui/export-panel';
import '../../src/ui/point-preview';
import '../../src/ui/project-bar';
import '../../src/ui/site-status';
import '../../src/ui/training-panel';
import '../../src/ui/try-it';
import '../../src/ui/webcam-capture';
import { DEFAULT_UI_SETTINGS } from '../../src/app/state';
import { KNOWN_MODELS } from '../../src/nn/models';
import { classFromPath, precheck, validationFlags, walkDropped, type DroppedItem } from '../../src/data/intake';
import type { LitElement } from 'lit';

const EVENTS = [
  'train', 'pause', 'resume', 'stop', 'settings-change', 'resume-checkpoint', 'delete-checkpoint', 'use-sample-data', 'add-dropped',
  'add-files', 'add-class', 'rename-class', 'delete-class', 'clear-data', 'set-validation-share', 'clear-skipped', 'add-frames',
  'export', 'import-adapter', 'predict', 'choose-backbone', 'cancel-download', 'frames', 'frame', 'quick-train', 'train-from-quick',
  'use-checkpoint', 'open-confusion-cell', 'close-confusion-cell', 'save-project', 'open-project', 'export-dataset', 'camera-change', 'reload-update',
  'predict-cloud',
];

interface Recorded {
  type: string;
  detail: unknown;
}

/** Blobs and Files become {blob: size, type} so events can be inspected from the test. */
function plain(value: unknown): unknown {
  if (value instanceof Blob) return { blob: value.size, type: value.type, name: value instanceof File ? value.name : undefined };
  if (Array.isArray(value)) return value.map(plain);
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
  return value;
}

const events: Recorded[] = [];
for (const type of EVENTS) document.addEventListener(type, (e) => events.push({ type, detail: plain((e as CustomEvent).detail ?? undefined) }));

let current: LitElement | undefined;

async function mount(tag: string, props: Record<string, unknown> = {}): Promise<void> {
  current?.remove();
  events.length = 0;
  const el = document.createElement(tag) as LitElement;
  Object.assign(el, props);
  document.getElementById('stage')!.append(el);
  current = el;
  await el.updateComplete;
}

async function setProps(props: Record<string, unknown>): Promise<void> {
  if (!current) throw new Error('nothing mounted');
  Object.assign(current, props);
  await current.updateComplete;
}

/**
 * Walks a fake dropped tree shaped like the browser's FileSystemEntry objects: a folder "pets" with class
 * folders (one of them listed 100 entries at a time, as readEntries does) and a loose file.
 */
async function walkFakeDrop(): Promise<{ path: string; size: number }[]> {
  const file = (fullPath: string, bytes: number): FileSystemFileEntry =>
    ({
      isFile: true,
      isDirectory: false,
      name: fullPath.split('/').at(-1)!,
      fullPath,
      file: (ok: (f: File) => void) => ok(new File([new Uint8Array(bytes)], fullPath.split('/').at(-1)!)),
    }) as unknown as FileSystemFileEntry;
  const dir = (fullPath: string, children: FileSystemEntry[]): FileSystemDirectoryEntry =>
    ({
      isFile: false,
      isDirectory: true,
      name: fullPath.split('/').at(-1)!,
      fullPath,
      createReader: () => {
        let at = 0;
        return { readEntries: (ok: (e: FileSystemEntry[]) => void) => ok(children.slice(at, (at += 100))) };
      },
    }) as unknown as FileSystemDirectoryEntry;
  const many = Array.from({ length: 250 }, (_, i) => file(`/pets/dog/${String(i).padStart(3, '0')}.png`, 1));
  const tree = dir('/pets', [dir('/pets/dog', many), dir('/pets/cat', [file('/pets/cat/b.png', 2), file('/pets/cat/a.png', 3)])]);
  const items: DroppedItem[] = [{ entry: tree }, { file: new File([new Uint8Array(4)], 'loose.png') }];
  const out: { path: string; size: number }[] = [];
  for await (const f of walkDropped(items)) out.push({ path: f.path, size: f.file.size });
  return out;
}

async function prechecks(): Promise<(string | undefined)[]> {
  const png = (w: number, h: number): Uint8Array<ArrayBuffer> => {
    const b = new Uint8Array(33);
    b.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52]);
    new DataView(b.buffer).setUint32(16, w);
    new DataView(b.buffer).setUint32(20, h);
    return b;
  };
  const cases: [string, Uint8Array<ArrayBuffer>][] = [
    ['empty.png', new Uint8Array(0)],
    ['notes.txt', new TextEncoder().encode('hello')],
    ['huge.png', png(20000, 10000)],
    ['ok.png', png(640, 480)],
    ['photo.jpg', new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 0, 16])],
    // GIF89a, 16 × 16 (little-endian): the header's declared size is read for GIF too.
    ['anim.gif', new Uint8Array([0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 16, 0, 16, 0])],
  ];
  return Promise.all(cases.map(([name, bytes]) => precheck(name, new Blob([bytes]))));
}

/** A helix of n points in the unit sphere, y up: it looks different from every side. */
function helixCloud(n: number, turns = 3): Float32Array {
  const points = new Float32Array(n * 3);
  for (let i = 0; i < n; i++) {
    const t = (i / n) * turns * 2 * Math.PI;
    points.set([0.6 * Math.cos(t), (2 * i) / n - 1, 0.6 * Math.sin(t)].map((v) => v * 0.8), i * 3);
  }
  return points;
}

Object.assign(window, { walkFakeDrop, prechecks, classFromPath, validationFlags, helixCloud });

Object.assign(window, { mount, setProps, events, defaultSettings: DEFAULT_UI_SETTINGS, knownModels: KNOWN_MODELS, componentsReady: true });
