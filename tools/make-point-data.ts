// Point data for the offline default, reproducible from a seed:
//
//   npm run make:point-data -- [--count 16000] [--points 1024] [--seed 0] [--out .cache/points/pretrain.safetensors]
//     pretraining data: procedural shapes (src/data/points/procedural.ts) written as a point tensor file,
//     `points` [N, P, 3] + `labels` [N] + the class names (kept out of git: it is made in seconds to minutes);
//   npm run make:point-sample -- [--out public/samples/points] [--seed 7]
//     the sample downstream data set the backbone never saw: furniture from Debian's sweethome3d-furniture,
//     each model sampled to 1,024 points on its faces by the project's OBJ reader, one .npy (float16) per
//     model in a folder per class, with index.json and LICENSE (the models' sources and licences).
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { PointCloudError } from '../src/data/points/cloud';
import { fileSeed, OVERSAMPLE } from '../src/data/points/load-cloud';
import { normalizeInPlace } from '../src/data/points/normalize';
import { writeNpy } from '../src/data/points/npy-write';
import { proceduralDataset } from '../src/data/points/procedural';
import { readPointFile } from '../src/data/points/read';
import { resampleTo } from '../src/data/points/resample';
import { SHAPE_CLASSES } from '../src/data/points/shapes';
import { pointTensorFileParts } from '../src/data/points/tensor-file';
import { bytesSource } from '../src/io/safetensors';
import { COLLECTIONS, openFurnitureCatalogs, PACKAGE, type FurnitureModel } from './sweethome3d-furniture';

/**
 * Sample classes: a model belongs to the first class whose pattern its catalog name matches and whose
 * exclusions it does not (lamp posts, bedside tables, sofa beds… are other shapes).
 */
export const FURNITURE_CLASSES: readonly { name: string; match: RegExp; except?: RegExp }[] = [
  { name: 'armchair', match: /armchair/i, except: /ottoman/i },
  { name: 'chair', match: /\bchairs?\b/i, except: /wheel|high|deck|beach|relax/i },
  { name: 'table', match: /\btable\b/i, except: /bedside|tennis|pool|football|dressing|changing|fan|tablet|night/i },
  { name: 'sofa', match: /\b(sofa|couch)\b/i, except: /opened|bed/i },
  { name: 'bed', match: /\bbed\b/i, except: /bedside|sofa|flower|couch/i },
  { name: 'lamp', match: /\blamp\b/i, except: /lamppost|street|outdoor|camping|wall|post|spot/i },
  { name: 'cabinet', match: /\b(cabinet|wardrobe|dresser|drawers)\b/i, except: /freezer|sink|wall|television/i },
];

function furnitureClass(m: FurnitureModel): string | undefined {
  if (m.collection === 'Reallusion') return undefined; // people, not furniture
  return FURNITURE_CLASSES.find((c) => c.match.test(m.name) && !c.except?.test(m.name))?.name;
}

/** Sweet Home 3D's placement of a model: its rotation, then each axis stretched to the catalog size. */
function placeLikeSweetHome3D(points: Float32Array, n: number, m: FurnitureModel): void {
  const r = m.rotation;
  const low = [Infinity, Infinity, Infinity];
  const high = [-Infinity, -Infinity, -Infinity];
  for (let i = 0; i < n; i++) {
    const [x, y, z] = [points[i * 3]!, points[i * 3 + 1]!, points[i * 3 + 2]!];
    for (let a = 0; a < 3; a++) {
      const v = r[a * 3]! * x + r[a * 3 + 1]! * y + r[a * 3 + 2]! * z;
      points[i * 3 + a] = v;
      low[a] = Math.min(low[a]!, v);
      high[a] = Math.max(high[a]!, v);
    }
  }
  const scale = m.size.map((s, a) => (high[a]! > low[a]! && s > 0 ? s / (high[a]! - low[a]!) : 1));
  for (let i = 0; i < n * 3; i++) points[i] = points[i]! * scale[i % 3]!;
}

function slug(text: string): string {
  return text.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');
}

