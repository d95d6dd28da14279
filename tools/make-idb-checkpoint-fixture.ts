// Writes tests/fixtures/idb-checkpoint/tiny-clora-step3.v8: a checkpoint record exactly as the web app stores it
// in IndexedDB (description and saved state, structured-cloned), from a real run: the seeded tiny ViT of the
// tests trained 3 AdamW steps with CLoRA. V8's serializer is the structured clone IndexedDB uses, so
// `v8.deserialize` gives back what the browser would. The reliability tests and the fuzz pass start from it.
// Run: npx tsx tools/make-idb-checkpoint-fixture.ts
import { writeFileSync } from 'node:fs';
import { serialize } from 'node:v8';
import { createNodeGpuContext } from '../src/gpu/node';
import type { CheckpointData, CheckpointMeta } from '../src/io/checkpoint-record';
import { CHECKPOINT_RECORD_VERSION } from '../src/io/checkpoint-record';
import { stateBytes } from '../src/io/checkpoints';
import type { RunSettings } from '../src/worker/protocol';
import { DEFAULT_TRAIN_OPTIONS, Trainer } from '../src/train/trainer';
import { TINY_CLASSES, tinyDataset, tinyModel } from '../tests/helpers/tiny-model';

const OUT = 'tests/fixtures/idb-checkpoint/tiny-clora-step3.v8';

const ctx = await createNodeGpuContext({ quiet: true });
const model = await tinyModel(ctx);
const data = tinyDataset(12, 4);
const settings: RunSettings = {
  adapter: model.parts.settings,
  train: { ...DEFAULT_TRAIN_OPTIONS, lr: 1e-2, epochs: 2, batchSize: 4, seed: 7, logEvery: 1 },
  checkpointEvery: 3,
};
const trainer = await Trainer.create(model, data, settings.train);
let seen = 0;
await trainer.run(() => {
  if (++seen === 3) trainer.pause();
});
const state = await trainer.state();
const last = state.history.at(-1)!;
const record: CheckpointData = { state, accuracy: [{ step: 3, epoch: 1, train: 0.5, validation: 0.25 }] };
const meta: CheckpointMeta = {
  version: CHECKPOINT_RECORD_VERSION,
  id: `run-fixture@${state.step}-0`,
  runId: 'run-fixture',
  createdAt: 1_750_000_000_000,
  reason: 'interval',
  step: state.step,
  totalSteps: trainer.totalSteps,
  epoch: last.epoch,
  settings,
  classes: TINY_CLASSES,
  fingerprint: '0123abcd-12',
  backbone: { spec: 'tiny-vit', label: 'the tiny test ViT', url: '/models/tiny.safetensors' },
  loss: last.loss,
  validationAccuracy: 0.25,
  bytes: stateBytes(state),
};
writeFileSync(OUT, serialize({ meta, data: record }));
process.stdout.write(`wrote ${OUT}: step ${state.step} of ${trainer.totalSteps}, ${state.trainable.size} weight tensors, ${state.optimizer.m.length} moments\n`);
trainer.dispose();
model.dispose();
ctx.destroy();
