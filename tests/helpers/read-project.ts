// Opens a project .zip in Node as the page's Open project does (src/app/project.ts), for the PyTorch companion's
// tests of the projects it writes (python/tests/test_project.py): the page's own readers and checks —
// readProjectJson and validateProject, readProjectEntries (every listed sample once, nothing else), each image
// decoded as a square PNG or each cloud read back to its stored 16-bit values (src/io/project-clouds.ts), runData on the restored data set, the checkpoint file read for the backbone with its
// head count and weights fingerprint, checkProjectCheckpoint. What only the browser does (IndexedDB, the worker's
// decoder) is left out.
//
//   npx tsx tests/helpers/read-project.ts BACKBONE PROJECT.zip...
//
// Prints one JSON line per project: {"ok": true, kind, classes, images (samples), sizes (image sides or cloud
// point counts), fingerprint, trainCount, settings, backbone, checkpoint} or {"ok": false, "error": "<the sentence the page would show>"}.
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { openBackbone } from '../../src/cli/model-source';
import { decodeImage } from '../../src/data/decode-node';
import { runData, sampleKey, type DatasetManifest } from '../../src/data/intake';
import { backboneSha256, readCheckpoint } from '../../src/io/checkpoint-file';
import { checkProjectCheckpoint } from '../../src/io/project-checkpoint';
import { storedCloudOf } from '../../src/io/project-clouds';
import { CHECKPOINT_ENTRY, projectDamaged } from '../../src/io/project-file';
import { readProjectEntries, readProjectJson } from '../../src/io/project-zip';
import { bytesSource, openSafetensors } from '../../src/io/safetensors';

async function read(path: string, backboneSpec: string): Promise<Record<string, unknown>> {
  const name = basename(path);
  const file = new Blob([readFileSync(path)]);
  const project = await readProjectJson(file, name);
  const keys: string[] = [];
  const sizes = new Set<number>();
  const checkpointBytes = await readProjectEntries(file, name, project, async (image) => {
    if (project.kind === 'points') {
      sizes.add((await storedCloudOf(image.data, image.path)).count);
      keys.push(sampleKey(image.classId, image.seq));
      return;
    }
    const decoded = decodeImage(image.data, image.path);
    if (decoded.width !== decoded.height) throw projectDamaged(`${image.path} cannot be read (${image.path} is ${decoded.width} × ${decoded.height}, but a project's images are square)`);
    sizes.add(decoded.width);
    keys.push(sampleKey(image.classId, image.seq));
  });
  const manifest: DatasetManifest = {
    version: 1,
    kind: project.kind,
    classes: project.classes.map((c) => ({ id: c.id, name: c.name })),
    nextSeq: project.nextSeq,
    validationShare: project.validationShare,
    skipped: [],
  };
  const data = runData(manifest, keys.sort());
  let checkpoint: Record<string, unknown> | null = null;
  if (project.checkpoint) {
    if (!checkpointBytes) throw projectDamaged(`it lists a checkpoint but holds no ${CHECKPOINT_ENTRY}`);
    if (project.checkpoint.fingerprint !== data.fingerprint) throw projectDamaged('its images are not those its checkpoint was trained on');
    const backbone = await openBackbone(backboneSpec);
    try {
      const run = await readCheckpoint(await openSafetensors(bytesSource(checkpointBytes, `${name}: ${CHECKPOINT_ENTRY}`)), backbone.cfg);
      // What the worker's readCheckpointFile adds: the run's backbone is the one loaded.
      if (run.backbone.num_heads !== undefined && Number(run.backbone.num_heads) !== backbone.cfg.heads) throw new Error(`the checkpoint's run used ${run.backbone.num_heads} attention heads`);
      if (run.backbone.backbone_sha256 !== undefined && run.backbone.backbone_sha256 !== (await backboneSha256(backbone.read, backbone.cfg))) throw new Error('the checkpoint was trained on another backbone');
      await checkProjectCheckpoint(project.checkpoint, run, data);
      checkpoint = { step: run.state.step, totalSteps: run.totalSteps, method: run.settings.method, classes: run.classes, trainer: run.extra.trainer ?? null, record: project.checkpoint };
    } finally {
      await backbone.close();
    }
  }
  return { ok: true, kind: project.kind, classes: data.classes, images: keys.length, sizes: [...sizes], fingerprint: data.fingerprint, trainCount: data.trainLabels.length, settings: project.settings, backbone: project.backbone, checkpoint };
}

const [backboneSpec, ...paths] = process.argv.slice(2);
if (!backboneSpec || !paths.length) {
  process.stderr.write('usage: tsx tests/helpers/read-project.ts BACKBONE PROJECT.zip...\n');
  process.exit(2);
}
for (const path of paths) {
  const summary = await read(path, backboneSpec).catch((error: unknown) => ({ ok: false, error: error instanceof Error ? error.message : String(error) }));
  process.stdout.write(`${JSON.stringify(summary)}\n`);
}
