// Sweet Home 3D's additional furniture (Debian's sweethome3d-furniture package, 1.8-1): five .sh3f
// catalogs (zip archives) of OBJ models, each with a name, category, creator and size in its
// PluginFurnitureCatalog.properties. Used in place when installed, otherwise fetched with `apt-get download`
// and unpacked with `dpkg -x` into a cache folder (no root needed). Models are read straight out of the
// archives with the project's zip reader.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { bytesSource } from '../src/io/safetensors';
import { openZipIndex, type ZipIndex } from '../src/io/zip-index';
import { cacheDir } from './cache-dir';

const SYSTEM_DIR = '/usr/share/sweethome3d/furniture';
export const PACKAGE = 'sweethome3d-furniture';

/** The licence of each catalog, as its LICENSE.TXT and Debian's copyright file state it. */
export const COLLECTIONS: Record<string, { license: string; url: string; holder: string }> = {
  'BlendSwap-CC-0': { license: 'CC0 1.0 (public domain)', url: 'https://creativecommons.org/publicdomain/zero/1.0/', holder: 'the Blend Swap contributors; cleaned and converted by Emmanuel Puybaret / eTeks' },
  'BlendSwap-CC-BY': { license: 'CC BY 3.0', url: 'https://creativecommons.org/licenses/by/3.0/', holder: 'the Blend Swap contributors (creator named per model); converted by Emmanuel Puybaret / eTeks' },
  KatorLegaz: { license: 'CC BY 3.0 US', url: 'https://creativecommons.org/licenses/by/3.0/us/', holder: 'Andrew Kator & Jennifer Legaz' },
  Scopia: { license: 'CC BY 3.0', url: 'https://creativecommons.org/licenses/by/3.0/', holder: 'Emmanuel Puybaret / eTeks and Scopia Visual Interfaces Systems, s.l. (http://www.scopia.es)' },
  Reallusion: { license: 'CC BY 3.0 US', url: 'https://creativecommons.org/licenses/by/3.0/us/', holder: 'Reallusion' },
};

export interface FurnitureModel {
  collection: string;
  id: string;
  name: string;
  category: string;
  creator: string;
  /** Path of the .obj inside the catalog archive. */
  model: string;
  /** 3×3 row-major rotation Sweet Home 3D applies to the model (identity when absent). */
  rotation: number[];
  /** Catalog size in cm: x (width), y (height), z (depth) after the rotation. */
  size: [number, number, number];
  /** Blend Swap's number for the model, from its licence file's name, when there is one. */
  blendSwapId?: string;
}

function locate(): string {
  if (existsSync(join(SYSTEM_DIR, 'Scopia.sh3f'))) return SYSTEM_DIR;
  const cache = cacheDir(PACKAGE);
  const unpacked = join(cache, 'root', 'usr/share/sweethome3d/furniture');
  if (existsSync(join(unpacked, 'Scopia.sh3f'))) return unpacked;
  mkdirSync(cache, { recursive: true });
  try {
    execFileSync('apt-get', ['download', PACKAGE], { cwd: cache, stdio: 'inherit' });
    const deb = readdirSync(cache).find((f) => f.startsWith(PACKAGE) && f.endsWith('.deb'));
    if (!deb) throw new Error('apt-get download left no .deb');
    execFileSync('dpkg', ['-x', join(cache, deb), join(cache, 'root')]);
  } catch (error) {
    throw new Error(`The furniture models are not available: install Debian's ${PACKAGE} package (apt-get install ${PACKAGE}). (${error instanceof Error ? error.message : String(error)})`);
  }
  return unpacked;
}

/** Java .properties (ISO-8859-1, `key=value`, `\uXXXX` escapes, `\` line continuations, # comments). */
function parseProperties(bytes: Uint8Array): Map<string, string> {
  const text = new TextDecoder('latin1').decode(bytes).replace(/\\\r?\n[ \t]*/g, '');
  const out = new Map<string, string>();
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trimStart();
    if (!line || line.startsWith('#') || line.startsWith('!')) continue;
    const match = /^((?:[^=:\\\s]|\\.)+)\s*[=:]?\s*(.*)$/.exec(line);
    if (!match) continue;
    const unescape = (s: string): string => s.replace(/\\u([0-9a-fA-F]{4})|\\(.)/g, (_, hex: string | undefined, c: string | undefined) => (hex ? String.fromCharCode(parseInt(hex, 16)) : c === 'n' ? '\n' : c === 't' ? '\t' : c!));
    out.set(unescape(match[1]!), unescape(match[2]!));
  }
  return out;
}

export interface FurnitureCatalogs {
  models: FurnitureModel[];
  /** The .obj file of a model, as bytes. */
  readModel(model: FurnitureModel): Promise<Uint8Array>;
}

export async function openFurnitureCatalogs(): Promise<FurnitureCatalogs> {
  const dir = locate();
  const zips = new Map<string, ZipIndex>();
  const models: FurnitureModel[] = [];
  for (const collection of Object.keys(COLLECTIONS)) {
    const bytes = new Uint8Array(readFileSync(join(dir, `${collection}.sh3f`)));
    const zip = await openZipIndex(bytesSource(bytes, `${collection}.sh3f`));
    zips.set(collection, zip);
    const props = parseProperties(await zip.read(zip.entries.get('PluginFurnitureCatalog.properties')!));
    for (let n = 1; props.has(`id#${n}`); n++) {
      const get = (key: string): string => props.get(`${key}#${n}`) ?? '';
      const model = get('model').replace(/^\//, '');
      const folder = model.slice(0, model.lastIndexOf('/') + 1);
      const licenseFile = [...zip.entries.keys()].find((e) => e.startsWith(folder) && /^\d+ - .*license\.html$/i.test(e.slice(folder.length)));
      const rotation = get('modelRotation') ? get('modelRotation').split(/\s+/).map(Number) : [1, 0, 0, 0, 1, 0, 0, 0, 1];
      models.push({
        collection,
        id: get('id'),
        name: get('name'),
        category: get('category'),
        creator: get('creator'),
        model,
        rotation,
        size: [Number(get('width')), Number(get('height')), Number(get('depth'))],
        blendSwapId: licenseFile ? /^(\d+)/.exec(licenseFile.slice(folder.length))![1] : undefined,
      });
    }
  }
  return {
    models,
    async readModel(m) {
      const zip = zips.get(m.collection)!;
      const entry = zip.entries.get(m.model);
      if (!entry) throw new Error(`${m.collection}.sh3f has no ${m.model}`);
      return zip.read(entry);
    },
  };
}
