// Exports against the PyTorch reference (tests/fixtures/train/peft_expected_*): the PEFT factors rebuild every
// module's s·ΔWᵀ, the engine's logits with the adapter match the reference's, and the merged model gives the
// same logits without any adapter. (tools/check_peft_export.py runs the same PEFT check in PyTorch.)
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main';
import { bytesSource, openSafetensors, writeSafetensors, type SafetensorsFile } from '../../src/io/safetensors';
import { maxRelError } from '../reference/ops';

const root = new URL('../../', import.meta.url).pathname;
const fixtures = join(root, 'tests/fixtures/train');
const backbone = join(fixtures, 'backbone.safetensors');

async function open(path: string): Promise<SafetensorsFile> {
  return openSafetensors(bytesSource(new Uint8Array(readFileSync(path)), path));
}

async function pixelsFile(dir: string): Promise<string> {
  const data = await open(join(fixtures, 'data.safetensors'));
  const path = join(dir, 'x.safetensors');
  writeFileSync(path, writeSafetensors([{ name: 'pixel_values', shape: data.tensors.get('pixel_values')!.shape, data: await data.readF32('pixel_values') }]));
  return path;
}

for (const kind of ['clora_all', 'lora_all']) {
  describe(`${kind} adapter exports`, () => {
    it('PEFT: lora_B·lora_A equals the reference s·ΔWᵀ of every module, with scaling 1 everywhere', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'clora-peft-'));
      expect(await main(['export', '--model', backbone, '--adapter', join(fixtures, `init_${kind}.safetensors`), '--format', 'peft', '--out', dir])).toBe(0);
      const config = JSON.parse(readFileSync(join(dir, 'adapter_config.json'), 'utf8')) as Record<string, unknown>;
      expect(config).toMatchObject({ peft_type: 'LORA', modules_to_save: ['head'], auto_mapping: { base_model_class: 'VisionTransformer' } });
      const weights = await open(join(dir, 'adapter_model.safetensors'));
      const reference = await open(join(fixtures, `peft_expected_${kind}.safetensors`));
      const rankPattern = config.rank_pattern as Record<string, number>;
      const alphaPattern = config.alpha_pattern as Record<string, number>;
      for (const key of reference.names().filter((n) => n.startsWith('delta.'))) {
        const module = key.slice('delta.'.length);
        const a = weights.tensors.get(`base_model.model.${module}.lora_A.weight`)!;
        const b = weights.tensors.get(`base_model.model.${module}.lora_B.weight`)!;
        const rank = a.shape[0]!;
        expect(b.shape[1]).toBe(rank);
        expect(rankPattern[module] ?? config.r).toBe(rank);
        expect((alphaPattern[module] ?? (config.lora_alpha as number)) / rank).toBe(1);
        const [A, B] = [await weights.readF32(`base_model.model.${module}.lora_A.weight`), await weights.readF32(`base_model.model.${module}.lora_B.weight`)];
        const [out, inn] = [b.shape[0]!, a.shape[1]!];
        const product = new Float64Array(out * inn);
        for (let o = 0; o < out; o++) for (let k = 0; k < rank; k++) for (let i = 0; i < inn; i++) product[o * inn + i] = product[o * inn + i]! + B[o * rank + k]! * A[k * inn + i]!;
        expect(maxRelError(product, await reference.readF32(key)), module).toBeLessThanOrEqual(1e-5);
      }
      expect(weights.tensors.get('base_model.model.head.weight')!.shape).toEqual([3, 24]);
    });

    it('the engine with the adapter and the merged model both give the reference logits', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'clora-merged-'));
      const input = await pixelsFile(dir);
      const reference = await (await open(join(fixtures, `peft_expected_${kind}.safetensors`))).readF32('logits');
      expect(await main(['forward', '--model', backbone, '--adapter', join(fixtures, `init_${kind}.safetensors`), '--input', input, '--output', join(dir, 'adapted.safetensors')])).toBe(0);
      expect(maxRelError(await (await open(join(dir, 'adapted.safetensors'))).readF32('logits'), reference)).toBeLessThanOrEqual(1e-4);
      const merged = join(dir, 'merged.safetensors');
      expect(await main(['export', '--model', backbone, '--adapter', join(fixtures, `init_${kind}.safetensors`), '--format', 'merged', '--out', merged])).toBe(0);
      expect(await main(['forward', '--model', merged, '--input', input, '--output', join(dir, 'merged-logits.safetensors')])).toBe(0);
      expect(maxRelError(await (await open(join(dir, 'merged-logits.safetensors'))).readF32('logits'), reference)).toBeLessThanOrEqual(1e-4);
    });
  });
}
