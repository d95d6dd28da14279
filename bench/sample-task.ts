// `npm run bench:sample`: does adaptation pay on the app's own sample task? Trains on the bundled sample
// folder (public/samples/fashion, 50 Fashion-MNIST images per class, the way a user drops a folder) with a
// head-only probe and with CLoRA, then evaluates both on the 10,000 Fashion-MNIST test images, which the
// sample never contains (it is drawn from the training split).
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../src/cli/main';
import { openImageBackbone } from '../src/cli/model-source';
import { readAdapterFile } from '../src/clora/files';
import { createFineTuneModel } from '../src/clora/model';
import { greyToPixelValues } from '../src/data/idx';
import { createNodeGpuContext } from '../src/gpu/node';
import { bytesSource, openSafetensors } from '../src/io/safetensors';
import { evaluate } from '../src/train/evaluate';
import { predictLogits } from '../src/train/predict';
import { FASHION_CLASSES, loadFashionMnist } from '../tools/fashion-mnist';

const BACKBONE = 'clora-web/vit-mnist';
const EPOCHS = process.env.BENCH_EPOCHS ?? '15';
const runs = [
  { name: 'head only (linear probe)', args: ['--method', 'head'] },
  { name: 'CLoRA (q,v, r 8, p 4, SADE 0.1)', args: ['--method', 'clora'] },
];
const test = loadFashionMnist('t10k');
const testPixels = greyToPixelValues(test.images, Array.from({ length: test.images.count }, (_, i) => i), 0.5, 0.5);
const dir = mkdtempSync(join(tmpdir(), 'clora-sample-'));
const rows: { name: string; trainable: number; accuracy: number; command: string }[] = [];
for (const run of runs) {
  const out = join(dir, `${rows.length}.safetensors`);
  const args = ['train', '--model', BACKBONE, '--data', 'public/samples/fashion', ...run.args, '--epochs', EPOCHS, '--batch-size', '25', '--lr', '2e-3', '--warmup', '20', '--seed', '0', '--log-every', '20', '--out', out];
  if ((await main(args)) !== 0) throw new Error(`training failed: ${run.name}`);
  const ctx = await createNodeGpuContext({ quiet: true });
  const backbone = await openImageBackbone(BACKBONE);
  const adapter = await readAdapterFile(await openSafetensors(bytesSource(new Uint8Array(readFileSync(out)))), backbone.cfg);
  const model = await createFineTuneModel(ctx, backbone.cfg, adapter.settings, adapter.classes, backbone.read, adapter.tensors);
  // The folder's classes are sorted by name; the test set's labels follow Fashion-MNIST's own order.
  const labels = Int32Array.from(test.labels, (l) => adapter.classes.indexOf(FASHION_CLASSES[l]!));
  if (labels.some((l) => l < 0)) throw new Error('The sample folder and Fashion-MNIST name their classes differently.');
  const result = evaluate(await predictLogits(model, testPixels, test.images.count, [3, 28, 28], 250), labels, adapter.classes);
  rows.push({ name: run.name, trainable: model.parts.trainable.trainableParameterCount, accuracy: result.accuracy, command: `npm run clora -- ${args.join(' ').replace(out, 'adapter.safetensors')}` });
  console.log(`${run.name}: ${(100 * result.accuracy).toFixed(2)}%`);
  model.dispose();
  await backbone.close();
  ctx.destroy();
}
console.log(`\nSample task: 500 training images (public/samples/fashion), ${EPOCHS} epochs; Fashion-MNIST test set (10,000 images)`);
console.log('| method | trainable parameters | top-1 accuracy |\n|---|---:|---:|');
for (const r of rows) console.log(`| ${r.name} | ${r.trainable.toLocaleString('en-US')} | ${(100 * r.accuracy).toFixed(2)}% |`);
for (const r of rows) console.log(`  ${r.command}`);
writeFileSync('bench/results/sample-task.json', `${JSON.stringify({ backbone: BACKBONE, epochs: Number(EPOCHS), rows }, null, 2)}\n`);
