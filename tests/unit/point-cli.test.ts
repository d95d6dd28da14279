// The command line on point backbones (clora-spec §4): forward from .safetensors and genuine torch.save .pth
// files against the PyTorch golden logits, train → eval → export on a folder of point files, the grouping
// options, the refusals a user can run into, and `pack` (a data set as train reads it, as one tensor file).
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main';
import { loadFolderDataset } from '../../src/data/load-node';
import { loadPointFolderDataset } from '../../src/data/points/load-node';
import { imageBackbone, readBackboneMeta } from '../../src/nn/backbone-meta';
import { bytesSource, openSafetensors, writeSafetensors, type SafetensorsFile } from '../../src/io/safetensors';
import { Rng } from '../../src/train/rng';
import { gpu } from '../helpers/gpu';
import { maxRelError } from '../reference/ops';

const root = new URL('../../', import.meta.url).pathname;
const golden = join(root, 'tests/fixtures/points/points_p64_g8_k8.safetensors');
const pth = (name: string): string => join(root, `tests/fixtures/points/pth/${name}.pth`);
const backbone = join(root, 'tests/fixtures/train_points/backbone.safetensors');
// The golden file carries no metadata a .pth would: the grouping comes as options.
const GOLDEN_OPTIONS = ['--heads', '3', '--points', '64', '--groups', '8', '--group-size', '8'];

async function clora(args: string[]): Promise<{ code: number; stderr: string; stdout: string }> {
  let stderr = '';
  let stdout = '';
  const err = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => ((stderr += String(chunk)), true));
  const out = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => ((stdout += String(chunk)), true));
  try {
    return { code: await main(args), stderr, stdout };
  } finally {
    err.mockRestore();
    out.mockRestore();
  }
}

async function open(path: string): Promise<SafetensorsFile> {
  return openSafetensors(bytesSource(new Uint8Array(readFileSync(path)), path));
}

describe('forward on a point backbone', () => {
  it('from .safetensors and from torch.save .pth files (f32, f16), the golden logits', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'clora-points-'));
    const file = await open(golden);
    const input = join(dir, 'points.safetensors');
    writeFileSync(input, writeSafetensors([{ name: 'points', shape: [2, 64, 3], data: await file.readF32('input.points') }]));
    const expected = await file.readF32('output.logits');
    const cases: [string, string[], number][] = [
      [golden, [], 1e-4],
      [pth('finetune_f32'), GOLDEN_OPTIONS, 1e-4],
      [pth('finetune_f16'), GOLDEN_OPTIONS, 2e-2],
    ];
    for (const [model, options, tol] of cases) {
      const out = join(dir, 'logits.safetensors');
      const r = await clora(['forward', '--model', model, ...options, '--input', input, '--output', out]);
      expect(r.stderr, model).toMatch(/wrote logits \[2, 5\]/);
      expect(maxRelError(await (await open(out)).readF32('logits'), expected), model).toBeLessThanOrEqual(tol);
    }
  });

  it('refuses what cannot work, saying why', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'clora-points-'));
    const images = join(dir, 'pixels.safetensors');
    writeFileSync(images, writeSafetensors([{ name: 'pixel_values', shape: [1, 3, 8, 8], data: new Float32Array(192) }]));
    const few = join(dir, 'few.safetensors');
    writeFileSync(few, writeSafetensors([{ name: 'points', shape: [1, 5, 3], data: new Float32Array(15) }]));
    const cases: [string[], RegExp][] = [
      [['--model', golden, '--input', images], /has no "points" tensor, which this point backbone reads/],
      [['--model', golden, '--input', few], /clouds of 5 points; this backbone makes 8 groups of 8 and needs at least 8 points per cloud/],
      [['--model', golden, '--groups', '100', '--input', few], /100 groups cannot be chosen from 64 points/],
      [['--model', pth('pretrain_style'), ...GOLDEN_OPTIONS, '--input', few], /pre-training checkpoint/],
    ];
    for (const [args, message] of cases) {
      const r = await clora(['forward', ...args, '--output', join(dir, 'y.safetensors')]);
      expect(r.code, args.join(' ')).toBe(1);
      expect(r.stderr, args.join(' ')).toMatch(message);
    }
  });
});