async function makeSample(out: string, seed: number, points: number): Promise<void> {
  const catalogs = await openFurnitureCatalogs();
  const picked = catalogs.models.map((m) => ({ m, cls: furnitureClass(m) })).filter((x): x is { m: FurnitureModel; cls: string } => x.cls !== undefined);
  rmSync(out, { recursive: true, force: true });
  const files: Record<string, string[]> = {};
  const models: Record<string, { name: string; creator: string; collection: string; license: string; blendSwap?: string }> = {};
  const seenModels = new Set<string>();
  let bytes = 0;
  for (const { m, cls } of picked) {
    if (seenModels.has(`${m.collection}/${m.model}`)) continue; // one cloud per distinct mesh
    seenModels.add(`${m.collection}/${m.model}`);
    const file = `${cls}/${slug(m.id)}.npy`;
    try {
      const raw = await readPointFile(bytesSource(await catalogs.readModel(m), m.model.split('/').pop()), { maxPoints: OVERSAMPLE * points, seed: fileSeed(seed, m.id) });
      placeLikeSweetHome3D(raw.points, raw.count, m);
      const cloud = resampleTo(raw.points, raw.count, points).points;
      normalizeInPlace(cloud, points, m.id);
      const npy = writeNpy(cloud, points, 3, 'f2');
      mkdirSync(join(out, cls), { recursive: true });
      writeFileSync(join(out, file), npy);
      bytes += npy.byteLength;
    } catch (error) {
      if (!(error instanceof PointCloudError)) throw error;
      console.log(`skipped ${m.collection}: ${m.name} (${m.model}): ${error.message}`);
      continue;
    }
    (files[cls] ??= []).push(file);
    models[file] = { name: m.name, creator: m.creator, collection: m.collection, license: COLLECTIONS[m.collection]!.license, ...(m.blendSwapId ? { blendSwap: `https://www.blendswap.com/blend/${m.blendSwapId}` } : {}) };
  }
  const classes = FURNITURE_CLASSES.map((c) => c.name).filter((c) => files[c]?.length);
  for (const c of classes) files[c]!.sort();
  const source = `Sweet Home 3D additional furniture (Debian package ${PACKAGE} 1.8-1, www.sweethome3d.com), sampled with tools/make-point-data.ts`;
  const index = {
    name: 'Furniture point clouds',
    source,
    license: 'CC0 1.0 and CC BY 3.0 (per model; see LICENSE)',
    seed,
    points,
    format: `NumPy .npy, float16 [${points}, 3], x right, y up; each cloud centred on its centroid and scaled into the unit sphere`,
    classes,
    files,
    models,
  };
  writeFileSync(join(out, 'index.json'), `${JSON.stringify(index, null, 2)}\n`);
  writeFileSync(join(out, 'LICENSE'), licenseText(classes, files, models, seed, points));
  const total = Object.values(files).reduce((n, f) => n + f.length, 0);
  console.log(`wrote ${total} clouds in ${classes.length} class folders to ${out} (${(bytes / 1024).toFixed(0)} KB of .npy): ${classes.map((c) => `${c} ${files[c]!.length}`).join(', ')}`);
}

function licenseText(classes: string[], files: Record<string, string[]>, models: Record<string, { name: string; creator: string; collection: string; license: string; blendSwap?: string }>, seed: number, points: number): string {
  const used = [...new Set(Object.values(models).map((m) => m.collection))].sort();
  const lines = [
    'Furniture point clouds: the sample point-cloud data set of clora-web.',
    '',
    `Made with tools/make-point-data.ts (seed ${seed}) from the 3D models of Debian's ${PACKAGE} package (1.8-1),`,
    'the additional furniture catalogs of Sweet Home 3D (http://www.sweethome3d.com/importModels.jsp).',
    `Changes: each model's surface was sampled to points (area weighted), placed as Sweet Home 3D places it,`,
    `reduced to ${points} points by farthest point sampling, centred, scaled into the unit sphere and stored as float16.`,
    '',
    'The models, and these point clouds made from them, are under the licence of their catalog:',
    '',
    ...used.map((c) => `- ${c}: ${COLLECTIONS[c]!.license} (${COLLECTIONS[c]!.url}), by ${COLLECTIONS[c]!.holder}.`),
    '',
    'File, model name, creator (catalog), licence:',
    '',
    ...classes.flatMap((c) => files[c]!.map((f) => {
      const m = models[f]!;
      return `${f}: "${m.name}" by ${m.creator} (${m.collection}), ${m.license}${m.blendSwap ? `, ${m.blendSwap}` : ''}`;
    })),
    '',
  ];
  return lines.join('\n');
}

function makePretrain(out: string, count: number, points: number, seed: number, classes: readonly string[]): void {
  const start = performance.now();
  const data = proceduralDataset(count, { points, seed, classes });
  const metadata = {
    source: 'procedural shapes (src/data/points/procedural.ts): seeded proportions, deformations, partial views and jitter',
    license: 'generated by clora-web; no third-party data',
    seed: String(seed),
    num_points: String(points),
    generator: 'tools/make-point-data.ts',
  };
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, Buffer.concat(pointTensorFileParts(data, metadata)));
  console.log(`wrote ${count} clouds of ${points} points (${classes.length} classes: ${classes.join(', ')}) to ${out} in ${((performance.now() - start) / 1000).toFixed(1)} s`);
}

const [command, ...rest] = process.argv.slice(2);
const { values } = parseArgs({
  args: rest,
  options: {
    out: { type: 'string' },
    seed: { type: 'string' },
    points: { type: 'string', default: '1024' },
    count: { type: 'string', default: '16000' },
    classes: { type: 'string' },
  },
});
const positive = (name: string, text: string | undefined): number => {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive whole number (got ${text}).`);
  return n;
};
if (command === 'sample') {
  await makeSample(values.out ?? 'public/samples/points', Number(values.seed ?? 7), positive('points', values.points));
} else if (command === 'pretrain') {
  const classes = values.classes ? values.classes.split(',') : SHAPE_CLASSES;
  const unknown = classes.filter((c) => !SHAPE_CLASSES.includes(c));
  if (unknown.length) throw new Error(`Unknown shape classes: ${unknown.join(', ')}; the shapes are ${SHAPE_CLASSES.join(', ')}.`);
  makePretrain(values.out ?? '.cache/points/pretrain.safetensors', positive('count', values.count), positive('points', values.points), Number(values.seed ?? 0), classes);
} else {
  console.error('usage: tsx tools/make-point-data.ts pretrain [--count N] [--points P] [--seed S] [--classes a,b] [--out FILE]\n       tsx tools/make-point-data.ts sample [--out DIR] [--seed S] [--points P]');
  process.exit(2);
}
