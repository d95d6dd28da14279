// The frozen backbone's features of a data set (what the head reads: a ViT's class token after the final
// norm, [count, featureWidth]): what quick mode computes once per image and trains a head on, as Teachable
// Machine does.
import { Tensor } from '../autodiff/tensor';
import type { FineTuneModel } from '../clora/model';
import { copyImage, sampleSize, type Dataset } from '../data/dataset';
import { featureWidth } from '../nn/backbone';
import { predictionChunk, rowsOf } from './predict';

/**
 * Features [indices.length, featureWidth] of the samples at `indices` through the model's backbone without any
 * adapter branch (quick mode trains a head only); `onProgress` hears how many are done after each chunk.
 */
export async function featuresOf(model: FineTuneModel, data: Dataset, indices: readonly number[], onProgress?: (done: number) => void): Promise<Float32Array> {
  const per = sampleSize(data);
  const ctx = model.ctx;
  const chunk = predictionChunk(model.parts.cfg);
  // Every pipeline the chunks use (a full one and the last, shorter one), compiled ahead and in parallel:
  // on an emulated GPU compiling them one by one at first use takes longer than the forward passes.
  const sizes = new Set([Math.min(chunk, indices.length), indices.length % chunk].filter((n) => n > 0));
  const specs = [...sizes].flatMap((n) => ctx.dryRun(() => model.backbone.features(Tensor.empty(ctx, [n, ...data.sampleShape]))).specs);
  await ctx.pipelines.prepare(specs);
  const input = (start: number, n: number): Tensor => {
    const pixels = new Float32Array(n * per);
    for (let k = 0; k < n; k++) copyImage(data, indices[start + k]!, pixels, k * per);
    return Tensor.fromData(ctx, [n, ...data.sampleShape], pixels);
  };
  return rowsOf(model, indices.length, featureWidth(model.parts.cfg), input, (x) => model.backbone.features(x), chunk, onProgress);
}

/** A data set of feature vectors (sampleShape [width]) with the labels and classes of the samples they came from. */
export function featureDataset(features: Float32Array, dim: number, labels: Int32Array, classes: string[]): Dataset {
  return { classes, sampleShape: [dim], count: labels.length, inputs: features, labels, skipped: [] };
}
