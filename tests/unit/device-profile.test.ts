// The device profile (src/gpu/profile.ts): how adapters are classified, and which programs each profile picks
// for a ViT-B/16 training step (the pure choice functions; every program is checked for correctness on the
// emulator by forcing the profile in the kernel test files).
import { describe, expect, it } from 'vitest';
import type { AdapterDescription } from '../../src/gpu/context';
import { classifyAdapter, DEVICE_KINDS, parseDeviceKind, profileFor, type DeviceKind } from '../../src/gpu/profile';
import { vitStepPrograms, type VitStepShape } from '../../src/kernels/vit-programs';
import { gpu } from '../helpers/gpu';

const adapter = (vendor: string, architecture = '', description = '', isFallback = false): AdapterDescription => ({
  vendor,
  architecture,
  device: '',
  description,
  isFallback,
  subgroupMinSize: 0,
  subgroupMaxSize: 0,
});

describe('device classification', () => {
  it('tells emulators, integrated and discrete GPUs apart from the adapter info', () => {
    const cases: [AdapterDescription, DeviceKind][] = [
      [adapter('mesa', 'software', 'llvmpipe: Mesa 25.0.7', true), 'emulated'],
      [adapter('google', 'swiftshader'), 'emulated'],
      [adapter('microsoft', '', 'Microsoft Basic Render Driver'), 'emulated'],
      [adapter('nvidia', 'ampere', 'NVIDIA GeForce RTX 3080'), 'discrete'],
      [adapter('nvidia', 'ampere', 'NVIDIA Jetson Orin'), 'integrated'],
      [adapter('intel', 'gen-12lp', 'Intel(R) Iris(R) Xe Graphics'), 'integrated'],
      [adapter('intel', 'xe-hpg', 'Intel(R) Arc(TM) A770 Graphics'), 'discrete'],
      [adapter('amd', 'rdna-3', 'AMD Radeon RX 7900 XTX'), 'discrete'],
      [adapter('amd', 'rdna-3', 'AMD Radeon 780M'), 'integrated'],
      [adapter('amd', 'gcn-5', 'AMD Radeon(TM) Graphics'), 'integrated'],
      [adapter('apple', 'common-3', 'Apple M2'), 'integrated'],
      [adapter('arm', 'valhall'), 'integrated'],
      [adapter('qualcomm', 'adreno-7xx'), 'integrated'],
      [adapter('', ''), 'integrated'],
    ];
    for (const [a, kind] of cases) {
      const got = classifyAdapter(a);
      expect(got.kind, `${a.vendor} ${a.architecture} ${a.description}`).toBe(kind);
      expect(got.reason.length).toBeGreaterThan(5);
    }
  });

  it('gives the emulator here the emulated profile, with the choices measured fastest on it', async () => {
    const ctx = await gpu();
    expect(ctx.profile).toMatchObject({ kind: 'emulated', matmulGroups: 32, thinGroups: 64, branchIn: 'rows', attention: 'by-length', attentionWorkgroupBytes: 16384 });
  });

  it('names the profiles a setting may force, and refuses others in a sentence', () => {
    for (const kind of DEVICE_KINDS) expect(parseDeviceKind(kind)).toBe(kind);
    expect(() => parseDeviceKind('gpu')).toThrow(/Unknown device profile "gpu": use emulated, integrated, discrete/);
  });
});

