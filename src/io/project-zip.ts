// Reading a project .zip (src/io/project-file.ts) as Open project reads it, streamed entry by entry through the
// zip reader: project.json first (checked by validateProject), then every entry — each sample file project.json
// lists (images/…png or clouds/…npy), exactly once, handed on as it comes; nothing else under that folder; the
// checkpoint file when there is one. Every
// refusal is a ProjectError sentence. Browser-safe: the page opens projects with it, and Node tools read the same
// files with it (tests/helpers/read-project.ts), as does the fuzz pass (tests/fuzz/readers-project.ts, with a
// smaller entry limit through `options`).
import { CHECKPOINT_ENTRY, listedSamples, PROJECT_JSON, SAMPLE_FILES, projectDamaged, ProjectError, validateProject, type ProjectFile } from './project-file';
import { sampleNoun } from '../data/sample-kind';
import { zipEntries, ZipError, type ZipReadOptions } from './zip';

/** A listed sample file (an image or a cloud) as it comes out of the zip. */
export interface ProjectSample {
  path: string;
  data: Uint8Array<ArrayBuffer>;
  classId: string;
  seq: number;
}

/** project.json from the zip (usually its first entry), checked by validateProject. */
export async function readProjectJson(file: Blob, name: string, options: ZipReadOptions = {}): Promise<ProjectFile> {
  let text: string | undefined;
  try {
    for await (const entry of zipEntries(file, name, options)) {
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
    throw new ProjectError(`${name} holds no project.json, so it is not a clora-web project. To add the images or point files of a zip of class folders, use "Add a .zip" under Data.`);
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
 * Hands every sample file `project` lists to `onSample` in the zip's order (awaited, so the caller can batch and
 * store), refusing an unlisted or repeated file, an unreadable entry and, at the end, missing files; returns the
 * checkpoint file's bytes, if the zip holds one.
 */
export async function readProjectEntries(
  file: Blob,
  name: string,
  project: ProjectFile,
  onSample: (sample: ProjectSample) => Promise<void>,
  options: ZipReadOptions = {},
): Promise<Uint8Array<ArrayBuffer> | undefined> {
  const listed = listedSamples(project);
  const folder = `${SAMPLE_FILES[project.kind].folder}/`;
  const noun = sampleNoun(project.kind);
  const found = new Set<string>();
  let checkpoint: Uint8Array<ArrayBuffer> | undefined;
  try {
    for await (const entry of zipEntries(file, name, options)) {
      if ('refused' in entry) throw projectDamaged(`its entry ${entry.path} cannot be read: ${entry.refused}`);
      if (entry.path === CHECKPOINT_ENTRY) checkpoint = entry.data;
      if (!entry.path.startsWith(folder)) continue;
      const sample = listed.get(entry.path);
      if (!sample) throw projectDamaged(`it holds ${entry.path}, which its project.json does not list`);
      if (found.has(entry.path)) throw projectDamaged(`it holds ${entry.path} twice`);
      found.add(entry.path);
      await onSample({ path: entry.path, data: entry.data, classId: sample.classId, seq: sample.seq });
    }
  } catch (error) {
    if (error instanceof ZipError) throw projectDamaged(error.message.replace(/\.$/, ''));
    throw error;
  }
  const missing = [...listed.keys()].filter((path) => !found.has(path));
  if (missing.length) throw projectDamaged(`${missing.length} of its ${noun} are missing (${missing.slice(0, 3).join(', ')}${missing.length > 3 ? ', …' : ''})`);
  return checkpoint;
}
