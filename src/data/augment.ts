// Training-time augmentation on preprocessed images (CPU, per batch): random resized crop (scale 0.5–1,
// aspect 3/4–4/3, bilinear back to the input size) and horizontal flip, both drawn from the trainer's RNG
// so a seeded run is reproducible.
import type { Rng } from '../train/rng';
import { copyImage, imageDims, type Dataset } from './dataset';

export interface AugmentOptions {
  flip: boolean;
  randomResizedCrop: boolean;
}

export function augmentInto(data: Dataset, indices: readonly number[], pixels: Float32Array, labels: Float32Array, rng: Rng, opts: AugmentOptions): void {
  const [channels, h, w] = imageDims(data);
  const per = channels * h * w;
  // 8-bit data sets are normalised into one scratch image first; f32 ones are read in place.
  const scratch = data.inputs instanceof Float32Array ? undefined : new Float32Array(per);
  indices.forEach((index, k) => {
    labels[k] = data.labels[index]!;
    let src: Float32Array;
    if (scratch) {
      copyImage(data, index, scratch, 0);
      src = scratch;
    } else {
      src = (data.inputs as Float32Array).subarray(index * per, (index + 1) * per);
    }
    const dst = pixels.subarray(k * per, (k + 1) * per);
    let cropX = 0;
    let cropY = 0;
    let cropW = w;
    let cropH = h;
    if (opts.randomResizedCrop) {
      const area = rng.uniform(0.5, 1) * w * h;
      const logRatio = rng.uniform(Math.log(3 / 4), Math.log(4 / 3));
      const ratio = Math.exp(logRatio);
      cropW = Math.min(w, Math.max(1, Math.sqrt(area * ratio)));
      cropH = Math.min(h, Math.max(1, Math.sqrt(area / ratio)));
      cropX = rng.uniform(0, w - cropW);
      cropY = rng.uniform(0, h - cropH);
    }
    const flip = opts.flip && rng.next() < 0.5;
    for (let c = 0; c < channels; c++) {
      const plane = c * h * w;
      for (let y = 0; y < h; y++) {
        const sy = Math.min(h - 1, Math.max(0, cropY + ((y + 0.5) * cropH) / h - 0.5));
        const y0 = Math.floor(sy);
        const y1 = Math.min(h - 1, y0 + 1);
        const fy = sy - y0;
        for (let x = 0; x < w; x++) {
          const ox = flip ? w - 1 - x : x;
          const sx = Math.min(w - 1, Math.max(0, cropX + ((ox + 0.5) * cropW) / w - 0.5));
          const x0 = Math.floor(sx);
          const x1 = Math.min(w - 1, x0 + 1);
          const fx = sx - x0;
          const top = src[plane + y0 * w + x0]! * (1 - fx) + src[plane + y0 * w + x1]! * fx;
          const bottom = src[plane + y1 * w + x0]! * (1 - fx) + src[plane + y1 * w + x1]! * fx;
          dst[plane + y * w + x] = top * (1 - fy) + bottom * fy;
        }
      }
    }
  });
}
