// `npm run bench:accuracy`: the paper's claim at small scale. The bundled backbone (trained on MNIST digits)
// is adapted to Fashion-MNIST, a task it never saw, from 1,000 training images (100 per class, as in VTAB-1k),
// and evaluated on the full 10,000-image test set. Every method gets the same budget, schedule and seed.
// Prints a markdown table and writes bench/results/accuracy.json. A benchmark, not a test (tens of minutes
// on an emulated GPU; BENCH_EPOCHS / BENCH_ONLY shorten it).
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../src/cli/main';
import { openImageBackbone } from '../src/cli/model-source';
import { readAdapterFile } from '../src/clora/files';
import { createFineTuneModel } from '../src/clora/model';
import { greyToPixelValues } from '../src/data/idx';
import { createNodeGpuContext } from '../src/gpu/node';
import { bytesSource, openSafetensors, writeSafetensors } from '../src/io/safetensors';
import { evaluate } from '../src/train/evaluate';
import { predictLogits } from '../src/train/predict';
import { Rng } from '../src/train/rng';
import { FASHION_CLASSES, loadFashionMnist, pickPerClass } from '../tools/fashion-mnist';

const BACKBONE = 'public/models/vit-mnist.safetensors'; // the bundled backbone, clora-web/vit-mnist
const EPOCHS = Number(process.env.BENCH_EPOCHS ?? 10);
const SEED = 0;
const COMMON = ['--epochs', String(EPOCHS), '--batch-size', '50', '--optimizer', 'adamw', '--lr', '2e-3', '--weight-decay', '1e-4', '--warmup', '20', '--seed', String(SEED), '--log-every', '20'];

interface Config {
  name: string;
  args: string[];
}

const CONFIGS: Config[] = [
  { name: 'head only (linear probe)', args: ['--method', 'head'] },
  { name: 'full fine-tuning', args: ['--method', 'full'] },
  { name: 'LoRA q,v r 8', args: ['--method', 'lora', '--targets', 'q,v', '--rank', '8'] },
  { name: 'CLoRA p 1, no SADE', args: ['--method', 'clora', '--targets', 'q,v', '--rank', '8', '--spaces', '1', '--sade-weight', '0'] },
  { name: 'CLoRA p 4, no SADE', args: ['--method', 'clora', '--targets', 'q,v', '--rank', '8', '--spaces', '4', '--sade-weight', '0'] },
  { name: 'CLoRA p 4, SADE 0.1', args: ['--method', 'clora', '--targets', 'q,v', '--rank', '8', '--spaces', '4', '--sade-weight', '0.1'] },
  { name: 'CLoRA p 4, SADE 0.01', args: ['--method', 'clora', '--targets', 'q,v', '--rank', '8', '--spaces', '4', '--sade-weight', '0.01'] },
  { name: 'CLoRA p 4, SADE 1', args: ['--method', 'clora', '--targets', 'q,v', '--rank', '8', '--spaces', '4', '--sade-weight', '1'] },
];

function tensorFile(path: string, split: ReturnType<typeof loadFashionMnist>, indices: number[]): void {
  writeFileSync(
    path,
    writeSafetensors(
      [
        { name: 'pixel_values', shape: [indices.length, 3, 28, 28], data: greyToPixelValues(split.images, indices, 0.5, 0.5) },
        { name: 'labels', shape: [indices.length], data: Int32Array.from(indices, (i) => split.labels[i]!) },
      ],
      { classes: JSON.stringify(FASHION_CLASSES) },
    ),
  );
}

if (!existsSync(BACKBONE)) throw new Error(`${BACKBONE} is missing: run npm run pretrain:backbone first.`);
const dir = mkdtempSync(join(tmpdir(), 'clora-accuracy-'));
const train = loadFashionMnist('train');
const test = loadFashionMnist('t10k');
const order = new Rng(SEED + 1).shuffle(Array.from({ length: train.images.count }, (_, i) => i));
tensorFile(join(dir, 'train.safetensors'), train, pickPerClass(train.labels, 100, order));
tensorFile(join(dir, 'test.safetensors'), test, Array.from({ length: test.images.count }, (_, i) => i));
const testData = await openSafetensors(bytesSource(new Uint8Array(readFileSync(join(dir, 'test.safetensors')))));
const testPixels = await testData.readF32('pixel_values');
const testLabels = await testData.readInt('labels');

const only = process.env.BENCH_ONLY?.split(',');
const rows: { name: string; trainable: number; accuracy: number; seconds: number; command: string }[] = [];
for (const config of CONFIGS.filter((c) => !only || only.some((o) => c.name.includes(o)))) {
  const out = join(dir, `${rows.length}.safetensors`);
  const args = ['train', '--model', BACKBONE, '--data', join(dir, 'train.safetensors'), ...config.args, ...COMMON, '--out', out];
  const started = Date.now();
  if ((await main(args)) !== 0) throw new Error(`training failed: ${config.name}`);
  const seconds = (Date.now() - started) / 1000;
  const ctx = await createNodeGpuContext({ quiet: true });
  const backbone = await openImageBackbone(BACKBONE);
  const adapter = await readAdapterFile(await openSafetensors(bytesSource(new Uint8Array(readFileSync(out)))), backbone.cfg);
  const model = await createFineTuneModel(ctx, backbone.cfg, adapter.settings, adapter.classes, backbone.read, adapter.tensors);
  const logits = await predictLogits(model, testPixels, testLabels.length, [3, 28, 28], 250);
  const result = evaluate(logits, testLabels, adapter.classes);
  rows.push({ name: config.name, trainable: model.parts.trainable.trainableParameterCount, accuracy: result.accuracy, seconds, command: `npm run clora -- ${args.join(' ').replaceAll(dir, '$DATA')}` });
  model.dispose();
  await backbone.close();
  ctx.destroy();
  console.log(`${config.name}: ${(100 * result.accuracy).toFixed(2)}% (${rows.at(-1)!.trainable} trainable, ${seconds.toFixed(0)} s)`);
}

console.log(`\nFashion-MNIST, 1,000 training images, ${EPOCHS} epochs, batch 50, AdamW lr 2e-3, seed ${SEED}; test set 10,000 images`);
console.log('| method | trainable parameters | top-1 accuracy |\n|---|---:|---:|');
for (const r of rows) console.log(`| ${r.name} | ${r.trainable.toLocaleString('en-US')} | ${(100 * r.accuracy).toFixed(2)}% |`);
writeFileSync('bench/results/accuracy.json', `${JSON.stringify({ backbone: BACKBONE, epochs: EPOCHS, seed: SEED, rows }, null, 2)}\n`);
