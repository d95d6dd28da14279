// ViT-Tiny's real dimensions (12 blocks, width 192, 3 heads, patch 16, 224×224, 1000 classes) with weights
// generated from a seed on both sides (tests/helpers/seeded-weights.ts and tools/make_fixtures.py), against
// PyTorch's logits in tests/fixtures/vit_tiny_dims.safetensors.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ParameterStore } from '../../src/autodiff/params';
import { Tape } from '../../src/autodiff/tape';
import { Tensor } from '../../src/autodiff/tensor';
import { bytesSource, openSafetensors } from '../../src/io/safetensors';
import { decays, VisionTransformer, vitShapes, type VitConfig } from '../../src/nn/vit';
import { maxRelError } from '../reference/ops';
import { seededTensor } from '../helpers/seeded-weights';
import { gpu } from '../helpers/gpu';

describe('ViT-Tiny dimensions', () => {
  it('reproduces PyTorch logits at batch 1', async () => {
    const ctx = await gpu();
    const file = await openSafetensors(bytesSource(new Uint8Array(readFileSync(new URL('../fixtures/vit_tiny_dims.safetensors', import.meta.url)))));
    const baseSeed = Number(file.metadata.base_seed);
    const cfg: VitConfig = { depth: 12, dim: 192, heads: 3, patch: 16, imageSize: 224, channels: 3, mlpDim: 768, tokens: 197, classes: 1000 };
    for (const name of file.names().filter((n) => n.startsWith('check.'))) {
      const key = name.slice('check.'.length);
      expect([...seededTensor(key, vitShapes(cfg).get(key)!, baseSeed).slice(0, 16)], key).toEqual([...(await file.readF32(name))]);
    }
    const shapes = vitShapes(cfg);
    const store = await ParameterStore.create(ctx, [...shapes].map(([name, shape]) => ({ name, shape, decay: decays(name, shape), requiresGrad: false })));
    for (const [name, shape] of shapes) store.upload(name, seededTensor(name, shape, baseSeed));
    const tape = new Tape(ctx);
    try {
      const pixels = Tensor.fromData(ctx, [1, 3, 224, 224], await file.readF32('input.pixel_values'));
      const logits = new VisionTransformer(cfg, (n) => store.get(n)).forward(pixels);
      expect(maxRelError(await logits.read(), await file.readF32('output.logits'))).toBeLessThanOrEqual(1e-4);
    } finally {
      tape.dispose();
      store.dispose();
    }
  });
});
