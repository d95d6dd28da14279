// Point-MAE's classification transformer (clora-spec §4) against the golden fixtures of
// tools/make_point_fixtures.py (an independent PyTorch module): the grouping, logits within 1e-4 and the
// gradient of every parameter within 1e-3, on several point counts, group counts and group sizes.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { mul, reshape } from '../../src/autodiff/ops/elementwise';
import { farthestPointSample, nearestNeighbours, readIndices } from '../../src/autodiff/ops/points';
import { sum } from '../../src/autodiff/ops/reduce';
import { prependToken } from '../../src/autodiff/ops/shape';
import { ParameterStore } from '../../src/autodiff/params';
import { Tape } from '../../src/autodiff/tape';
import { Tensor } from '../../src/autodiff/tensor';
import { bytesSource, openSafetensors, type SafetensorsFile } from '../../src/io/safetensors';
import { isRunningStatistic, pointConfigFromShapes, pointDecays, pointShapes, PointTransformer, type PointConfig } from '../../src/nn/point-transformer';
import { maxRelError, tensor, type RefOp } from '../reference/ops';
import { gpu } from '../helpers/gpu';
import { checkOp, rand } from '../helpers/oracle';

const FIXTURES = ['p64_g8_k8', 'p100_g13_k16', 'p257_g32_k5'];

async function fixture(name: string): Promise<SafetensorsFile> {
  return openSafetensors(bytesSource(new Uint8Array(readFileSync(new URL(`../fixtures/points/points_${name}.safetensors`, import.meta.url))), name));
}

function configOf(file: SafetensorsFile): PointConfig {
  const m = file.metadata;
  const shapes = new Map([...file.tensors].map(([n, t]) => [n, t.shape] as const));
  return pointConfigFromShapes(shapes, { heads: Number(m.num_heads), points: Number(m.num_points), groups: Number(m.num_groups), groupSize: Number(m.group_size) });
}

/** Every backbone tensor on the GPU; all train except BatchNorm's running statistics. */
async function store(ctx: Awaited<ReturnType<typeof gpu>>, file: SafetensorsFile, cfg: PointConfig): Promise<ParameterStore> {
  const shapes = pointShapes(cfg);
  const s = await ParameterStore.create(ctx, [...shapes].map(([name, shape]) => ({ name, shape, decay: pointDecays(name, shape), requiresGrad: !isRunningStatistic(name) })));
  for (const name of shapes.keys()) s.upload(name, await file.readF32(name));
  return s;
}

