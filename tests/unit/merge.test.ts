// Merging on the GPU: the merged backbone alone gives the adapted model's logits (the reference's), and
// unmerging restores the frozen weights.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Tape } from '../../src/autodiff/tape';
import { Tensor } from '../../src/autodiff/tensor';
import { readAdapterFile } from '../../src/clora/files';
import { mergeAdapter, unmergeAdapter } from '../../src/clora/merge';
import { createFineTuneModel, type FineTuneModel } from '../../src/clora/model';
import { bytesSource, openSafetensors } from '../../src/io/safetensors';
import { vitConfigFromShapes } from '../../src/nn/vit';
import { maxRelError } from '../reference/ops';
import { gpu } from '../helpers/gpu';

const fixtures = new URL('../fixtures/train/', import.meta.url).pathname;
const open = async (name: string) => openSafetensors(bytesSource(new Uint8Array(readFileSync(join(fixtures, name)))));

async function logits(model: FineTuneModel, pixels: Float32Array): Promise<Float32Array> {
  const tape = new Tape(model.ctx);
  try {
    return await model.forward(Tensor.fromData(model.ctx, [6, 3, 8, 8], pixels)).read();
  } finally {
    tape.dispose();
  }
}

for (const kind of ['clora_all', 'lora_all']) {
  describe(`merging a ${kind} adapter`, () => {
    it('merged weights alone give the adapted logits; unmerge restores the backbone', async () => {
      const ctx = await gpu();
      const backbone = await open('backbone.safetensors');
      const cfg = vitConfigFromShapes(new Map([...backbone.tensors].map(([n, t]) => [n, t.shape] as const)), 3);
      const adapter = await readAdapterFile(await open(`init_${kind}.safetensors`), cfg);
      const model = await createFineTuneModel(ctx, cfg, adapter.settings, adapter.classes, (n) => backbone.readF32(n), adapter.tensors);
      const pixels = await (await open('data.safetensors')).readF32('pixel_values');
      const reference = await (await open(`peft_expected_${kind}.safetensors`)).readF32('logits');
      const frozenBefore = await model.parts.frozen!.readAll();
      expect(maxRelError(await logits(model, pixels), reference)).toBeLessThanOrEqual(1e-4);
      const dispatches = ctx.stats.dispatches;
      mergeAdapter(model);
      expect(ctx.stats.dispatches - dispatches).toBe(4 * model.branches.length);
      expect(maxRelError(await logits(model, pixels), reference)).toBeLessThanOrEqual(1e-4);
      unmergeAdapter(model);
      const frozenAfter = await model.parts.frozen!.readAll();
      for (const [name, data] of frozenBefore) expect(maxRelError(frozenAfter.get(name)!, data), name).toBeLessThanOrEqual(1e-6);
      expect(maxRelError(await logits(model, pixels), reference)).toBeLessThanOrEqual(1e-4);
      model.dispose();
    });
  });
}
