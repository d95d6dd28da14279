// Training checkpoints written by the engine itself, for the tests that move a run between the engine and
// PyTorch (python/tests/test_checkpoint.py) and keep this engine honest about them
// (tests/unit/checkpoint-resume.test.ts): `npx tsx tools/make-checkpoint-fixtures.ts` from the repository
// root rewrites tests/fixtures/checkpoint/ (a few seconds on lavapipe).
//
// Per case, on the exactness fixtures' backbone and data (6 images, 3 classes): `train ... --steps 2
// --save-state <case>.step2.safetensors`, then `train --resume <case>.step2.safetensors --steps 5
// --save-state <case>.step5.safetensors` (the engine's own next three steps). Batches of 4 out of 6 with
// shuffling, so the resumed steps cross an epoch boundary and draw a new epoch order; warm-up then cosine.
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { main } from '../src/cli/main';

// Relative paths (run from the repository root): they end up in the files' metadata.
const out = 'tests/fixtures/checkpoint';
const train = 'tests/fixtures/train';
const common = ['--model', join(train, 'backbone.safetensors'), '--data', join(train, 'data.safetensors')];

/** Case name → the options of its first run (the resumed run gives only --resume and --steps). */
export const CHECKPOINT_CASES: Record<string, string[]> = {
  clora_adamw: ['--method', 'clora', '--rank', '4', '--spaces', '2', '--targets', 'q,v,fc2', '--scale', '1.5', '--sade-weight', '0.25', '--dropout', '0', '--batch-size', '4', '--lr', '0.01', '--weight-decay', '0.05', '--warmup', '2', '--label-smoothing', '0.1', '--seed', '7'],
  lora_adamw: ['--method', 'lora', '--rank', '3', '--targets', 'k,proj', '--dropout', '0', '--batch-size', '4', '--micro-batch', '2', '--lr', '0.01', '--warmup', '2', '--seed', '11'],
  full_sgd: ['--method', 'full', '--optimizer', 'sgd', '--batch-size', '4', '--lr', '0.05', '--weight-decay', '0.05', '--warmup', '2', '--seed', '5'],
  head_adamw: ['--method', 'head', '--batch-size', '4', '--lr', '0.02', '--warmup', '2', '--seed', '3', '--augment'],
};

async function run(args: string[]): Promise<void> {
  const code = await main(args);
  if (code !== 0) throw new Error(`clora ${args.join(' ')} exited with ${code}`);
}

if (process.argv[1] !== undefined && /make-checkpoint-fixtures\.ts$/.test(process.argv[1])) {
  process.chdir(new URL('../', import.meta.url).pathname);
  mkdirSync(out, { recursive: true });
  for (const [name, options] of Object.entries(CHECKPOINT_CASES)) {
    const step2 = join(out, `${name}.step2.safetensors`);
    await run(['train', ...common, ...options, '--steps', '2', '--out', join(out, '.scratch.safetensors'), '--save-state', step2]);
    await run(['train', ...common, '--resume', step2, '--steps', '5', '--out', join(out, '.scratch.safetensors'), '--save-state', join(out, `${name}.step5.safetensors`)]);
  }
  rmSync(join(out, '.scratch.safetensors'), { force: true });
}
