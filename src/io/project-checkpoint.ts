// Whether a project's checkpoint belongs to its images: the checks Open project makes before it keeps anything
// (src/app/project.ts), and Node tools make on the same files (tests/helpers/read-project.ts). The checkpoint file
// itself is read and matched to the backbone elsewhere (src/io/checkpoint-file.ts).
import { dataIdentity, type CheckpointRun } from './checkpoint-file';
import { projectDamaged, type ProjectCheckpoint } from './project-file';

/** What the project's images give a run: src/data/intake.ts runData. */
export interface ProjectRunData {
  fingerprint: string;
  trainLabels: Int32Array;
  classes: string[];
}

/** Refuses (a ProjectError sentence) a checkpoint of other images, labels, classes or step than project.json says. */
export async function checkProjectCheckpoint(record: ProjectCheckpoint, run: Pick<CheckpointRun, 'data' | 'classes' | 'state'>, data: ProjectRunData): Promise<void> {
  if (record.fingerprint !== data.fingerprint) throw projectDamaged('its images are not those its checkpoint was trained on');
  const identity = await dataIdentity(data.trainLabels);
  if (run.data.labelsSha256 && (run.data.count !== identity.count || run.data.labelsSha256 !== identity.labelsSha256)) {
    throw projectDamaged('its checkpoint was trained on other labels than its images have');
  }
  if (run.classes.join('\n') !== data.classes.join('\n')) throw projectDamaged(`its checkpoint's classes (${run.classes.join(', ')}) are not its data set's`);
  if (run.state.step !== record.step) throw projectDamaged(`its checkpoint is at step ${run.state.step}, its project.json says ${record.step}`);
}
