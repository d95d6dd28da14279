// Logits for a set of preprocessed images, a few at a time (bounds GPU memory), in inference mode.
import { Tape } from '../autodiff/tape';
import { Tensor } from '../autodiff/tensor';
import type { FineTuneModel } from '../clora/model';

export async function predictLogits(model: FineTuneModel, pixels: Float32Array, count: number, sampleShape: readonly number[], chunk = 16): Promise<Float32Array> {
  const ctx = model.ctx;
  const classes = model.parts.classes.length;
  const per = sampleShape.reduce((a, b) => a * b, 1);
  const logits = new Float32Array(count * classes);
  for (let start = 0; start < count; start += chunk) {
    const n = Math.min(chunk, count - start);
    const tape = new Tape(ctx);
    try {
      const batch = Tensor.fromData(ctx, [n, ...sampleShape], pixels.subarray(start * per, (start + n) * per));
      logits.set(await model.forward(batch, { training: false }).read(), start * classes);
    } finally {
      tape.dispose();
    }
  }
  return logits;
}