describe('the programs each profile picks for a ViT-B/16 training step', () => {
  const vitB = { dim: 768, mlpDim: 3072, heads: 12, tokens: 197, classes: 10 };
  const table = (kind: DeviceKind, s: VitStepShape): Record<string, string> =>
    Object.fromEntries(vitStepPrograms(s, profileFor(kind, 32768)).map((r) => [`${r.work} ${r.shape}`, r.program]));

  // Batch 32 with CLoRA's default bottleneck p·r = 32: every product fills every device, so the profiles differ
  // only in attention (16-row tiles in 16 KiB on emulators, 32-row tiles in 32 KiB on GPUs).
  const batch32 = (attention: [string, string, string]): Record<string, string> => ({
    'qkv forward 6304×768×2304': 'tiled_64x64',
    'qkv backward dX 6304×2304×768': 'tiled_64x64',
    'attention forward [384, 197, 64]': attention[0],
    'attention backward dK, dV [384, 197, 64]': attention[1],
    'attention backward dQ [384, 197, 64]': attention[2],
    'proj forward 6304×768×768': 'tiled_64x64',
    'proj backward dX 6304×768×768': 'tiled_64x64',
    'fc1 forward 6304×768×3072': 'tiled_64x64',
    'fc1 backward dX 6304×3072×768': 'tiled_64x64',
    'fc2 forward 6304×3072×768': 'tiled_64x64',
    'fc2 backward dX 6304×768×3072': 'tiled_64x64',
    'adapter X·D, core 6304×768×32': 'lowrank_in',
    'adapter W·U 6304×32×768': 'lowrank_out',
    'adapter bank gradients 32×6304×768': 'weight_grad',
    'head forward 32×768×10': 'thin_splitk, 3 K chunks',
    'head weight gradient 10×32×768': 'thin',
  });
  const emulatorAttention: [string, string, string] = ['forward 16 rows × 32', 'backward_dkdv 16 rows × 8', 'backward_dq 16 rows × 8'];
  const gpuAttention: [string, string, string] = ['forward 32 rows × 32', 'backward_dkdv 32 rows × 16', 'backward_dq 32 rows × 16'];

  it('batch 32, CLoRA r8 p4', () => {
    const s: VitStepShape = { ...vitB, batch: 32, bottleneck: 32 };
    expect(table('emulated', s)).toEqual(batch32(emulatorAttention));
    expect(table('integrated', s)).toEqual(batch32(gpuAttention));
    expect(table('discrete', s)).toEqual(batch32(gpuAttention));
  });

  // One image with LoRA r8 (p·r = 8): products too small to fill a GPU split K across workgroups (more chunks
  // the larger the device), and the rank-8 bottleneck takes the coalesced split-K kernel on GPUs.
  it('batch 1, LoRA r8', () => {
    const s: VitStepShape = { ...vitB, batch: 1, bottleneck: 8 };
    const common = {
      'attention forward [12, 197, 64]': 'forward 32 rows × 32',
      'attention backward dK, dV [12, 197, 64]': 'backward_dkdv 32 rows × 16',
      'attention backward dQ [12, 197, 64]': 'backward_dq 32 rows × 16',
      'adapter X·D, core 197×768×8': 'lowrank_in_split',
      'adapter W·U 197×8×768': 'lowrank_out_rows',
      'adapter bank gradients 8×197×768': 'weight_grad_rows',
      'head forward 1×768×10': 'thin_splitk, 3 K chunks',
      'head weight gradient 10×1×768': 'thin',
    };
    expect(table('emulated', s)).toEqual({
      'qkv forward 197×768×2304': 'tiled_64x64',
      'qkv backward dX 197×2304×768': 'tiled_64x64',
      'attention forward [12, 197, 64]': 'forward 16 rows × 32',
      'attention backward dK, dV [12, 197, 64]': 'backward_dkdv 16 rows × 8',
      'attention backward dQ [12, 197, 64]': 'backward_dq 16 rows × 8',
      'proj forward 197×768×768': 'tiled_64x64',
      'proj backward dX 197×768×768': 'tiled_64x64',
      'fc1 forward 197×768×3072': 'tiled_64x64',
      'fc1 backward dX 197×3072×768': 'tiled_64x64',
      'fc2 forward 197×3072×768': 'tiled_64x64',
      'fc2 backward dX 197×768×3072': 'tiled_64x64',
      'adapter X·D, core 197×768×8': 'lowrank_in_rows',
      'adapter W·U 197×8×768': 'lowrank_out_rows',
      'adapter bank gradients 8×197×768': 'weight_grad_rows',
      'head forward 1×768×10': 'thin_splitk, 3 K chunks',
      'head weight gradient 10×1×768': 'thin',
    });
    expect(table('integrated', s)).toEqual({
      ...common,
      'qkv forward 197×768×2304': 'tiled_64x64',
      'qkv backward dX 197×2304×768': 'tiled_64x64_splitk, 3 K chunks',
      'proj forward 197×768×768': 'tiled_64x64_splitk, 3 K chunks',
      'proj backward dX 197×768×768': 'tiled_64x64_splitk, 3 K chunks',
      'fc1 forward 197×768×3072': 'tiled_64x64',
      'fc1 backward dX 197×3072×768': 'tiled_64x64_splitk, 3 K chunks',
      'fc2 forward 197×3072×768': 'tiled_64x64_splitk, 3 K chunks',
      'fc2 backward dX 197×768×3072': 'tiled_64x64',
    });
    expect(table('discrete', s)).toEqual({
      ...common,
      'qkv forward 197×768×2304': 'tiled_64x64_splitk, 3 K chunks',
      'qkv backward dX 197×2304×768': 'tiled_64x64_splitk, 9 K chunks',
      'proj forward 197×768×768': 'tiled_64x64_splitk, 3 K chunks',
      'proj backward dX 197×768×768': 'tiled_64x64_splitk, 3 K chunks',
      'fc1 forward 197×768×3072': 'tiled_64x64_splitk, 3 K chunks',
      'fc1 backward dX 197×3072×768': 'tiled_64x64_splitk, 11 K chunks',
      'fc2 forward 197×3072×768': 'tiled_64x64_splitk, 11 K chunks',
      'fc2 backward dX 197×768×3072': 'tiled_64x64_splitk, 3 K chunks',
    });
  });

  it('a GPU with only 16 KiB of workgroup memory streams 16 keys per 32-row forward tile and keeps 16-row backward tiles', () => {
    const rows = vitStepPrograms({ ...vitB, batch: 1, bottleneck: 8 }, profileFor('discrete', 16384));
    expect(rows.filter((r) => r.work.startsWith('attention')).map((r) => r.program)).toEqual(['forward 32 rows × 16', 'backward_dkdv 16 rows × 8', 'backward_dq 16 rows × 8']);
  });
});
