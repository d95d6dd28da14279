// `npm run bench:clora-step`: how much a CLoRA training step costs against a LoRA step at the same targets and
// rank (q,v, r 8; CLoRA p 4 with SADE 0.1, dropout 0.1 in both), on the bundled backbone (the CLI's default
// model) and on a ViT-B/16-shaped step (random weights: only the time matters). Steps are recorded the way the
// trainer records them and timed in interleaved rounds in one process (bench/step-ratio.ts); the ratio is the
// median over rounds of CLoRA's time over LoRA's in the same round. With the isolating variants (default;
// `--quick` leaves them out) it also times CLoRA without SADE and at p 2 and 1, and LoRA at rank p·r = 32 (the
// rank a CLoRA module reaches); `--profile` splits each variant's step by kernel family (bench/peer-profile.ts).
// Prints Markdown and writes JSON. A benchmark, not a test: on an emulated adapter absolute times mean little
// (the machine's load moves them); ratios from interleaved rounds are what count, and there CPU time, the
// emulated GPU's own work, moves less than wall time.
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { openImageBackbone } from '../src/cli/model-source';
import { adapterName, type GpuContext } from '../src/gpu/context';
import { createNodeGpuContext } from '../src/gpu/node';
import type { VitConfig } from '../src/nn/vit';
import { familyTable, profileFamilies, type FamilyTime, type ProfileClock } from './peer-profile';
import { seededLoraWeights, type Spread } from './peer-suite';
import { interleave, recordedStep, stepVariants, type RecordedStep, type VariantTime } from './step-ratio';

const USAGE = `npm run bench:clora-step -- [options]
  --quick              the test suite's form: 2 rounds of single steps, no isolating variants, batch 4 on the
                       bundled backbone, one ViT-B/16 block on 32×32 images (5 tokens)
  --rounds N           interleaved rounds (default 7)
  --shapes LIST        bundled,vit-b16 (default both)
  --batch N            images per step on the bundled backbone (default 32)
  --vit-b-batch N      images per step on the ViT-B/16 shape (default 1)
  --vit-b-depth N      blocks of the ViT-B/16 shape (default 2: the step's cost is per block; 12 is ViT-B)
  --vit-b-image N      image side of the ViT-B/16 shape, a multiple of 16 (default 224: 197 tokens)
  --no-isolate         only LoRA and CLoRA (no SADE-off, p 2, p 1 and LoRA r32 variants)
  --profile            each variant's step by kernel family (slow); in CPU milliseconds on an emulated adapter
                       (the GPU's work is this process's), in wall milliseconds on a GPU
  --out FILE           JSON results (default bench/results/clora-step.json)`;

const BUNDLED = 'public/models/vit-mnist.safetensors';
const CLASSES = 10;

interface ShapeResult {
  shape: string;
  cfg: VitConfig;
  batch: number;
  rounds: number;
  stepsPerSample: number;
  variants: VariantTime[];
  profiles?: { name: string; dispatches: number; replayMs: number; families: FamilyTime[] }[];
}

export interface CloraStepResult {
  adapter: string;
  loadBefore: number[];
  loadAfter: number[];
  shapes: ShapeResult[];
}

/** ViT-B/16's width, heads, MLP and patch; depth and resolution as given (the step's cost is per block and token). */
function vitB16(depth: number, imageSize: number): VitConfig {
  return { depth, dim: 768, heads: 12, patch: 16, imageSize, channels: 3, mlpDim: 3072, tokens: 1 + (imageSize / 16) ** 2, classes: 0 };
}

