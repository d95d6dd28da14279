// Quick mode (a head trained on features the frozen backbone computed once) is the `head` method with the
// backbone run once per image instead of once per step: from the same initialisation, seed and sampler, the
// head it trains, its AdamW moments and its losses equal those of a `head` run on the images themselves.
import { describe, expect, it } from 'vitest';
import { FeatureHeadModel } from '../../src/clora/feature-head';
import { createFineTuneModel, initialTensors } from '../../src/clora/model';
import { DEFAULT_ADAPTER_SETTINGS, type AdapterSettings } from '../../src/clora/settings';
import { vitShapes } from '../../src/nn/vit';
import { featureDataset, featuresOf } from '../../src/train/features';
import { Rng } from '../../src/train/rng';
import { DEFAULT_TRAIN_OPTIONS, Trainer } from '../../src/train/trainer';
import { gpu } from '../helpers/gpu';
import { seededTensor } from '../helpers/seeded-weights';
import { TINY_CLASSES, TINY_VIT, tinyDataset } from '../helpers/tiny-model';

const HEAD: AdapterSettings = { ...DEFAULT_ADAPTER_SETTINGS, method: 'head', targets: [] };
const OPTIONS = { ...DEFAULT_TRAIN_OPTIONS, lr: 3e-3, batchSize: 8, steps: 9, logEvery: 3, seed: 11 };

async function headModel() {
  const ctx = await gpu();
  const shapes = vitShapes(TINY_VIT);
  const start = initialTensors(TINY_VIT, HEAD, TINY_CLASSES.length, new Rng(5));
  return createFineTuneModel(ctx, TINY_VIT, HEAD, TINY_CLASSES, async (name) => seededTensor(name, shapes.get(name)!, 5), start);
}

describe('quick mode: the head on cached features', () => {
  it('trains the same head, moments and losses as the head method on the images, and still predicts from images', async () => {
    const images = tinyDataset(20, 4);

    const plain = await headModel();
    const plainTrainer = await Trainer.create(plain, images, OPTIONS);
    expect(await plainTrainer.run()).toBe('done');
    const expected = await plainTrainer.state();

    const quick = new FeatureHeadModel((await headModel()).parts);
    const all = Array.from({ length: images.count }, (_, i) => i);
    const features = await featuresOf(quick, images, all);
    expect(features.length).toBe(images.count * TINY_VIT.dim);
    const quickTrainer = await Trainer.create(quick, featureDataset(features, TINY_VIT.dim, images.labels, images.classes), OPTIONS);
    expect(await quickTrainer.run()).toBe('done');
    const got = await quickTrainer.state();

    expect(got.step).toBe(expected.step);
    expect(got.order).toEqual(expected.order);
    for (const name of ['head.weight', 'head.bias']) {
      const a = got.trainable.get(name)!;
      const b = expected.trainable.get(name)!;
      const scale = Math.max(...Array.from(b, Math.abs));
      for (let i = 0; i < a.length; i++) expect(Math.abs(a[i]! - b[i]!), `${name}[${i}]`).toBeLessThanOrEqual(1e-5 * scale + 1e-7);
    }
    for (const k of ['m', 'v'] as const) {
      const a = got.optimizer[k];
      const b = expected.optimizer[k];
      const scale = Math.max(...Array.from(b, Math.abs));
      for (let i = 0; i < a.length; i++) expect(Math.abs(a[i]! - b[i]!)).toBeLessThanOrEqual(1e-4 * scale + 1e-9);
    }
    expect(got.history.map((m) => m.step)).toEqual(expected.history.map((m) => m.step));
    got.history.forEach((m, i) => expect(Math.abs(m.loss - expected.history[i]!.loss)).toBeLessThan(1e-5));

    // Given images it is the whole network: the same logits as the plain model with the trained head.
    plain.parts.trainable.upload('head.weight', got.trainable.get('head.weight')!);
    plain.parts.trainable.upload('head.bias', got.trainable.get('head.bias')!);
    const pixels = images.inputs as Float32Array;
    const { predictLogits } = await import('../../src/train/predict');
    const fromQuick = await predictLogits(quick, pixels, 4, images.sampleShape);
    const fromPlain = await predictLogits(plain, pixels, 4, images.sampleShape);
    for (let i = 0; i < fromQuick.length; i++) expect(Math.abs(fromQuick[i]! - fromPlain[i]!)).toBeLessThan(1e-5);

    plainTrainer.dispose();
    quickTrainer.dispose();
    plain.dispose();
    quick.dispose();
  });

  it('refuses any method but head', async () => {
    const ctx = await gpu();
    const shapes = vitShapes(TINY_VIT);
    const lora: AdapterSettings = { ...DEFAULT_ADAPTER_SETTINGS, method: 'lora', rank: 2, targets: ['q'] };
    const model = await createFineTuneModel(ctx, TINY_VIT, lora, TINY_CLASSES, async (name) => seededTensor(name, shapes.get(name)!, 5), initialTensors(TINY_VIT, lora, 3, new Rng(1)));
    expect(() => new FeatureHeadModel(model.parts)).toThrow(/Quick mode trains the head only \(method "head"\), not "lora"/);
    model.dispose();
  });
});