/** Two classes of point files: noisy spheres (.xyz) and boxes (.ply), more points than the backbone's 48. */
function pointFolder(): string {
  const dir = mkdtempSync(join(tmpdir(), 'clora-point-folder-'));
  const rng = new Rng(7);
  for (const name of ['balls', 'boxes']) mkdirSync(join(dir, name));
  for (let i = 0; i < 4; i++) {
    const ball = Array.from({ length: 100 }, () => {
      const v = [rng.normal(), rng.normal(), rng.normal()];
      const r = Math.hypot(...v);
      return v.map((c) => (c / r).toFixed(5)).join(' ');
    });
    writeFileSync(join(dir, 'balls', `${i}.xyz`), `${ball.join('\n')}\n`);
    const box = Array.from({ length: 90 }, () => [rng.uniform(-1, 1), rng.uniform(-0.5, 0.5), rng.uniform(-0.2, 0.2)].map((c) => c.toFixed(5)).join(' '));
    writeFileSync(join(dir, 'boxes', `${i}.ply`), `ply\nformat ascii 1.0\nelement vertex 90\nproperty float x\nproperty float y\nproperty float z\nend_header\n${box.join('\n')}\n`);
  }
  writeFileSync(join(dir, 'boxes', 'broken.ply'), 'ply\nformat ascii 1.0\nelement vertex 10\nproperty float x\nend_header\n1\n');
  return dir;
}

