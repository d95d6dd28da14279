// Reading a project .zip (src/io/project-file.ts) as Open project reads it, streamed entry by entry through the
// zip reader: project.json first (checked by validateProject), then every entry — each image project.json lists,
// exactly once, handed on as it comes; nothing else under images/; the checkpoint file when there is one. Every
// refusal is a ProjectError sentence. Browser-safe: the page opens projects with it, and Node tools read the same
// files with it (tests/helpers/read-project.ts).
import { CHECKPOINT_ENTRY, IMAGES_FOLDER, listedImages, PROJECT_JSON, projectDamaged, ProjectError, validateProject, type ProjectFile } from './project-file';
import { zipEntries, ZipError } from './zip';

/** A listed image as it comes out of the zip. */
export interface ProjectImage {
  path: string;
  data: Uint8Array<ArrayBuffer>;
  classId: string;
  seq: number;
}

/** project.json from the zip (usually its first entry), checked by validateProject. */
export async function readProjectJson(file: Blob, name: string): Promise<ProjectFile> {
  let text: string | undefined;
  try {
    for await (const entry of zipEntries(file, name)) {
      if (entry.path !== PROJECT_JSON) continue;
      if ('refused' in entry) throw projectDamaged(`its project.json cannot be read: ${entry.refused}`);
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
    throw projectDamaged('its project.json is not valid JSON');
  }
  return validateProject(json);
}

/**
 * Hands every image `project` lists to `onImage` in the zip's order (awaited, so the caller can batch and store),
 * refusing an unlisted or repeated image, an unreadable entry and, at the end, missing images; returns the
 * checkpoint file's bytes, if the zip holds one.
 */
export async function readProjectEntries(file: Blob, name: string, project: ProjectFile, onImage: (image: ProjectImage) => Promise<void>): Promise<Uint8Array<ArrayBuffer> | undefined> {
  const listed = listedImages(project);
  const found = new Set<string>();
  let checkpoint: Uint8Array<ArrayBuffer> | undefined;
  try {
    for await (const entry of zipEntries(file, name)) {
      if ('refused' in entry) throw projectDamaged(`its entry ${entry.path} cannot be read: ${entry.refused}`);
      if (entry.path === CHECKPOINT_ENTRY) checkpoint = entry.data;
      if (!entry.path.startsWith(`${IMAGES_FOLDER}/`)) continue;
      const image = listed.get(entry.path);
      if (!image) throw projectDamaged(`it holds ${entry.path}, which its project.json does not list`);
      if (found.has(entry.path)) throw projectDamaged(`it holds ${entry.path} twice`);
      found.add(entry.path);
      await onImage({ path: entry.path, data: entry.data, classId: image.classId, seq: image.seq });
    }
  } catch (error) {
    if (error instanceof ZipError) throw projectDamaged(error.message.replace(/\.$/, ''));
    throw error;
  }
  const missing = [...listed.keys()].filter((path) => !found.has(path));
  if (missing.length) throw projectDamaged(`${missing.length} of its images are missing (${missing.slice(0, 3).join(', ')}${missing.length > 3 ? ', …' : ''})`);
  return checkpoint;
}
