// Reading a dropped zip (src/io/zip.ts, expandZips in src/data/intake.ts) against hostile archives: zip bombs
// that declare or hide their size, names that climb out of the archive, corrupt and unsupported entries,
// archives cut short. Each bad entry is refused with a sentence and the rest of the archive is kept.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { expandZips, type FoundFile } from '../../src/data/intake';
import { MAX_ZIP_ENTRY_BYTES, plainZipPath, ZipError, zipEntries, type ZipEntry } from '../../src/io/zip';
import { makeZip, type ZipPart } from '../helpers/zip-bomb';

const root = new URL('../../', import.meta.url).pathname;
const bytes = (n: number, fill: number): Uint8Array<ArrayBuffer> => new Uint8Array(n).fill(fill);

async function read(zip: Uint8Array<ArrayBuffer>, maxEntryBytes?: number): Promise<ZipEntry[]> {
  const out: ZipEntry[] = [];
  for await (const e of zipEntries(new Blob([zip]), 'test.zip', { maxEntryBytes })) out.push(e);
  return out;
}

function summary(entries: ZipEntry[]): string[] {
  return entries.map((e) => ('refused' in e ? `${e.path}: refused` : `${e.path}: ${e.data.byteLength}`));
}

/** A small image-like entry before and after the one under test. */
const around = (middle: ZipPart): ZipPart[] => [{ name: 'digits/one/1.png', data: bytes(1000, 7) }, middle, { name: 'digits/two/2.png', data: bytes(3000, 9) }];

describe('zip bombs', () => {
  it('a 0.6 MB zip holding 600 MB of zeros: the entry is refused part-way, the rest is kept, and memory stays bounded by the limit', () => {
    const dir = mkdtempSync(join(tmpdir(), 'clora-bomb-'));
    // The bomb's header tells the truth, lies (1000 bytes), or gives no size (a data descriptor, as streaming writers do).
    const honest = join(dir, 'honest.zip');
    const lying = join(dir, 'lying.zip');
    const streamed = join(dir, 'streamed.zip');
    writeFileSync(honest, makeZip(around({ name: 'digits/one/bomb.png', zerosMB: 600 })));
    const lie = makeZip(around({ name: 'digits/one/bomb.png', zerosMB: 600, declaredSize: 1000 }));
    expect(lie.byteLength).toBeLessThan(700_000);
    writeFileSync(lying, lie);
    writeFileSync(streamed, makeZip(around({ name: 'digits/one/bomb.png', zerosMB: 600, descriptor: true })));
    // A child process, so the peak resident memory measured is this reading's alone.
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'tests/helpers/zip-memory-child.ts', `${streamed}@16000000`, `${honest}@default`, `${lying}@default`], { cwd: root, encoding: 'utf8', timeout: 120_000 });
    expect(r.stderr).toBe('');
    const runs = JSON.parse(r.stdout) as { path: string; peakBeforeMB: number; peakAfterMB: number; entries: { path: string; bytes?: number; refused?: string }[] }[];
    for (const run of runs) {
      expect(run.entries.map((e) => e.path)).toEqual(['digits/one/1.png', 'digits/one/bomb.png', 'digits/two/2.png']);
      expect(run.entries.map((e) => e.bytes)).toEqual([1000, undefined, 3000]);
    }
    const [small, declared, hidden] = runs as [(typeof runs)[0], (typeof runs)[0], (typeof runs)[0]];
    expect(small.entries[1]!.refused).toMatch(/^it unpacks to more than 16 MB, the limit for one file in a zip \(larger than any image\): a zip bomb or not a data file$/);
    expect(declared.entries[1]!.refused).toMatch(/^it declares 629 MB once unpacked, over the 256 MB limit for one file in a zip/);
    expect(hidden.entries[1]!.refused).toMatch(/^it unpacks to more than 256 MB/);
    // Growth of the peak: the entry up to the limit plus one inflated piece and the inflater's buffers, far
    // below the 600 MB the entry holds (before the fix, the process peaked at 1.3 GB).
    expect(small.peakAfterMB - small.peakBeforeMB).toBeLessThan(16 + 96);
    expect(hidden.peakAfterMB - small.peakBeforeMB).toBeLessThan(MAX_ZIP_ENTRY_BYTES / 1e6 + 128);
  });

  it('an entry declaring more than the limit is refused from its header without inflating', async () => {
    const entries = await read(makeZip(around({ name: 'digits/one/big.png', data: bytes(100, 1), declaredSize: 4_000_000_000 })));
    expect(summary(entries)).toEqual(['digits/one/1.png: 1000', 'digits/one/big.png: refused', 'digits/two/2.png: 3000']);
    expect((entries[1] as { refused: string }).refused).toMatch(/declares 4000 MB once unpacked, over the 256 MB limit/);
  });

  it('a stored (uncompressed) entry over the limit is refused too', async () => {
    const entries = await read(makeZip(around({ name: 'digits/one/raw.bmp', data: bytes(70_000, 3), method: 'store', declaredSize: 10 })), 50_000);
    expect(summary(entries)).toEqual(['digits/one/1.png: 1000', 'digits/one/raw.bmp: refused', 'digits/two/2.png: 3000']);
  });

  it('an entry of exactly the limit is kept', async () => {
    const entries = await read(makeZip([{ name: 'a/b.png', data: bytes(50_000, 5) }]), 50_000);
    expect(summary(entries)).toEqual(['a/b.png: 50000']);
  });
});