describe('Point-MAE transformer against PyTorch golden fixtures', () => {
  for (const name of FIXTURES) {
    it(`${name}: grouping, logits and every parameter's gradient`, async () => {
      const ctx = await gpu();
      const file = await fixture(name);
      const cfg = configOf(file);
      expect(cfg).toMatchObject({ kind: 'point', depth: 2, dim: 24, heads: 3, mlpDim: 48, tokenizer: [16, 24, 40], positionWidth: 16, classes: 5, qkvBias: name === 'p257_g32_k5' });
      const s = await store(ctx, file, cfg);
      const tape = new Tape(ctx);
      try {
        const points = Tensor.fromData(ctx, file.tensors.get('input.points')!.shape, await file.readF32('input.points'));
        const { centres } = farthestPointSample(points, cfg.groups);
        const { indices } = farthestPointSample(points, cfg.groups);
        expect([...(await readIndices(indices))], 'centres').toEqual([...(await file.readInt('output.centre_index'))]);
        expect([...(await readIndices(nearestNeighbours(points, centres, cfg.groupSize)))], 'neighbours').toEqual([...(await file.readInt('output.neighbour_index'))]);

        const model = new PointTransformer(cfg, (n) => s.get(n));
        const logits = model.forward(points);
        expect(maxRelError(await logits.read(), await file.readF32('output.logits')), 'logits').toBeLessThanOrEqual(1e-4);
        const r = Tensor.fromData(ctx, file.tensors.get('loss.R')!.shape, await file.readF32('loss.R'));
        tape.backward(sum(reshape(mul(logits, r), [logits.size]), 0));
        for (const key of pointShapes(cfg).keys()) {
          if (isRunningStatistic(key)) continue;
          expect(maxRelError(await s.readGrad(key), await file.readF32(`grad.${key}`)), `grad ${key}`).toBeLessThanOrEqual(1e-3);
        }
      } finally {
        tape.dispose();
        s.dispose();
      }
    });
  }

  it('recomputing the tokenizer and the blocks in the backward pass gives the same gradients', async () => {
    const ctx = await gpu();
    const file = await fixture('p64_g8_k8');
    const cfg = configOf(file);
    const s = await store(ctx, file, cfg);
    const tape = new Tape(ctx);
    try {
      const model = new PointTransformer(cfg, (n) => s.get(n));
      model.recomputeBlocks = true;
      const logits = model.forward(Tensor.fromData(ctx, [2, 64, 3], await file.readF32('input.points')));
      tape.backward(sum(reshape(mul(logits, Tensor.fromData(ctx, [2, 5], await file.readF32('loss.R'))), [10]), 0));
      for (const key of ['encoder.first_conv.0.weight', 'encoder.second_conv.1.weight', 'cls_pos', 'pos_embed.0.weight', 'blocks.blocks.0.attn.qkv.weight', 'head.weight']) {
        expect(maxRelError(await s.readGrad(key), await file.readF32(`grad.${key}`)), `grad ${key}`).toBeLessThanOrEqual(1e-3);
      }
    } finally {
      tape.dispose();
      s.dispose();
    }
  });

  it('with f16 activations in the blocks the logits stay close', async () => {
    // The test adapter (lavapipe) offers shader-f16, as tests/unit/f16-*.test.ts assume.
    const ctx = await gpu();
    const file = await fixture('p100_g13_k16');
    const cfg = configOf(file);
    const s = await store(ctx, file, cfg);
    const tape = new Tape(ctx);
    try {
      const model = new PointTransformer(cfg, (n) => s.get(n));
      model.activations = 'f16';
      const logits = model.forward(Tensor.fromData(ctx, [2, 100, 3], await file.readF32('input.points')));
      expect(maxRelError(await logits.read(), await file.readF32('output.logits'))).toBeLessThanOrEqual(1e-2);
    } finally {
      tape.dispose();
      s.dispose();
    }
  });

  it('refuses weights that are not a Point-MAE transformer, or settings that cannot work, with the reason', async () => {
    const file = await fixture('p64_g8_k8');
    const shapes = new Map([...file.tensors].map(([n, t]) => [n, t.shape] as const));
    expect(() => pointConfigFromShapes(new Map([['foo', [1]]]))).toThrow(/not a Point-MAE point transformer.*encoder\.first_conv\.0\.weight/);
    const pretrain = new Map([...shapes].filter(([n]) => n !== 'cls_token' && n !== 'cls_pos'));
    expect(() => pointConfigFromShapes(pretrain, { heads: 3 })).toThrow(/pre-training checkpoint/);
    const bad = new Map(shapes);
    bad.set('blocks.blocks.1.mlp.fc2.weight', [24, 47]);
    expect(() => pointConfigFromShapes(bad, { heads: 3 })).toThrow(/"blocks\.blocks\.1\.mlp\.fc2\.weight": expected \[24, 48\], found \[24, 47\]/);
    expect(() => pointConfigFromShapes(shapes, { heads: 5 })).toThrow(/5 attention heads do not divide the width 24/);
    expect(() => pointConfigFromShapes(shapes, { heads: 3, points: 32, groups: 64 })).toThrow(/64 groups cannot be chosen from 32 points/);
    expect(() => pointConfigFromShapes(shapes, { heads: 3, points: 100, groupSize: 200 })).toThrow(/Groups of 200 points cannot be taken from 100 points/);
    // §4's defaults where nothing is given; the head count is d/64, at least 1.
    expect(pointConfigFromShapes(shapes)).toMatchObject({ heads: 1, points: 1024, groups: 64, groupSize: 32 });
  });
});

/** The class token before every sequence (prependToken), written from its definition. */
const prepend: RefOp = {
  name: 'prependToken',
  forward([x, token]) {
    const [B, n, D] = x!.shape as [number, number, number];
    const out = tensor([B, n + 1, D]);
    for (let b = 0; b < B; b++) {
      for (let d = 0; d < D; d++) out.data[b * (n + 1) * D + d] = token!.data[d]!;
      for (let i = 0; i < n * D; i++) out.data[b * (n + 1) * D + D + i] = x!.data[b * n * D + i]!;
    }
    return [out];
  },
  backward([x, token], _o, [g]) {
    const [B, n, D] = x!.shape as [number, number, number];
    const dx = tensor(x!.shape);
    const dt = tensor(token!.shape);
    for (let b = 0; b < B; b++) {
      for (let d = 0; d < D; d++) dt.data[d] = dt.data[d]! + g!.data[b * (n + 1) * D + d]!;
      for (let i = 0; i < n * D; i++) dx.data[b * n * D + i] = g!.data[b * (n + 1) * D + D + i]!;
    }
    return [dx, dt];
  },
};

describe('prependToken (class token and class position)', () => {
  for (const [B, n, D] of [[1, 1, 1], [3, 7, 5], [2, 64, 24]] as const) {
    it(`[${B}, ${n}, ${D}]`, async () => {
      const ctx = await gpu();
      await checkOp(ctx, { ref: prepend, opts: undefined, inputs: [rand([B, n, D], 1), rand([1, 1, D], 2)], grad: [0, 1], engine: ([x, t]) => prependToken(x!, t!) });
    });
  }
});
