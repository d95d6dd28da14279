// Reading a project .zip (src/io/project-file.ts describes it): project.json found and checked, then every
// entry of the archive walked once — each listed image handed to the caller with its class and sequence
// number, the checkpoint file kept — and every inconsistency refused with a sentence (an image it does not
// list, one it holds twice, one missing, an entry that cannot be read). Free of storage and workers: the
// page's Open project (src/app/project.ts) decodes and stores what this hands it, and the fuzz harness reads
// hostile projects through the same code.
import { CHECKPOINT_ENTRY, IMAGES_FOLDER, listedImages, PROJECT_JSON, ProjectError, validateProject, type ProjectFile } from './project-file';
import { zipEntries, ZipError, type ZipReadOptions } from './zip';

/** An image the project lists, as the zip holds it. */
export interface ProjectImage {
  path: string;
  data: Uint8Array<ArrayBuffer>;
  classId: string;
  seq: number;
}

export function damagedProject(what: string): ProjectError {
  return new ProjectError(`This project file is damaged: ${what}. Open the original .zip again, or save the project again where it was made.`);
}

/** project.json from the zip (usually its first entry), checked by validateProject. */
export async function readProjectJson(file: Blob, name: string, options: ZipReadOptions = {}): Promise<ProjectFile> {
  let text: string | undefined;
  try {
    for await (const entry of zipEntries(file, name, options)) {
      if (entry.path !== PROJECT_JSON) continue;
      if ('refused' in entry) throw damagedProject(`its project.json cannot be read: ${entry.refused}`);
      text = new TextDecoder().decode(entry.data);
      break;
    }
  } catch (error) {
    if (error instanceof ZipError) throw new ProjectError(`${error.message.replace(/\.$/, '')}: it is not a project saved by clora-web, or it is damaged.`);
    throw error;
  }
  if (text === undefined) {
    throw new ProjectError(`${name} holds no project.json, so it is not a clora-web project. To add the images of a zip of class folders, use "Add a .zip" under Data.`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw damagedProject('its project.json is not valid JSON');
  }
  return validateProject(json);
}

/**
 * Walks the zip once: `onImage` gets each image `project` lists (awaited before the next entry is read, so
 * memory stays bounded); resolves with the checkpoint file's bytes, if the zip holds one, once every listed
 * image was seen exactly once and nothing unlisted was found under images/.
 */
export async function readProjectEntries(
  file: Blob,
  name: string,
  project: ProjectFile,
  onImage: (image: ProjectImage, done: number, total: number) => Promise<void>,
  options: ZipReadOptions = {},
): Promise<Uint8Array<ArrayBuffer> | undefined> {
  const listed = listedImages(project);
  const found = new Set<string>();
  let checkpoint: Uint8Array<ArrayBuffer> | undefined;
  try {
    for await (const entry of zipEntries(file, name, options)) {
      if ('refused' in entry) throw damagedProject(`its entry ${entry.path} cannot be read: ${entry.refused}`);
      if (entry.path === CHECKPOINT_ENTRY) checkpoint = entry.data;
      if (!entry.path.startsWith(`${IMAGES_FOLDER}/`)) continue;
      const image = listed.get(entry.path);
      if (!image) throw damagedProject(`it holds ${entry.path}, which its project.json does not list`);
      if (found.has(entry.path)) throw damagedProject(`it holds ${entry.path} twice`);
      found.add(entry.path);
      await onImage({ path: entry.path, data: entry.data, classId: image.classId, seq: image.seq }, found.size, listed.size);
    }
  } catch (error) {
    if (error instanceof ZipError) throw damagedProject(error.message.replace(/\.$/, ''));
    throw error;
  }
  const missing = [...listed.keys()].filter((path) => !found.has(path));
  if (missing.length) throw damagedProject(`${missing.length} of its images are missing (${missing.slice(0, 3).join(', ')}${missing.length > 3 ? ', …' : ''})`);
  return checkpoint;
}
