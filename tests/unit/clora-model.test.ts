// Adapter bookkeeping without the GPU: the parameter count formula, settings validation, native files.
import { describe, expect, it } from 'vitest';
import { nativeMetadata, nativeTensors, readAdapterFile } from '../../src/clora/files';
import { CORES, initialTensors, planBranches, trainableParameterCount } from '../../src/clora/model';
import { DEFAULT_ADAPTER_SETTINGS, parseTargets, SettingsError, validateAdapterSettings, type AdapterSettings } from '../../src/clora/settings';
import { bytesSource, openSafetensors, writeSafetensors } from '../../src/io/safetensors';
import type { VitConfig } from '../../src/nn/vit';
import { Rng } from '../../src/train/rng';

const VIT_B: VitConfig = { depth: 12, dim: 768, heads: 12, patch: 16, imageSize: 224, channels: 3, mlpDim: 3072, tokens: 197, classes: 1000 };
const SMALL: VitConfig = { depth: 2, dim: 24, heads: 3, patch: 4, imageSize: 8, channels: 3, mlpDim: 96, tokens: 5, classes: 0 };

describe('parameter counts (clora-spec §1)', () => {
  it('ViT-B/16, targets q,v, r 8, p 4: CLoRA 55,296 vs LoRA 294,912 (without the head)', () => {
    const clora: AdapterSettings = { ...DEFAULT_ADAPTER_SETTINGS, rank: 8, spaces: 4, targets: ['q', 'v'] };
    const head = 10 * 768 + 10;
    expect(trainableParameterCount(VIT_B, clora, 10) - head).toBe(55_296);
    expect(trainableParameterCount(VIT_B, { ...clora, method: 'lora' }, 10) - head).toBe(294_912);
    expect(trainableParameterCount(VIT_B, { ...clora, method: 'head' }, 10)).toBe(head);
  });

  it('counts one bank per width in use: Σ banks (p·a·r + p·r·b) + m·p·r²', () => {
    const s: AdapterSettings = { ...DEFAULT_ADAPTER_SETTINGS, rank: 4, spaces: 2, targets: ['q', 'fc1', 'fc2'] };
    // banks: down 24 and 96, up 24 and 96; m = 3 targets × 2 blocks.
    const banks = 2 * 24 * 4 + 2 * 96 * 4 + 2 * 4 * 24 + 2 * 4 * 96;
    expect(trainableParameterCount(SMALL, s, 3) - (3 * 24 + 3)).toBe(banks + 6 * 2 * 16);
  });
});

describe('settings', () => {
  it('refuses impossible settings with the reason', () => {
    const ok = { ...DEFAULT_ADAPTER_SETTINGS };
    expect(() => validateAdapterSettings({ ...ok, rank: 0 })).toThrow(/rank must be a whole number ≥ 1 \(got 0\)/);
    expect(() => validateAdapterSettings({ ...ok, spaces: 0 })).toThrow(/spaces must be a whole number ≥ 1/);
    expect(() => validateAdapterSettings({ ...ok, dropout: 1 })).toThrow(/dropout must be in \[0, 1\)/);
    expect(() => parseTargets('q,x,qkv')).toThrow(SettingsError);
    expect(() => parseTargets('q,x,qkv')).toThrow(/Unknown targets "x", "qkv"/);
    expect(parseTargets('v, q,q')).toEqual(['q', 'v']);
  });
});