describe('train, eval and export on a folder of point files', () => {
  it('CLoRA trains, evaluates, and exports PEFT factors and a merged model that reproduces backbone + adapter', async () => {
    const data = pointFolder();
    const dir = mkdtempSync(join(tmpdir(), 'clora-points-out-'));
    const adapter = join(dir, 'adapter.safetensors');
    const r = await clora(['train', '--model', backbone, '--data', data, '--method', 'clora', '--rank', '4', '--spaces', '2', '--steps', '3', '--batch-size', '4', '--augment', '--rotate', '--out', adapter]);
    expect(r.stderr).toMatch(/skipped .*broken\.ply: /);
    expect(r.stderr).toMatch(/training clora on 8 point clouds of 2 classes/);
    expect(r.code).toBe(0);
    const saved = await open(adapter);
    expect(saved.metadata).toMatchObject({ format: 'clora', num_points: '48', num_groups: '8', group_size: '8', classes: '["balls","boxes"]' });
    expect(saved.tensors.get('head.weight')!.shape).toEqual([2, 48]);
    expect(saved.tensors.get('clora.core.blocks.1.attn.v')!.shape).toEqual([2, 4, 4]);

    const e = await clora(['eval', '--model', backbone, '--adapter', adapter, '--data', data, '--json']);
    expect(e.code).toBe(0);
    expect(JSON.parse(e.stdout)).toMatchObject({ count: 8, classes: ['balls', 'boxes'] });

    const peft = join(dir, 'peft');
    expect((await clora(['export', '--model', backbone, '--adapter', adapter, '--format', 'peft', '--out', peft])).code).toBe(0);
    const config = JSON.parse(readFileSync(join(peft, 'adapter_config.json'), 'utf8')) as { target_modules: string[]; auto_mapping: { base_model_class: string } };
    expect(config.target_modules).toEqual(['blocks.blocks.0.attn.qkv', 'blocks.blocks.1.attn.qkv']);
    expect(config.auto_mapping.base_model_class).toBe('PointTransformer');
    const merged = join(dir, 'merged.safetensors');
    expect((await clora(['export', '--model', backbone, '--adapter', adapter, '--format', 'merged', '--out', merged])).code).toBe(0);

    // The merged qkv weight is the backbone's plus PEFT's lora_B·lora_A; the rest is the backbone's own.
    const [m, b, factors] = [await open(merged), await open(backbone), await open(join(peft, 'adapter_model.safetensors'))];
    const key = 'blocks.blocks.1.attn.qkv';
    const A = await factors.readF32(`base_model.model.${key}.lora_A.weight`);
    const B = await factors.readF32(`base_model.model.${key}.lora_B.weight`);
    const [out, R] = factors.tensors.get(`base_model.model.${key}.lora_B.weight`)!.shape as [number, number];
    const [w0, w1] = [await b.readF32(`${key}.weight`), await m.readF32(`${key}.weight`)];
    let worst = 0;
    for (let o = 0; o < out; o++)
      for (let i = 0; i < 24; i++) {
        let delta = 0;
        for (let k = 0; k < R; k++) delta += B[o * R + k]! * A[k * 24 + i]!;
        worst = Math.max(worst, Math.abs(w1[o * 24 + i]! - w0[o * 24 + i]! - delta));
      }
    expect(worst).toBeLessThan(1e-6);
    expect([...(await m.readF32('encoder.second_conv.1.running_var'))]).toEqual([...(await b.readF32('encoder.second_conv.1.running_var'))]);

    // The merged model alone gives the logits of backbone + adapter (inference at the frozen backbone's cost).
    const input = join(dir, 'x.safetensors');
    const cloud = Array.from({ length: 2 * 48 * 3 }, (_, i) => Math.sin(i * 0.37) * 0.8);
    writeFileSync(input, writeSafetensors([{ name: 'points', shape: [2, 48, 3], data: Float32Array.from(cloud) }]));
    await clora(['forward', '--model', backbone, '--adapter', adapter, '--input', input, '--output', join(dir, 'a.safetensors')]);
    await clora(['forward', '--model', merged, '--input', input, '--output', join(dir, 'b.safetensors')]);
    const [la, lb] = [await (await open(join(dir, 'a.safetensors'))).readF32('logits'), await (await open(join(dir, 'b.safetensors'))).readF32('logits')];
    expect(maxRelError(lb, la)).toBeLessThanOrEqual(1e-4);

    const onnx = await clora(['export', '--model', backbone, '--adapter', adapter, '--format', 'onnx', '--out', join(dir, 'm.onnx')]);
    expect(onnx.code).toBe(1);
    expect(onnx.stderr).toMatch(/is a point transformer \(Point-MAE\); ONNX export takes image backbones/);
  });

  it('notes an option that replaces the backbone\'s setting, and refuses image options on points', async () => {
    const data = pointFolder();
    const out = join(mkdtempSync(join(tmpdir(), 'clora-points-out-')), 'a.safetensors');
    const r = await clora(['train', '--model', backbone, '--data', data, '--method', 'head', '--groups', '6', '--points', '40', '--steps', '1', '--batch-size', '8', '--out', out]);
    expect(r.stderr).toMatch(/note: --points 40 replaces the backbone's num_points 48\./);
    expect(r.stderr).toMatch(/note: --groups 6 replaces the backbone's num_groups 8\./);
    expect(r.code).toBe(0);
    expect((await open(out)).metadata).toMatchObject({ num_points: '40', num_groups: '6' });
    const images = await clora(['train', '--model', join(root, 'tests/fixtures/train/backbone.safetensors'), '--data', join(root, 'tests/fixtures/train/data.safetensors'), '--method', 'head', '--jitter', '--steps', '1', '--batch-size', '6', '--out', out]);
    expect(images.code).toBe(1);
    expect(images.stderr).toMatch(/--jitter augments point clouds; .* is an image backbone/);
  });

  it('a full run saves its state with point augmentation and resumes; BatchNorm statistics stay the backbone\'s', async () => {
    const data = pointFolder();
    const dir = mkdtempSync(join(tmpdir(), 'clora-points-resume-'));
    const [state, first, second] = ['state.safetensors', 'a.safetensors', 'b.safetensors'].map((f) => join(dir, f)) as [string, string, string];
    const common = ['--model', backbone, '--data', data, '--batch-size', '4', '--seed', '3'];
    const r1 = await clora(['train', ...common, '--method', 'full', '--steps', '1', '--augment', '--jitter', '--save-state', state, '--out', first]);
    expect(r1.code, r1.stderr).toBe(0);
    const r2 = await clora(['train', ...common, '--resume', state, '--steps', '2', '--out', second]);
    expect(r2.stderr).toMatch(/from step 1/);
    expect(r2.code, r2.stderr).toBe(0);
    const rotate = await clora(['train', ...common, '--resume', state, '--steps', '2', '--rotate', '--out', second]);
    expect(rotate.stderr).toMatch(/--rotate differs from the checkpoint/);
    const [a, b, base] = [await open(first), await open(second), await open(backbone)];
    const key = 'encoder.first_conv.1.running_mean';
    expect([...(await b.readF32(key))]).toEqual([...(await base.readF32(key))]);
    const w = 'blocks.blocks.0.attn.qkv.weight';
    expect(maxRelError(await b.readF32(w), await a.readF32(w))).toBeGreaterThan(0);
  });
});

describe('pack: a data set as train reads it, in one tensor file (what the PyTorch companion trains on)', () => {
  it('a folder of point files: the clouds the folder loader gives, bit for bit, with labels and classes', async () => {
    const data = pointFolder();
    const out = join(mkdtempSync(join(tmpdir(), 'clora-pack-')), 'points.safetensors');
    const r = await clora(['pack', '--model', backbone, '--points', '64', '--data', data, '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/skipped .*broken\.ply: /);
    expect(r.stderr).toMatch(/packed 8 point clouds of 2 classes \[64, 3\] into /);
    const expected = await loadPointFolderDataset(data, { points: 64 });
    const packed = await open(out);
    expect(packed.tensors.get('points')!.shape).toEqual([8, 64, 3]);
    expect(Buffer.from((await packed.readF32('points')).buffer).equals(Buffer.from(expected.inputs.buffer))).toBe(true);
    expect([...(await packed.readInt('labels'))]).toEqual([...expected.labels]);
    expect(packed.metadata).toMatchObject({ classes: '["balls","boxes"]', num_points: '64', packed_by: 'clora-web pack' });
  });

  it('a folder of images: pixel_values preprocessed on the GPU as training preprocesses them', async () => {
    const data = mkdtempSync(join(tmpdir(), 'clora-pack-images-'));
    for (const name of ['bag', 'sandal']) {
      mkdirSync(join(data, name));
      for (const f of ['001.png', '002.png']) writeFileSync(join(data, name, f), readFileSync(join(root, 'public/samples/fashion', name, f)));
    }
    const out = join(data, 'pixels.safetensors');
    const model = join(root, 'public/models/vit-mnist.safetensors');
    expect((await clora(['pack', '--model', model, '--data', data, '--out', out])).code).toBe(0);
    const meta = readBackboneMeta(await open(model), { spec: model });
    const expected = await loadFolderDataset(await gpu(), data, imageBackbone(meta, 'pack').preprocess);
    const packed = await open(out);
    expect(packed.tensors.get('pixel_values')!.shape).toEqual([4, 3, 28, 28]);
    expect(maxRelError(await packed.readF32('pixel_values'), expected.inputs as Float32Array)).toBe(0);
    expect([...(await packed.readInt('labels'))]).toEqual([0, 0, 1, 1]);
    expect(packed.metadata.classes).toBe('["bag","sandal"]');
  });

  it('refuses a folder with nothing usable in it', async () => {
    const data = mkdtempSync(join(tmpdir(), 'clora-pack-empty-'));
    mkdirSync(join(data, 'junk'));
    writeFileSync(join(data, 'junk', 'a.ply'), 'ply\nformat ascii 1.0\nelement vertex 10\nproperty float x\nend_header\n1\n');
    const r = await clora(['pack', '--model', backbone, '--data', data, '--out', join(data, 'x.safetensors')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/holds no usable samples: nothing to pack/);
  });
});