function whole(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a whole number ≥ 1 (got "${text}").`);
  return n;
}

async function measureShape(
  ctx: GpuContext,
  shape: string,
  cfg: VitConfig,
  read: (name: string) => Promise<Float32Array>,
  o: { batch: number; rounds: number; stepsPerSample: number; isolate: boolean; profile: boolean; clock: ProfileClock },
  log: (line: string) => void,
): Promise<ShapeResult> {
  const steps: RecordedStep[] = [];
  try {
    for (const v of stepVariants(o.isolate)) steps.push(await recordedStep(ctx, cfg, read, v, o.batch, CLASSES));
    log(`${shape}: ${steps.map((s) => `${s.variant.name} ${s.dispatches} dispatches`).join(', ')}`);
    const variants = await interleave(ctx, steps, { rounds: o.rounds, stepsPerSample: o.stepsPerSample, log: (l) => log(`${shape} ${l}`) });
    const result: ShapeResult = { shape, cfg, batch: o.batch, rounds: o.rounds, stepsPerSample: o.stepsPerSample, variants };
    if (o.profile) {
      const clock = o.clock;
      result.profiles = [];
      for (const s of steps) {
        const p = await profileFamilies(ctx, adapterName(ctx.adapter), s.record, { samples: 3, clock, log: (l) => log(`${shape} ${s.variant.name} ${l}`) });
        result.profiles.push({ name: s.variant.name, dispatches: p.dispatchesPerStep, replayMs: p.replayMs.median, families: p.families });
        for (const line of familyTable(`${shape}, ${s.variant.name}`, p)) log(line);
      }
    }
    return result;
  } finally {
    for (const s of steps) s.dispose();
  }
}

const range = (s: Spread): string => `${s.median.toFixed(1)} (${s.min.toFixed(1)}–${s.max.toFixed(1)})`;

function markdown(r: CloraStepResult): string[] {
  const load = (l: number[]): string => l.map((v) => v.toFixed(1)).join(' / ');
  const lines = [`## CLoRA vs LoRA training step (${r.adapter}; load average 1/5/15 min ${load(r.loadBefore)} before, ${load(r.loadAfter)} after)`, ''];
  for (const s of r.shapes) {
    const c = s.cfg;
    lines.push(
      `### ${s.shape}: depth ${c.depth}, width ${c.dim}, MLP ${c.mlpDim}, ${c.tokens} tokens, batch ${s.batch}; ${s.rounds} interleaved rounds of ${s.stepsPerSample} step${s.stepsPerSample === 1 ? '' : 's'}`,
      '',
      '| step | trainable | dispatches | wall ms/step (median, min–max) | ÷ LoRA | CPU ms/step (median, min–max) | ÷ LoRA | fastest ÷ fastest |',
      '|---|---|---|---|---|---|---|---|',
      ...s.variants.map(
        (v) =>
          `| ${v.name} | ${v.trainable.toLocaleString('en-US')} | ${v.dispatches} | ${range(v.ms)} | ×${v.ratio.toFixed(3)} | ${range(v.cpuMs)} | ×${v.cpuRatio.toFixed(3)} | ×${v.cpuFastestRatio.toFixed(3)} |`,
      ),
      '',
    );
  }
  return lines;
}

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean' },
      rounds: { type: 'string' },
      shapes: { type: 'string' },
      batch: { type: 'string' },
      'vit-b-batch': { type: 'string' },
      'vit-b-depth': { type: 'string' },
      'vit-b-image': { type: 'string' },
      'no-isolate': { type: 'boolean' },
      profile: { type: 'boolean' },
      out: { type: 'string' },
      help: { type: 'boolean' },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const quick = values.quick ?? false;
  const shapes = (values.shapes ?? 'bundled,vit-b16').split(',');
  for (const s of shapes) if (s !== 'bundled' && s !== 'vit-b16') throw new Error(`--shapes takes bundled and vit-b16 (got "${s}").`);
  const rounds = whole('rounds', values.rounds, quick ? 2 : 7);
  const isolate = !quick && !values['no-isolate'];
  const profile = values.profile ?? false;
  const out = values.out ?? 'bench/results/clora-step.json';
  const log = (line: string): void => void process.stderr.write(`${line}\n`);

  const ctx = await createNodeGpuContext();
  // On a CPU emulating the GPU, the GPU's work shows in this process's CPU time.
  const clock: ProfileClock = ctx.profile.kind === 'emulated' ? 'cpu' : 'wall';
  const result: CloraStepResult = { adapter: adapterName(ctx.adapter), loadBefore: loadavg(), loadAfter: [], shapes: [] };
  try {
    if (shapes.includes('bundled')) {
      const backbone = await openImageBackbone(BUNDLED);
      try {
        const batch = whole('batch', values.batch, quick ? 4 : 32);
        result.shapes.push(await measureShape(ctx, 'bundled backbone', backbone.cfg, backbone.read, { batch, rounds, stepsPerSample: quick ? 1 : 3, isolate, profile, clock }, log));
      } finally {
        await backbone.close();
      }
    }
    if (shapes.includes('vit-b16')) {
      const image = whole('vit-b-image', values['vit-b-image'], quick ? 32 : 224);
      if (image % 16 !== 0) throw new Error(`--vit-b-image must be a multiple of 16 (got ${image}).`);
      const cfg = vitB16(whole('vit-b-depth', values['vit-b-depth'], quick ? 1 : 2), image);
      const weights = seededLoraWeights(cfg, 8, CLASSES, 5);
      const read = async (name: string): Promise<Float32Array> => weights.get(name)!;
      const batch = whole('vit-b-batch', values['vit-b-batch'], 1);
      result.shapes.push(await measureShape(ctx, 'ViT-B/16 shape', cfg, read, { batch, rounds, stepsPerSample: 1, isolate, profile, clock }, log));
    }
  } finally {
    ctx.destroy();
  }
  result.loadAfter = loadavg();
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
  process.stdout.write(`${markdown(result).join('\n')}\n`);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`error: ${(error as Error).message}\n\n${USAGE}\n`);
    process.exit(2);
  },
);
