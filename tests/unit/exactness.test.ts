// clora-spec §3's exactness rule: `train --steps K --batch-size N --no-shuffle --dropout 0 --warmup 0` on N
// samples must change every tensor as an independent PyTorch implementation does (tests/fixtures/train,
// made by tools/make_fixtures.py): max |ours − reference| ≤ 1e-4 × the largest |reference change|. §4: the
// same holds for a point backbone (tests/fixtures/train_points).
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main';
import { bytesSource, openSafetensors, type SafetensorsFile } from '../../src/io/safetensors';

const root = new URL('../../', import.meta.url).pathname;
const dirs = { vit: join(root, 'tests/fixtures/train'), points: join(root, 'tests/fixtures/train_points') };
const casesIn = (dir: string): string[] => readdirSync(dir).filter((f) => f.startsWith('expected_')).sort();

async function open(path: string): Promise<SafetensorsFile> {
  return openSafetensors(bytesSource(new Uint8Array(readFileSync(path)), path));
}

/** Splits the fixture's command line into arguments (no quoting is used in it). */
function argsOf(command: string, out: string): string[] {
  const words = command.split(/\s+/);
  const at = words.indexOf('train');
  return words.slice(at).map((w) => (w === 'OUT.safetensors' ? out : w.startsWith('tests/') ? join(root, w) : w));
}

describe('exactness against the PyTorch reference (clora-spec §3)', () => {
  it('covers every method with both optimizers: K = 1 and 3 on the ViT, K = 2 on the point backbone', () => {
    for (const method of ['clora', 'lora', 'head', 'full'])
      for (const opt of ['adamw', 'sgd']) {
        for (const k of [1, 3]) expect(casesIn(dirs.vit), `${method} ${opt} k${k}`).toContain(`expected_${method}_${opt}_k${k}.safetensors`);
        expect(casesIn(dirs.points), `points ${method} ${opt}`).toContain(`expected_${method}_${opt}_k2.safetensors`);
      }
  });

  for (const [backbone, dir] of Object.entries(dirs)) {
    for (const name of casesIn(dir)) {
      it(`${backbone}: ${name.replace(/^expected_|\.safetensors$/g, '')}`, async () => {
        const expected = await open(join(dir, name));
        const out = join(mkdtempSync(join(tmpdir(), 'clora-exact-')), 'adapter.safetensors');
        const code = await main(argsOf(expected.metadata.command!, out));
        expect(code).toBe(0);
        const ours = await open(out);
        const init = await open(join(root, expected.metadata.init!));
        const maxChange = Number(expected.metadata.max_abs_change);
        let worst = 0;
        let worstName = '';
        for (const tensor of expected.names().filter((n) => !/^(loss|logits)\./.test(n))) {
          const ref = await expected.readF32(tensor);
          const got = await ours.readF32(tensor);
          const start = await init.readF32(tensor);
          expect(got.length, tensor).toBe(ref.length);
          for (let i = 0; i < ref.length; i++) {
            // Compare changes (ours − init vs reference − init): the same difference, stated as the contract does.
            const err = Math.abs(got[i]! - start[i]! - (ref[i]! - start[i]!));
            if (err > worst) [worst, worstName] = [err, tensor];
          }
        }
        expect(worst / maxChange, `worst tensor ${worstName}`).toBeLessThanOrEqual(1e-4);
      });
    }
  }
});