describe('native adapter files (clora-spec §2.2)', () => {
  for (const method of ['clora', 'lora', 'head', 'full'] as const) {
    it(`${method}: keys and shapes as the contract says, and read back into the same tensors`, async () => {
      const settings: AdapterSettings = { ...DEFAULT_ADAPTER_SETTINGS, method, rank: 3, spaces: 2, targets: ['q', 'v', 'fc2'] };
      const classes = ['a', 'b', 'c'];
      const internal = initialTensors(SMALL, settings, 3, new Rng(1));
      // Make every tensor distinct so a mix-up shows.
      for (const t of internal.values()) for (let i = 0; i < t.length; i++) t[i] = Math.sin(i * 0.37 + t.length);
      if (method === 'full') for (const [name, shape] of (await import('../../src/nn/vit')).vitShapes(SMALL)) internal.set(name, Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => Math.cos(i + name.length)));
      const tensors = nativeTensors(SMALL, settings, 3, internal);
      const keys = tensors.map((t) => t.name);
      if (method === 'clora') {
        expect(keys).toContain('clora.down.24');
        expect(keys).toContain('clora.down.96');
        expect(keys).toContain('clora.up.24');
        expect(keys).toContain('clora.core.blocks.1.attn.v');
        expect(keys).toContain('clora.core.blocks.0.mlp.fc2');
        expect(tensors.find((t) => t.name === 'clora.down.96')!.shape).toEqual([2, 96, 3]);
        expect(tensors.find((t) => t.name === 'clora.core.blocks.0.attn.q')!.shape).toEqual([2, 3, 3]);
      }
      if (method === 'lora') {
        expect(tensors.find((t) => t.name === 'lora.A.blocks.0.mlp.fc2')!.shape).toEqual([3, 96]);
        expect(tensors.find((t) => t.name === 'lora.B.blocks.1.attn.q')!.shape).toEqual([24, 3]);
      }
      expect(keys.slice(-2)).toEqual(['head.weight', 'head.bias']);
      const metadata = nativeMetadata(settings, classes);
      expect(metadata).toMatchObject({ format: method, format_version: '1', classes: '["a","b","c"]', sade_weight: '0.1' });
      const file = await openSafetensors(bytesSource(writeSafetensors(tensors, metadata)));
      const back = await readAdapterFile(file, SMALL);
      expect(back.classes).toEqual(classes);
      for (const [name, data] of internal) if (back.tensors.has(name) || method !== 'full') expect([...back.tensors.get(name)!], name).toEqual([...data]);
    });
  }

  it('refuses an adapter that does not fit the backbone, naming the mismatch', async () => {
    const settings: AdapterSettings = { ...DEFAULT_ADAPTER_SETTINGS, rank: 2, spaces: 2, targets: ['q'] };
    const internal = initialTensors(SMALL, settings, 3, new Rng(2));
    const bytes = writeSafetensors(nativeTensors(SMALL, settings, 3, internal), nativeMetadata(settings, ['a', 'b', 'c']));
    const file = await openSafetensors(bytesSource(bytes));
    await expect(readAdapterFile(file, { ...SMALL, dim: 32 })).rejects.toThrow(/does not fit the backbone \(width 32, depth 2\): "clora.down.32" is missing/);
    await expect(readAdapterFile(file, { ...SMALL, depth: 1 })).rejects.toThrow(/adapts block 1 but the backbone has 1 blocks/);
    await expect(readAdapterFile(file, SMALL, { classCount: 5 })).rejects.toThrow(/3 classes but the data has 5/);
    await expect(readAdapterFile(file, SMALL, { method: 'lora' })).rejects.toThrow(/trained with method "clora", not "lora"/);
    expect(planBranches(SMALL, settings).map((b) => b.coreIndex)).toEqual([0, 1]);
    expect(internal.get(CORES)!.length).toBe(2 * 2 * 2 * 2);
  });
});

describe('initialisation', () => {
  it('`full` starts from the backbone: only the new head is initialised', () => {
    const init = initialTensors(SMALL, { ...DEFAULT_ADAPTER_SETTINGS, method: 'full' }, 3, new Rng(3));
    expect([...init.keys()]).toEqual(['head.weight', 'head.bias']);
  });

  it('CLoRA starts as the backbone: U = 0, Q = I, D ~ U(±1/√a), head trunc-normal(0.02)', () => {
    const s: AdapterSettings = { ...DEFAULT_ADAPTER_SETTINGS, rank: 2, spaces: 2, targets: ['q', 'fc2'] };
    const init = initialTensors(SMALL, s, 3, new Rng(4));
    expect(init.get('clora.up.24')!.every((v) => v === 0)).toBe(true);
    expect([...init.get(CORES)!.slice(0, 8)]).toEqual([1, 0, 0, 1, 1, 0, 0, 1]);
    expect(init.get('clora.down.96')!.every((v) => Math.abs(v) <= 1 / Math.sqrt(96))).toBe(true);
    expect(init.get('head.weight')!.every((v) => Math.abs(v) <= 0.04)).toBe(true);
    expect(init.get('head.bias')!.every((v) => v === 0)).toBe(true);
  });
});
