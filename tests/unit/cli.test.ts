// The command line as a user runs it: `npm run clora -- …` in a child process, on files.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bytesSource, openSafetensors, writeSafetensors } from '../../src/io/safetensors';
import { maxRelError } from '../reference/ops';

const root = new URL('../../', import.meta.url).pathname;

function clora(args: string[], env: Record<string, string> = {}): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync('npm', ['run', '--silent', 'clora', '--', ...args], { cwd: root, encoding: 'utf8', timeout: 300_000, env: { ...process.env, ...env } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

async function open(path: string) {
  return openSafetensors(bytesSource(new Uint8Array(readFileSync(path)), path));
}

describe('npm run clora -- forward', () => {
  it('reproduces PyTorch logits from a timm safetensors file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'clora-cli-'));
    const fixturePath = join(root, 'tests/fixtures/vit_p4_t17.safetensors');
    const fixture = await open(fixturePath);
    const pixels = fixture.tensors.get('input.pixel_values')!;
    writeFileSync(join(dir, 'x.safetensors'), writeSafetensors([{ name: 'pixel_values', shape: pixels.shape, data: await fixture.readF32('input.pixel_values') }]));
    const r = clora(['forward', '--model', fixturePath, '--input', join(dir, 'x.safetensors'), '--output', join(dir, 'y.safetensors')]);
    expect(r.stderr).toMatch(/wrote logits \[2, 5\]/);
    expect(r.stderr).toMatch(/^device: .+, emulated \(.+\) profile$/m);
    expect(r.code).toBe(0);
    const out = await open(join(dir, 'y.safetensors'));
    expect(out.tensors.get('logits')!.shape).toEqual([2, 5]);
    expect(maxRelError(await out.readF32('logits'), await fixture.readF32('output.logits'))).toBeLessThanOrEqual(1e-4);
  });

  it('explains bad input in one sentence and exits non-zero', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'clora-cli-'));
    writeFileSync(join(dir, 'model.bin'), Buffer.from([0x80, 0x02, 0x7d, 0x71, 0x00]));
    writeFileSync(join(dir, 'x.safetensors'), writeSafetensors([{ name: 'pixel_values', shape: [1, 3, 8, 8], data: new Float32Array(192) }]));
    const pth = clora(['forward', '--model', join(dir, 'model.bin'), '--input', join(dir, 'x.safetensors'), '--output', join(dir, 'y.safetensors')]);
    expect(pth.code).toBe(1);
    expect(pth.stderr).toMatch(/error: .*PyTorch/);
    const wrongSize = clora(['forward', '--model', join(root, 'tests/fixtures/vit_p4_t17.safetensors'), '--input', join(dir, 'x.safetensors'), '--output', join(dir, 'y.safetensors')]);
    expect(wrongSize.code).toBe(1);
    expect(wrongSize.stderr).toMatch(/pixel_values .* is \[1, 3, 8, 8\]; this model takes \[N, 3, 16, 16\]/);
    const missing = clora(['forward', '--model', 'nowhere.safetensors', '--input', join(dir, 'x.safetensors'), '--output', 'y']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/--model nowhere\.safetensors: no such file, and it is neither a URL nor a known model id/);
    const noInput = clora(['forward', '--model', 'nowhere.safetensors', '--input', join(dir, 'absent.safetensors'), '--output', 'y']);
    expect(noInput.stderr).toMatch(/absent\.safetensors: no such file\./);
  });
});

describe('npm run clora -- device', () => {
  it('reports the adapter, its profile and the programs it picks for ViT-B/16; CLORA_DEVICE_PROFILE forces another profile, and a wrong name is refused', () => {
    const json = clora(['device', '--json']);
    expect(json.code).toBe(0);
    const report = JSON.parse(json.stdout) as { adapter: string; profile: { kind: string }; features: string[]; vitB16Step: { work: string; program: string }[] };
    expect(report.profile.kind).toBe('emulated');
    expect(report.adapter.length).toBeGreaterThan(0);
    expect(report.vitB16Step.find((p) => p.work === 'attention forward')?.program).toBe('forward 16 rows × 32');

    const forced = clora(['device'], { CLORA_DEVICE_PROFILE: 'discrete' });
    expect(forced.code).toBe(0);
    expect(forced.stdout).toMatch(/^profile: discrete \(discrete, set by CLORA_DEVICE_PROFILE\)$/m);
    expect(forced.stdout).toMatch(/attention forward \[384, 197, 64\] +forward 32 rows × 32/);

    const wrong = clora(['device'], { CLORA_DEVICE_PROFILE: 'fast' });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/Unknown device profile "fast": use emulated, integrated, discrete/);
  });
});
