// Training checkpoints as files (src/io/checkpoint-file.ts), in and out of the worker, which knows the
// backbone's configuration the file's layout depends on: a project saves its latest checkpoint this way,
// and opening a project reads it back, checking it was trained on the backbone loaded now.
import { SettingsError } from '../clora/settings';
import { backboneSha256, groupingMismatch, readCheckpoint, writeCheckpoint, type CheckpointRun } from '../io/checkpoint-file';
import { blobSource, openSafetensors } from '../io/safetensors';
import { requireBackbone } from './backbone';

/** The checkpoint file of a run's state on the loaded backbone (its description and weights fingerprint added). */
export async function checkpointFileOf(run: Omit<CheckpointRun, 'backbone'>): Promise<Blob> {
  const b = requireBackbone();
  const backbone = { ...b.meta.describe(), backbone_sha256: await backboneSha256(b.read, b.meta.cfg) };
  return new Blob([writeCheckpoint(b.meta.cfg, { ...run, backbone })], { type: 'application/octet-stream' });
}

/** A checkpoint file read for the loaded backbone; refused, with a sentence, when it was trained on another. */
export async function readCheckpointFile(file: Blob, name: string): Promise<CheckpointRun> {
  const b = requireBackbone();
  const run = await readCheckpoint(await openSafetensors(blobSource(file, name)), b.meta.cfg);
  const heads = run.backbone.num_heads;
  if (heads !== undefined && Number(heads) !== b.meta.cfg.heads) {
    throw new SettingsError(`The checkpoint's run used ${heads} attention heads; the backbone ${b.info.label} is read with ${b.meta.cfg.heads}.`);
  }
  const grouping = groupingMismatch(run.backbone, b.meta.cfg);
  if (grouping) throw new SettingsError(grouping);
  const saved = run.backbone.backbone_sha256;
  if (saved !== undefined && saved !== (await backboneSha256(b.read, b.meta.cfg))) {
    throw new SettingsError(`The checkpoint was trained on another backbone (${run.backbone.base_model ?? 'unnamed'}) than ${b.info.label}: their weights differ.`);
  }
  return run;
}
