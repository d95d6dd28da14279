// The training checkpoint file (src/io/checkpoint-file.ts) without a GPU: a TrainingState in the engine's
// layout round-trips through the file for every method and both optimizers; moments land under the native
// keys exactly where the tensors do (cores unstacked, LoRA transposed, slot padding dropped); and what is not
// a checkpoint of this backbone is refused with a sentence.
import { describe, expect, it } from 'vitest';
import { trainableLayout } from '../../src/autodiff/params';
import { planBranches, trainableSpecs, CORES } from '../../src/clora/model';
import type { AdapterSettings } from '../../src/clora/settings';
import { backboneSha256, CHECKPOINT_FORMAT, dataIdentity, groupingMismatch, readCheckpoint, writeCheckpoint, type CheckpointRun } from '../../src/io/checkpoint-file';
import { bytesSource, openSafetensors, writeSafetensors, type SafetensorsFile } from '../../src/io/safetensors';
import type { PointConfig } from '../../src/nn/point-transformer';
import type { VitConfig } from '../../src/nn/vit';
import { Rng } from '../../src/train/rng';
import type { TrainOptions } from '../../src/train/trainer';

const cfg: VitConfig = { depth: 2, dim: 8, heads: 2, patch: 4, imageSize: 8, channels: 3, mlpDim: 12, tokens: 5, classes: 0 };
const classes = ['a', 'b', 'c'];
const base: AdapterSettings = { method: 'clora', rank: 2, spaces: 3, targets: ['q', 'v', 'fc1'], scale: 1.5, sadeWeight: 0.25, dropout: 0 };
const train: TrainOptions = { optimizer: 'adamw', lr: 0.01, weightDecay: 0.05, beta1: 0.9, beta2: 0.999, eps: 1e-8, steps: 7, batchSize: 4, microBatchSize: 2, warmup: 2, labelSmoothing: 0.1, seed: 3, shuffle: true, augment: { flip: true, randomResizedCrop: false }, logEvery: 10, precision: 'f32' };

/** A state with distinct values everywhere a tensor lives, zeros in the slots' padding (as on the GPU). */
function runFor(settings: AdapterSettings, options: TrainOptions): CheckpointRun {
  const rng = new Rng(9);
  const layout = trainableLayout(trainableSpecs(cfg, settings, classes.length));
  // Second moments are never negative (the reader refuses a negative one as damage).
  const flat = (low = -1): Float32Array => {
    const out = new Float32Array(layout.floats);
    for (const s of layout.slots) for (let i = 0; i < s.size; i++) out[s.offset + i] = rng.uniform(low, 1);
    return out;
  };
  const trainable = new Map(layout.slots.map((s) => [s.name, Float32Array.from({ length: s.size }, () => rng.uniform(-1, 1))]));
  const adamw = options.optimizer === 'adamw';
  return {
    settings,
    classes,
    train: options,
    totalSteps: 7,
    state: {
      step: 3,
      rngState: 0xdeadbeef,
      order: [4, 0, 5, 2, 1, 3],
      cursor: 4,
      trainable,
      optimizer: { step: 3, m: adamw ? flat() : new Float32Array(0), v: adamw ? flat(0) : new Float32Array(0) },
      history: [{ step: 1, totalSteps: 7, epoch: 0.5, loss: 1.25, crossEntropy: 1.2, sade: 0.2, lr: 0.005, imagesPerSecond: 10, etaSeconds: 3 }],
    },
    data: { count: 6, labelsSha256: 'ab'.repeat(32) },
    backbone: { base_model: 'tiny', num_heads: '2', backbone_sha256: 'cd'.repeat(32) },
    extra: { app: '{"checkpoint_every":50}' },
  };
}

async function open(bytes: Uint8Array): Promise<SafetensorsFile> {
  return openSafetensors(bytesSource(bytes, 'checkpoint.safetensors'));
}

