// Fashion-MNIST (Zalando, MIT; Debian's dataset-fashion-mnist) as study pools: the 60,000 training images
// are the pool each seed draws its training images from, the 10,000 test images the test set. Grey 28×28
// images become three 8-bit channel planes, normalised with the backbone's mean and std as batches are
// gathered (src/data/dataset.ts), exactly as the app and the command line feed the model.
import type { Dataset } from '../../src/data/dataset';
import type { IdxImages } from '../../src/data/idx';
import { FASHION_CLASSES, loadFashionMnist } from '../../tools/fashion-mnist';
import type { TaskPools } from './tasks';

function greyPlanes(images: IdxImages, indices: readonly number[]): Uint8Array {
  const plane = images.rows * images.cols;
  const out = new Uint8Array(indices.length * 3 * plane);
  indices.forEach((index, k) => {
    const grey = images.pixels.subarray(index * plane, (index + 1) * plane);
    for (let c = 0; c < 3; c++) out.set(grey, (k * 3 + c) * plane);
  });
  return out;
}

export function fashionPools(normalize: { mean: readonly number[]; std: readonly number[] }): TaskPools {
  const splits = { train: loadFashionMnist('train'), test: loadFashionMnist('t10k') };
  const { rows, cols } = splits.train.images;
  return {
    classes: FASHION_CLASSES,
    sampleShape: [3, rows, cols],
    labels: { train: splits.train.labels, test: splits.test.labels },
    dataset(pool, indices): Dataset {
      const split = splits[pool];
      return {
        classes: FASHION_CLASSES,
        sampleShape: [3, rows, cols],
        count: indices.length,
        inputs: greyPlanes(split.images, indices),
        normalize,
        labels: Int32Array.from(indices, (i) => split.labels[i]!),
        skipped: [],
      };
    },
  };
}
