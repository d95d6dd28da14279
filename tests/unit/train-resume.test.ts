// `train --save-state` / `--resume`: a run saved and resumed is the run that never stopped (tensors, AdamW
// moments, the sampler's epoch order and Rng), the committed engine checkpoints (tests/fixtures/checkpoint,
// made by tools/make-checkpoint-fixtures.ts, which the PyTorch companion's tests resume too) still resume to
// the committed next steps, and a checkpoint that does not fit is refused with a sentence.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main';
import { bytesSource, openSafetensors, writeSafetensors, type SafetensorsFile } from '../../src/io/safetensors';
import { CHECKPOINT_CASES } from '../../tools/make-checkpoint-fixtures';

const root = new URL('../../', import.meta.url).pathname;
const backbone = join(root, 'tests/fixtures/train/backbone.safetensors');
const data = join(root, 'tests/fixtures/train/data.safetensors');
const fixtures = join(root, 'tests/fixtures/checkpoint');
const run = ['train', '--model', backbone, '--data', data];

async function clora(args: string[]): Promise<{ code: number; stderr: string }> {
  let stderr = '';
  const err = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => ((stderr += String(chunk)), true));
  try {
    return { code: await main(args), stderr };
  } finally {
    err.mockRestore();
  }
}

async function open(path: string): Promise<SafetensorsFile> {
  return openSafetensors(bytesSource(new Uint8Array(readFileSync(path)), path));
}

/** max |a − b| over every float tensor / the largest change from `start`; and whether the samplers agree. */
async function compare(a: string, b: string, start: string): Promise<{ ratio: number; sampler: boolean }> {
  const [fa, fb, fs] = await Promise.all([open(a), open(b), open(start)]);
  let worst = 0;
  let change = 0;
  for (const name of fb.names().filter((n) => n !== 'sampler.order')) {
    const [x, y, s] = await Promise.all([fa.readF32(name), fb.readF32(name), fs.readF32(name)]);
    for (let i = 0; i < y.length; i++) {
      worst = Math.max(worst, Math.abs(x[i]! - y[i]!));
      change = Math.max(change, Math.abs(y[i]! - s[i]!));
    }
  }
  const order = (f: SafetensorsFile) => f.readInt('sampler.order').then((o) => [...o].join());
  const sampler = (await order(fa)) === (await order(fb)) && fa.metadata.sampler === fb.metadata.sampler && fa.metadata.step === fb.metadata.step;
  return { ratio: worst / change, sampler };
}

describe('train --save-state / --resume', () => {
  const dir = mkdtempSync(join(tmpdir(), 'clora-resume-'));
  const at = (name: string) => join(dir, name);

  it('a run saved at step 2 and resumed to 5 is the run that never stopped', async () => {
    const options = CHECKPOINT_CASES.clora_adamw!;
    expect((await clora([...run, ...options, '--steps', '5', '--out', at('whole.safetensors'), '--save-state', at('whole5.safetensors')])).code).toBe(0);
    expect((await clora([...run, ...options, '--steps', '2', '--out', at('a2.safetensors'), '--save-state', at('s2.safetensors')])).code).toBe(0);
    const resumed = await clora([...run, '--resume', at('s2.safetensors'), '--steps', '5', '--out', at('a5.safetensors'), '--save-state', at('s5.safetensors')]);
    expect(resumed.code).toBe(0);
    expect(resumed.stderr).toMatch(/training clora on 6 images of 3 classes from step 2: 5 steps/);
    expect(resumed.stderr).toMatch(/wrote the training state \(step 5\)/);
    const { ratio, sampler } = await compare(at('s5.safetensors'), at('whole5.safetensors'), at('s2.safetensors'));
    expect(ratio).toBeLessThanOrEqual(1e-6);
    expect(sampler).toBe(true);
    expect(JSON.parse((await open(at('s5.safetensors'))).metadata.history!)).toHaveLength(5);
  });

  for (const name of Object.keys(CHECKPOINT_CASES)) {
    it(`the committed ${name} checkpoint still resumes to the committed next steps`, async () => {
      const out = at(`${name}.5.safetensors`);
      expect((await clora([...run, '--resume', join(fixtures, `${name}.step2.safetensors`), '--steps', '5', '--out', at('x.safetensors'), '--save-state', out])).code).toBe(0);
      const { ratio, sampler } = await compare(out, join(fixtures, `${name}.step5.safetensors`), join(fixtures, `${name}.step2.safetensors`));
      expect(ratio).toBeLessThanOrEqual(1e-5);
      expect(sampler).toBe(true);
    });
  }

  it('refuses a checkpoint that does not fit the command, the data or the backbone', async () => {
    const step2 = join(fixtures, 'clora_adamw.step2.safetensors');
    const out = ['--out', at('r.safetensors')];
    const refused = async (args: string[], message: RegExp) => {
      const r = await clora(args);
      expect(r.code, args.join(' ')).toBe(1);
      expect(r.stderr).toMatch(message);
    };
    await refused([...run, '--resume', step2, '--lr', '0.02', ...out], /--lr 0\.02 differs from the checkpoint's 0\.01: a resumed run keeps its settings \(only --steps, --epochs, --micro-batch, --log-every and --precision may change\)/);
    await refused([...run, '--resume', step2, '--method', 'lora', ...out], /--method lora differs from the checkpoint's clora/);
    await refused([...run, '--resume', step2, '--steps', '2', ...out], /it is finished\. Pass --steps N with N > 2/);
    await refused([...run, '--resume', step2, '--init', step2, ...out], /Give --init or --resume, not both/);
    await refused([...run, '--resume', join(root, 'tests/fixtures/train/init_clora.safetensors'), ...out], /not a training checkpoint.*pass it to --init/);
    await refused([...run, '--resume', at('nothing.safetensors'), ...out], /no such checkpoint file/);
    const file = await open(data);
    const pixels = await file.readF32('pixel_values');
    const labels = await file.readInt('labels');
    writeFileSync(at('five.safetensors'), writeSafetensors([{ name: 'pixel_values', shape: [5, 3, 8, 8], data: pixels.subarray(0, 5 * 192) }, { name: 'labels', shape: [5], data: labels.subarray(0, 5) }], file.metadata));
    writeFileSync(at('swapped.safetensors'), writeSafetensors([{ name: 'pixel_values', shape: [6, 3, 8, 8], data: pixels }, { name: 'labels', shape: [6], data: labels.slice().reverse() }], file.metadata));
    await refused(['train', '--model', backbone, '--data', at('five.safetensors'), '--resume', step2, ...out], /trains on 6 images; --data holds 5/);
    await refused(['train', '--model', backbone, '--data', at('swapped.safetensors'), '--resume', step2, ...out], /not with the same labels in the same order/);
    const weights = await open(backbone);
    const tensors = await Promise.all(weights.names().map(async (n) => ({ name: n, shape: weights.tensors.get(n)!.shape, data: (await weights.readF32(n)).map((v) => (n === 'cls_token' ? v + 0.5 : v)) })));
    writeFileSync(at('other.safetensors'), writeSafetensors(tensors, weights.metadata));
    await refused(['train', '--model', at('other.safetensors'), '--data', data, '--resume', step2, ...out], /trained on another backbone .* than --model .*: their weights differ/);
    await refused([...run, '--heads', '1', '--resume', step2, ...out], /used 3 attention heads; this backbone is read with 1\. Pass --heads 3/);
  });
});