const cases: [string, AdapterSettings, TrainOptions][] = [
  ['clora adamw', base, train],
  ['lora adamw', { ...base, method: 'lora', spaces: 1, targets: ['k', 'fc2'] }, train],
  ['head sgd', { ...base, method: 'head', rank: 0, spaces: 1, targets: [] }, { ...train, optimizer: 'sgd', augment: undefined, microBatchSize: undefined }],
  ['full adamw', { ...base, method: 'full', rank: 0, spaces: 1, targets: [] }, { ...train, steps: undefined, epochs: 3 }],
];

describe('the checkpoint file', () => {
  for (const [name, settings, options] of cases) {
    it(`${name}: reads back the state it was written from`, async () => {
      const run = runFor(settings, options);
      const back = await readCheckpoint(await open(writeCheckpoint(cfg, run)), cfg);
      expect(back).toEqual(run);
    });
  }

  it('keeps AdamW moments under native keys, laid out as the tensors are', async () => {
    for (const settings of [base, { ...base, method: 'lora' as const, spaces: 1 }]) {
      const run = runFor(settings, train);
      const file = await open(writeCheckpoint(cfg, run));
      expect(file.metadata.format).toBe(CHECKPOINT_FORMAT);
      const layout = trainableLayout(trainableSpecs(cfg, settings, 3));
      const slot = (n: string) => layout.slots.find((s) => s.name === n)!;
      const { rank: r, spaces: p } = settings;
      for (const b of planBranches(cfg, settings)) {
        const path = `blocks.${b.block}.${b.target === 'fc1' ? 'mlp' : 'attn'}.${b.target}`;
        if (settings.method === 'clora') {
          const at = slot(CORES).offset + b.coreIndex * p * r * r;
          expect([...(await file.readF32(`optimizer.m.clora.core.${path}`))]).toEqual([...run.state.optimizer.m.subarray(at, at + p * r * r)]);
        } else {
          // Internal lora.down [1, a, r] is the transpose of the file's A [r, a].
          const down = run.state.optimizer.v.subarray(slot(b.downName).offset, slot(b.downName).offset + b.inWidth * r);
          const a = await file.readF32(`optimizer.v.lora.A.${path}`);
          for (let i = 0; i < b.inWidth; i++) for (let k = 0; k < r; k++) expect(a[k * b.inWidth + i]).toBe(down[i * r + k]);
        }
      }
      expect(file.tensors.get('sampler.order')!.dtype).toBe('I32');
    }
  });

  it('holds no moments for SGD', async () => {
    const file = await open(writeCheckpoint(cfg, runFor(base, { ...train, optimizer: 'sgd' })));
    expect(file.names().filter((n) => n.startsWith('optimizer.'))).toEqual([]);
  });

  it('refuses what is not a checkpoint of this backbone, saying why', async () => {
    const run = runFor(base, train);
    const good = await open(writeCheckpoint(cfg, run));
    const rewrite = async (edit: (t: { name: string; shape: readonly number[]; data: Float32Array | Int32Array }[], m: Record<string, string>) => void) => {
      const tensors = await Promise.all(good.names().map(async (n) => ({ name: n, shape: good.tensors.get(n)!.shape, data: n === 'sampler.order' ? await good.readInt(n) : await good.readF32(n) })));
      const meta = { ...good.metadata };
      edit(tensors, meta);
      return open(writeSafetensors(tensors, meta));
    };
    await expect(readCheckpoint(await rewrite((_, m) => (m.format = 'clora')), cfg)).rejects.toThrow(/not a training checkpoint: its metadata "format" is "clora" \(an adapter: pass it to --init/);
    await expect(readCheckpoint(await rewrite((_, m) => (m.format_version = '2')), cfg)).rejects.toThrow(/format_version 2; this version reads 1\. Update clora-web/);
    await expect(readCheckpoint(await rewrite((t) => t.splice(t.findIndex((x) => x.name.startsWith('optimizer.v.')), 1)), cfg)).rejects.toThrow(/"optimizer\.v\.clora\.down\.8" is missing/);
    await expect(readCheckpoint(await rewrite((t) => (t.find((x) => x.name === 'sampler.order')!.data = Int32Array.from([0, 0, 1, 2, 3, 4]))), cfg)).rejects.toThrow(/sampler state does not describe an epoch/);
    await expect(readCheckpoint(good, { ...cfg, dim: 16 })).rejects.toThrow(/does not fit the backbone \(width 16, depth 2\): "clora\.down\.16" is missing/);
    await expect(readCheckpoint(await rewrite((_, m) => (m.train = '{"lr":1}')), cfg)).rejects.toThrow(/no readable "train\.optimizer"/);
    // Found by fuzzing (tests/fuzz/readers-checkpoint-file.ts): a history entry that is null threw a TypeError,
    // a step past 2^53 was taken as 2^53, and NaN weights or negative second moments were accepted.
    await expect(readCheckpoint(await rewrite((_, m) => (m.history = '[null]')), cfg)).rejects.toThrow(/no readable "history"/);
    await expect(readCheckpoint(await rewrite((_, m) => (m.step = '9007199254740993')), cfg)).rejects.toThrow(/no readable "step"/);
    await expect(readCheckpoint(await rewrite((t) => (t.find((x) => x.name === 'head.bias')!.data[1] = Number.NaN)), cfg)).rejects.toThrow(/saved state is damaged: "head\.bias" holds NaN at position 1, where training needs a finite number/);
    await expect(readCheckpoint(await rewrite((t) => (t.find((x) => x.name.startsWith('optimizer.v.'))!.data[0] = -1)), cfg)).rejects.toThrow(/"optimizer\.v" holds -1 at position \d+, where training needs a finite number ≥ 0/);
    // …and an augment entry that is not an object threw a TypeError ('in' on a number); a data count of 1e300 a RangeError.
    await expect(readCheckpoint(await rewrite((_, m) => (m.train = JSON.stringify({ ...JSON.parse(m.train!), augment: 7 }))), cfg)).rejects.toThrow(/no readable "train\.augment"/);
    await expect(readCheckpoint(await rewrite((_, m) => (m.data = JSON.stringify({ ...JSON.parse(m.data!), count: 1e300 }))), cfg)).rejects.toThrow(/sampler state does not describe an epoch/);
    await expect(readCheckpoint(await rewrite((_, m) => delete m.method), cfg)).rejects.toThrow(/^The checkpoint's method is missing; expected clora, lora, head or full\./);
  });

  it("keeps a point run's grouping and says how to restore it when the backbone is read with another", async () => {
    const run = { ...runFor(base, train), backbone: { base_model: 'points', num_heads: '2', num_points: '48', num_groups: '8', group_size: '8' } };
    expect((await readCheckpoint(await open(writeCheckpoint(cfg, run)), cfg)).backbone).toEqual(run.backbone);
    const point: PointConfig = { kind: 'point', depth: 2, dim: 8, heads: 2, mlpDim: 12, points: 48, groups: 8, groupSize: 8, tokenizer: [4, 8, 8], positionWidth: 4, qkvBias: false, classes: 0 };
    expect(groupingMismatch(run.backbone, point)).toBeUndefined();
    expect(groupingMismatch(run.backbone, { ...point, groups: 6 })).toBe(
      "The checkpoint's run grouped 48 points into 8 groups of 8; this backbone is read with 48 points in 6 groups of 8. Pass --points 48 --groups 8 --group-size 8.",
    );
    expect(groupingMismatch({ num_heads: '2' }, { ...point, groups: 6 })).toBeUndefined(); // an older checkpoint does not say
    expect(groupingMismatch(run.backbone, cfg)).toBeUndefined();
  });

  it('fingerprints data by its labels and a backbone by a few of its tensors', async () => {
    const a = await dataIdentity(Int32Array.from([0, 1, 2, 1]));
    expect(a).toEqual({ count: 4, labelsSha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect((await dataIdentity(Int32Array.from([0, 1, 1, 2]))).labelsSha256).not.toBe(a.labelsSha256);
    const read = async (name: string) => Float32Array.from({ length: 4 }, (_, i) => name.length + i);
    const fp = await backboneSha256(read);
    expect(fp).toMatch(/^[0-9a-f]{64}$/);
    expect(await backboneSha256(async (n) => (n === 'norm.bias' ? new Float32Array(4) : read(n)))).not.toBe(fp);
  });
});