describe('names', () => {
  it('entries named with "..", absolute paths, drive letters or backslashes stay plain names', async () => {
    const names = ['../../x.png', '/abs/cat/1.png', 'C:\\evil\\cat\\2.png', 'cat/./../3.png', '..\\..\\dog\\4.png', '//server/share/dog/5.png'];
    const entries = await read(makeZip(names.map((name, i) => ({ name, data: bytes(10 + i, i) }))));
    expect(entries.map((e) => e.path)).toEqual(['x.png', 'abs/cat/1.png', 'evil/cat/2.png', 'cat/3.png', 'dog/4.png', 'server/share/dog/5.png']);
    expect(plainZipPath('../')).toBe('');
  });

  it('folders, names that are nothing but dots, and macOS resource forks are left out', async () => {
    const entries = await read(makeZip([{ name: 'cat/', data: new Uint8Array(0) }, { name: '../..', data: bytes(5, 1) }, { name: '__MACOSX/cat/._1.png', data: bytes(5, 1) }, { name: 'cat/1.png', data: bytes(5, 1) }]));
    expect(summary(entries)).toEqual(['cat/1.png: 5']);
  });
});

describe('broken archives', () => {
  it('an entry whose deflate data is corrupt is refused; the entries around it are kept', async () => {
    const zip = makeZip(around({ name: 'digits/one/bad.png', data: bytes(5000, 1) }));
    // The middle entry's compressed data follows its local header (the second "PK\x03\x04"): garble it.
    const headers = [...zip.keys()].filter((i) => zip[i] === 0x50 && zip[i + 1] === 0x4b && zip[i + 2] === 0x03 && zip[i + 3] === 0x04);
    zip[headers[1]! + 30 + 'digits/one/bad.png'.length] = 0xff; // block type 3: invalid
    const entries = await read(zip);
    expect(summary(entries)).toEqual(['digits/one/1.png: 1000', 'digits/one/bad.png: refused', 'digits/two/2.png: 3000']);
    expect((entries[1] as { refused: string }).refused).toMatch(/^it is corrupt \(.+\); the rest of the zip was read$/);
  });

  it('an entry with a compression method the app cannot read is refused; the rest is kept', async () => {
    const entries = await read(makeZip(around({ name: 'digits/one/bz.png', data: bytes(200, 4), method: 12 })));
    expect(summary(entries)).toEqual(['digits/one/1.png: 1000', 'digits/one/bz.png: refused', 'digits/two/2.png: 3000']);
    expect((entries[1] as { refused: string }).refused).toMatch(/compression method 12, which this app cannot read; re-create the zip with standard deflate/);
  });

  it('an archive cut short keeps the entries before the cut and then says it is truncated', async () => {
    const zip = makeZip(around({ name: 'digits/one/3.png', data: bytes(20_000, 1).map((_, i) => (i * 2654435761) >>> 24) }));
    const cut = zip.subarray(0, 1200);
    const seen: string[] = [];
    const error = await (async () => {
      for await (const e of zipEntries(new Blob([cut]), 'cut.zip')) seen.push(e.path);
    })().then(() => undefined, (e: unknown) => e);
    expect(seen).toEqual(['digits/one/1.png']);
    expect(error).toBeInstanceOf(ZipError);
    expect((error as Error).message).toMatch(/^cut\.zip could not be read: .+\. It may be truncated or corrupt; the files before that point were read\.$/);
  });

  it('empty files, files that are not zips and zips without files are refused with a sentence', async () => {
    const first = async (blob: Blob): Promise<unknown> => zipEntries(blob, 'x.zip').next().then(() => undefined, (e: unknown) => e);
    expect(String(await first(new Blob([])))).toMatch(/x\.zip is empty \(0 bytes\)/);
    expect(String(await first(new Blob(['hello, not a zip'])))).toMatch(/x\.zip is not a zip archive\./);
    expect(String(await first(new Blob([makeZip([])])))).toMatch(/x\.zip holds no files: it is empty, corrupt or not a zip archive\./);
  });
});

describe('the intake (expandZips)', () => {
  it('turns refused entries and a broken archive into refused files with the reason, and keeps every readable entry', async () => {
    const good = makeZip(around({ name: 'digits/one/bomb.png', zerosMB: 64, declaredSize: 10 }));
    const found: FoundFile[] = [
      { path: 'drop/good.zip', file: new Blob([good]) },
      { path: 'drop/cut.zip', file: new Blob([good.subarray(0, 40)]) },
      { path: 'drop/cat/loose.png', file: new Blob([bytes(4, 1)]) },
    ];
    async function* source(): AsyncGenerator<FoundFile> {
      yield* found;
    }
    const out: { path: string; size: number; refused?: string }[] = [];
    for await (const f of expandZips(source(), { maxEntryBytes: 8_000_000 })) out.push({ path: f.path, size: f.file.size, refused: f.refused });
    expect(out.map((f) => [f.path, f.size, f.refused === undefined])).toEqual([
      ['digits/one/1.png', 1000, true],
      ['digits/one/bomb.png', 0, false],
      ['digits/two/2.png', 3000, true],
      ['drop/cut.zip', 0, false],
      ['drop/cat/loose.png', 4, true],
    ]);
    expect(out[1]!.refused).toMatch(/unpacks to more than 8 MB/);
    expect(out[3]!.refused).toMatch(/^cut\.zip holds no files/);
  });
});
