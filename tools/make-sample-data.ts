// Writes the sample downstream data set the app offers as "Use sample data": Fashion-MNIST images the bundled
// backbone (trained on MNIST digits) never saw, 50 per class as 28×28 grey PNGs in one folder per class,
// plus index.json (so a page can fetch them without directory listings) and the data's license.
// `npm run make:sample-data`
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { Rng } from '../src/train/rng';
import { FASHION_CLASSES, loadFashionMnist, pickPerClass } from './fashion-mnist';

const OUT = 'public/samples/fashion';
const PER_CLASS = 50;
const SEED = 7;

const { images, labels } = loadFashionMnist('train');
const order = new Rng(SEED).shuffle(Array.from({ length: images.count }, (_, i) => i));
const picked = pickPerClass(labels, PER_CLASS, order);
rmSync(OUT, { recursive: true, force: true });
const files: Record<string, string[]> = {};
const counters = new Map<number, number>();
for (const index of picked) {
  const label = labels[index]!;
  const name = FASHION_CLASSES[label]!;
  const n = (counters.get(label) ?? 0) + 1;
  counters.set(label, n);
  const png = new PNG({ width: images.cols, height: images.rows, colorType: 0, inputColorType: 0, bitDepth: 8 });
  const plane = images.rows * images.cols;
  png.data = Buffer.from(images.pixels.subarray(index * plane, (index + 1) * plane));
  mkdirSync(join(OUT, name), { recursive: true });
  const file = `${name}/${String(n).padStart(3, '0')}.png`;
  writeFileSync(join(OUT, file), PNG.sync.write(png, { colorType: 0, inputColorType: 0 }));
  (files[name] ??= []).push(file);
}
writeFileSync(join(OUT, 'index.json'), `${JSON.stringify({ name: 'Fashion-MNIST sample', source: 'Fashion-MNIST training set (Zalando Research), Debian package dataset-fashion-mnist', license: 'MIT', seed: SEED, perClass: PER_CLASS, classes: FASHION_CLASSES, files }, null, 2)}\n`);
writeFileSync(
  join(OUT, 'LICENSE'),
  `Fashion-MNIST sample: ${PER_CLASS} training images per class from Fashion-MNIST.
Copyright (c) 2017 Zalando SE, https://tech.zalando.com
Made with tools/make-sample-data.ts (seed ${SEED}) from Debian's dataset-fashion-mnist package.

MIT License (Expat)

Permission is hereby granted, free of charge, to any person obtaining a copy of this software and
associated documentation files (the "Software"), to deal in the Software without restriction, including
without limitation the rights to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is furnished to do so, subject to the
following conditions:

The above copyright notice and this permission notice shall be included in all copies or substantial
portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED, INCLUDING BUT NOT
LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO
EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER LIABILITY, WHETHER IN
AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM, OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE
USE OR OTHER DEALINGS IN THE SOFTWARE.
`,
);
console.log(`wrote ${picked.length} PNGs in ${FASHION_CLASSES.length} class folders to ${OUT}`);
