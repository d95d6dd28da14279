import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { mul, reshape } from '../../src/autodiff/ops/elementwise';
import { sum } from '../../src/autodiff/ops/reduce';
import { Tape } from '../../src/autodiff/tape';
import { Tensor } from '../../src/autodiff/tensor';
import { bytesSource, openSafetensors, type SafetensorsFile } from '../../src/io/safetensors';
import { loadVit } from '../../src/nn/load';
import { VisionTransformer, vitConfigFromShapes } from '../../src/nn/vit';
import { maxRelError } from '../reference/ops';
import { gpu } from '../helpers/gpu';

async function fixture(name: string): Promise<SafetensorsFile> {
  return openSafetensors(bytesSource(new Uint8Array(readFileSync(new URL(`../fixtures/${name}.safetensors`, import.meta.url))), name));
}

describe('timm ViT against PyTorch golden fixtures', () => {
  for (const tokens of [5, 10, 17]) {
    it(`logits and gradients match for ${tokens} tokens (3 heads, patch 4)`, async () => {
      const ctx = await gpu();
      const file = await fixture(`vit_p4_t${tokens}`);
      const weightNames = file.names().filter((n) => !/^(input|output|grad|loss)\./.test(n));
      const { cfg, store } = await loadVit(ctx, file, { trainable: () => true });
      expect(cfg).toMatchObject({ heads: 3, patch: 4, tokens, depth: 2, dim: 24, classes: 5 });
      const tape = new Tape(ctx);
      try {
        const pixelsInfo = file.tensors.get('input.pixel_values')!;
        const pixels = Tensor.fromData(ctx, pixelsInfo.shape, await file.readF32('input.pixel_values'));
        pixels.requiresGrad = true;
        const model = new VisionTransformer(cfg, (n) => store.get(n));
        const logits = model.forward(pixels);
        const r = Tensor.fromData(ctx, file.tensors.get('loss.R')!.shape, await file.readF32('loss.R'));
        const loss = sum(reshape(mul(logits, r), [logits.size]), 0);
        expect(maxRelError(await logits.read(), await file.readF32('output.logits'))).toBeLessThanOrEqual(1e-4);
        tape.backward(loss);
        expect(maxRelError(await pixels.grad!.read(), await file.readF32('grad.pixel_values')), 'grad pixel_values').toBeLessThanOrEqual(1e-3);
        for (const name of weightNames) {
          const err = maxRelError(await store.readGrad(name), await file.readF32(`grad.${name}`));
          expect(err, `grad ${name}`).toBeLessThanOrEqual(1e-3);
        }
      } finally {
        tape.dispose();
        store.dispose();
      }
    });
  }

  it('refuses weights that are not a ViT, naming the key and shapes', async () => {
    const file = await fixture('vit_p4_t5');
    const shapes = new Map([...file.tensors].map(([n, t]) => [n, t.shape] as const));
    expect(() => vitConfigFromShapes(new Map([['foo', [1]]]))).toThrow(/not a timm ViT.*patch_embed\.proj\.weight/);
    const bad = new Map(shapes);
    bad.set('blocks.1.attn.proj.weight', [24, 23]);
    expect(() => vitConfigFromShapes(bad, 3)).toThrow(/"blocks\.1\.attn\.proj\.weight": expected \[24, 24\], found \[24, 23\]/);
    expect(() => vitConfigFromShapes(shapes, 5)).toThrow(/5 attention heads do not divide the width 24/);
  });
});
