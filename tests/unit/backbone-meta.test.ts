// The backbone rules the command line and the web worker share (src/nn/backbone-meta.ts): the caller's
// option, then the known-model table, then the file's metadata, then timm's defaults.
import { describe, expect, it } from 'vitest';
import { ShapeError } from '../../src/gpu/errors';
import { bytesSource, openSafetensors, writeSafetensors } from '../../src/io/safetensors';
import { imageBackbone, readBackboneMeta } from '../../src/nn/backbone-meta';
import { BUNDLED_MODEL, BUNDLED_POINT_MODEL } from '../../src/nn/models';
import { pointShapes, type PointConfig } from '../../src/nn/point-transformer';
import { vitShapes, type VitConfig } from '../../src/nn/vit';

const SMALL: VitConfig = { depth: 2, dim: 24, heads: 3, patch: 4, imageSize: 8, channels: 3, mlpDim: 48, tokens: 5, classes: 4 };

/** A ViT weights file with zero tensors of `cfg`'s shapes and the given metadata. */
async function vitFile(cfg: VitConfig, metadata: Record<string, string> = {}) {
  const tensors = [...vitShapes(cfg)].map(([name, shape]) => ({ name, shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)) }));
  return openSafetensors(bytesSource(writeSafetensors(tensors, metadata), 'model.safetensors'));
}

describe('readBackboneMeta', () => {
  it('takes heads, preprocessing and class names from the file when the model is not a known one', async () => {
    const file = await vitFile(SMALL, { num_heads: '3', mean: '[0.485, 0.456, 0.406]', std: '0.2,0.2,0.2', crop_pct: '0.875', classes: '["a","b","c","d"]', model: 'my vit' });
    const meta = imageBackbone(readBackboneMeta(file, { spec: 'files/model.safetensors' }), 'this test');
    expect(meta.kind).toBe('vit');
    expect(meta.cfg).toEqual(SMALL);
    expect(meta.preprocess).toEqual({ size: 8, cropPct: 0.875, mean: [0.485, 0.456, 0.406], std: [0.2, 0.2, 0.2] });
    expect(meta.headClasses).toEqual(['a', 'b', 'c', 'd']);
    expect(meta.baseModel).toBe('files/model.safetensors');
    expect(meta.label).toBe('my vit');
    expect(meta.parameters).toBe([...vitShapes(SMALL).values()].reduce((n, s) => n + s.reduce((a, b) => a * b, 1), 0));
    expect(meta.describe()).toEqual({ base_model: 'files/model.safetensors', num_heads: '3', image_size: '8', mean: '0.485,0.456,0.406', std: '0.2,0.2,0.2', crop_pct: '0.875' });
  });

  it("falls back to timm's defaults, and to numbered classes when the metadata's list does not fit the head", async () => {
    const file = await vitFile({ ...SMALL, heads: 1 }, { classes: 'x,y' });
    const meta = imageBackbone(readBackboneMeta(file, { spec: 'a.safetensors' }), 'this test');
    // Width 24 < 64: one head; an 8² input is not cropped; mean and std 0.5.
    expect(meta.cfg.heads).toBe(1);
    expect(meta.preprocess).toEqual({ size: 8, cropPct: 1, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] });
    expect(meta.headClasses).toEqual(['0', '1', '2', '3']);
    expect(meta.label).toBe('a.safetensors');
  });

  it('prefers the known-model table over the metadata, and the option over both', async () => {
    const file = await vitFile(SMALL, { num_heads: '6', mean: '0.1,0.1,0.1' });
    const known = { ...BUNDLED_MODEL, heads: 3, mean: [0.3, 0.3, 0.3] as [number, number, number], cropPct: 0.95 };
    const meta = imageBackbone(readBackboneMeta(file, { spec: known.url, known }), 'this test');
    expect(meta.cfg.heads).toBe(3);
    expect(meta.preprocess.mean).toEqual([0.3, 0.3, 0.3]);
    expect(meta.preprocess.cropPct).toBe(0.95);
    expect(meta.baseModel).toBe(known.id);
    expect(meta.label).toBe(known.label);
    expect(readBackboneMeta(file, { spec: 'x', known, heads: 2 }).cfg.heads).toBe(2);
    expect(readBackboneMeta(file, { spec: 'x' }).cfg.heads).toBe(6);
  });

  it('has no head classes for a backbone without a head, and refuses a file that is no backbone in a sentence', async () => {
    expect(readBackboneMeta(await vitFile({ ...SMALL, classes: 0 }), { spec: 'x' }).headClasses).toEqual([]);
    const notVit = await openSafetensors(bytesSource(writeSafetensors([{ name: 'weight', shape: [2], data: new Float32Array(2) }]), 'w'));
    expect(() => readBackboneMeta(notVit, { spec: 'w' })).toThrow(ShapeError);
    expect(() => readBackboneMeta(notVit, { spec: 'w' })).toThrow(/not a timm ViT: the tensor "patch_embed.proj.weight" is missing/);
  });
});

describe('readBackboneMeta on a known point backbone', () => {
  const POINT: PointConfig = { kind: 'point', depth: 1, dim: 16, heads: 2, mlpDim: 32, points: 64, groups: 8, groupSize: 8, tokenizer: [8, 8, 16], positionWidth: 8, qkvBias: false, classes: 3 };

  it('takes heads and grouping from the known-model table before the metadata, and an option before both (with a note)', async () => {
    const tensors = [...pointShapes(POINT)].map(([name, shape]) => ({ name, shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(1) }));
    const file = await openSafetensors(bytesSource(writeSafetensors(tensors, { num_heads: '1', num_points: '32', num_groups: '4', group_size: '4' }), 'p.safetensors'));
    const known = { ...BUNDLED_POINT_MODEL, heads: 4, points: 128, groups: 16, groupSize: 8 };
    const meta = readBackboneMeta(file, { spec: known.id, known });
    expect(meta.kind).toBe('point');
    expect(meta.cfg).toMatchObject({ heads: 4, points: 128, groups: 16, groupSize: 8 });
    expect(meta.baseModel).toBe(known.id);
    const given = readBackboneMeta(file, { spec: known.id, known, points: 256 });
    expect(given.cfg).toMatchObject({ points: 256, groups: 16 });
    expect(given.kind === 'point' && given.notes).toEqual(['--points 256 replaces the backbone\'s num_points 128.']);
    // Without the table, the metadata's.
    expect(readBackboneMeta(file, { spec: 'p.safetensors' }).cfg).toMatchObject({ heads: 1, points: 32, groups: 4, groupSize: 4 });
    // An image model's table entry says nothing about a point backbone.
    expect(readBackboneMeta(file, { spec: 'p.safetensors', known: BUNDLED_MODEL }).cfg).toMatchObject({ heads: 1, points: 32 });
  });
});
