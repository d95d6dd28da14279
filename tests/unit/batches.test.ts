// The batch sampler (src/train/batches.ts): drawing the next step's batch ahead changes nothing about which
// samples, augmentations and dropout seeds a step gets, and a checkpoint taken with a batch drawn ahead resumes
// the same sequence.
import { describe, expect, it } from 'vitest';
import type { Dataset } from '../../src/data/dataset';
import { BatchSampler, type SamplerOptions, type StepBatch } from '../../src/train/batches';
import { gpu } from '../helpers/gpu';

/** 11 images of 3×4×4 whose pixels carry their index, so a batch's content names its samples. */
function indexedData(): Dataset {
  const count = 11;
  const per = 3 * 4 * 4;
  const inputs = new Float32Array(count * per);
  for (let i = 0; i < count; i++) inputs.fill(i, i * per, (i + 1) * per);
  return { classes: ['a', 'b', 'c'], sampleShape: [3, 4, 4], count, inputs, labels: Int32Array.from({ length: count }, (_, i) => i % 3), skipped: [] };
}

/** What a step got: per micro-batch its labels, a digest of its pixels and its dropout seed. */
async function content(batch: StepBatch): Promise<unknown[]> {
  const out: unknown[] = [];
  for (const m of batch.micro) {
    const [x, y] = await Promise.all([m.x.read(), m.y.read()]);
    out.push({ labels: [...y], pixels: x.reduce((a, v, i) => a + v * ((i % 97) + 1), 0), seed: m.seed });
    m.x.dispose();
    m.y.dispose();
  }
  return out;
}

const OPTIONS: SamplerOptions = { batchSize: 4, shuffle: true, seed: 3, augment: { flip: true, randomResizedCrop: true } };

describe('the batch sampler', () => {
  it('gives the same batches, crops and seeds whether the next batch is drawn ahead or not, across epochs', async () => {
    const ctx = await gpu();
    const data = indexedData();
    const plain = new BatchSampler(ctx, data, OPTIONS);
    const ahead = new BatchSampler(ctx, data, OPTIONS);
    for (let step = 0; step < 7; step++) {
      const a = await content(plain.take(2));
      const b = await content(ahead.take(2));
      ahead.prefetch(2);
      expect(b, `step ${step}`).toEqual(a);
    }
    plain.dispose();
    ahead.dispose();
  });

  it('reports the state from before a batch drawn ahead, so a resumed run takes that batch next', async () => {
    const ctx = await gpu();
    const data = indexedData();
    const sampler = new BatchSampler(ctx, data, OPTIONS);
    await content(sampler.take(4));
    const before = sampler.state;
    sampler.prefetch(4);
    expect(sampler.state).toEqual(before);
    const resumed = new BatchSampler(ctx, data, { ...OPTIONS, seed: 99 });
    resumed.load(before);
    expect(await content(resumed.take(4))).toEqual(await content(sampler.take(4)));
    expect(await content(resumed.take(4))).toEqual(await content(sampler.take(4)));
    sampler.dispose();
    resumed.dispose();
  });

  it('redraws a batch drawn ahead when the step cuts it into other micro-batches (same samples and seeds order)', async () => {
    const ctx = await gpu();
    const data = indexedData();
    const reference = new BatchSampler(ctx, data, OPTIONS);
    await content(reference.take(4));
    const expected = await content(reference.take(2));
    const sampler = new BatchSampler(ctx, data, OPTIONS);
    await content(sampler.take(4));
    sampler.prefetch(4);
    expect(await content(sampler.take(2))).toEqual(expected);
    reference.dispose();
    sampler.dispose();
  });
});
