// `npm run bench:points`: the point-cloud kernels' figures (clora-spec §4) at Point-MAE's shapes (1024 points,
// 64 groups of 32, width 384, depth 12, 6 heads; tokenizer 128/256/512) and at a small shape, with the
// adapter's name: farthest point sampling, kNN grouping, the neighbourhood gather, the mini-PointNet tokenizer,
// a whole forward pass and a CLoRA training step (forward, backward, AdamW; one submission). A benchmark, not
// a test: on an emulated adapter absolute numbers mean little; compare runs on one adapter.
// Options: --repeats N (default 3, median), --small-only, --out FILE (JSON, default bench/results/points.json).
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname } from 'node:path';
import { farthestPointSample, gatherNeighbourhood, groupPoints, nearestNeighbours } from '../src/autodiff/ops/points';
import { Tape } from '../src/autodiff/tape';
import { Tensor } from '../src/autodiff/tensor';
import { createFineTuneModel, initialTensors } from '../src/clora/model';
import { DEFAULT_ADAPTER_SETTINGS, type AdapterSettings } from '../src/clora/settings';
import type { Dataset } from '../src/data/dataset';
import { adapterName, type GpuContext } from '../src/gpu/context';
import { createNodeGpuContext } from '../src/gpu/node';
import { selectFpsProgram } from '../src/kernels/point-grouping';
import { backboneShapes } from '../src/nn/backbone';
import { PointTransformer, type PointConfig } from '../src/nn/point-transformer';
import { Rng } from '../src/train/rng';
import { Trainer } from '../src/train/trainer';

const arg = (name: string): string | undefined => {
  const at = process.argv.indexOf(name);
  return at > 0 ? process.argv[at + 1] : undefined;
};
const REPEATS = Number(arg('--repeats') ?? 3);
const OUT = arg('--out') ?? 'bench/results/points.json';

interface Shape {
  name: string;
  cfg: PointConfig;
  /** Clouds per kernel call, and per forward / training step. */
  batch: number;
  stepBatch: number;
}

const POINT_MAE: Shape = {
  name: 'Point-MAE',
  cfg: { kind: 'point', depth: 12, dim: 384, heads: 6, mlpDim: 1536, points: 1024, groups: 64, groupSize: 32, tokenizer: [128, 256, 512], positionWidth: 128, qkvBias: false, classes: 0 },
  batch: 8,
  stepBatch: 2,
};
const SMALL: Shape = {
  name: 'small',
  cfg: { kind: 'point', depth: 4, dim: 96, heads: 3, mlpDim: 384, points: 256, groups: 16, groupSize: 16, tokenizer: [32, 64, 128], positionWidth: 32, qkvBias: false, classes: 0 },
  batch: 8,
  stepBatch: 8,
};
const CLASSES = ['a', 'b', 'c', 'd'];
const SETTINGS: AdapterSettings = { ...DEFAULT_ADAPTER_SETTINGS };

function clouds(batch: number, points: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: batch * points * 3 }, () => rng.uniform(-1, 1));
}

/** Median seconds of `fn` (recorded, then waited for), after one warm-up run that compiles its pipelines. */
async function time(ctx: GpuContext, fn: () => void): Promise<number> {
  const samples: number[] = [];
  for (let i = 0; i <= REPEATS; i++) {
    const tape = new Tape(ctx);
    try {
      await ctx.sync();
      const start = performance.now();
      fn();
      await ctx.sync();
      if (i > 0) samples.push((performance.now() - start) / 1000);
    } finally {
      tape.dispose();
    }
  }
  return samples.sort((a, b) => a - b)[Math.floor(samples.length / 2)]!;
}

/** Multiply-adds ×2 of the tokenizer per cloud: four per-point linear maps on G·K points. */
function tokenizerFlops(cfg: PointConfig): number {
  const [c1, c2, c3] = cfg.tokenizer;
  return 2 * cfg.groups * cfg.groupSize * (3 * c1 + c1 * c2 + 2 * c2 * c3 + c3 * cfg.dim);
}

/** FLOPs of a forward pass per cloud: tokenizer, positions, blocks (linear maps and attention). */
function forwardFlops(cfg: PointConfig): number {
  const n = cfg.groups + 1;
  const d = cfg.dim;
  const blocks = cfg.depth * (2 * n * (4 * d * d + 2 * d * cfg.mlpDim) + 4 * n * n * d);
  return tokenizerFlops(cfg) + 2 * cfg.groups * (3 * cfg.positionWidth + cfg.positionWidth * d) + blocks;
}

async function seededRead(cfg: PointConfig): Promise<(name: string) => Promise<Float32Array>> {
  const shapes = backboneShapes(cfg);
  const rng = new Rng(3);
  return async (name) => {
    const n = shapes.get(name)!.reduce((a, b) => a * b, 1);
    // Positive running variances, small weights: values do not change the time.
    return Float32Array.from({ length: n }, () => (name.endsWith('running_var') ? 1 : rng.uniform(-0.05, 0.05)));
  };
}

interface Row {
  shape: string;
  what: string;
  size: string;
  ms: number;
  rate: string;
}

async function benchShape(ctx: GpuContext, s: Shape): Promise<Row[]> {
  const { cfg, batch } = s;
  const rows: Row[] = [];
  const size = `${batch}×${cfg.points} → ${cfg.groups}×${cfg.groupSize}`;
  const x = Tensor.fromData(ctx, [batch, cfg.points, 3], clouds(batch, cfg.points, 1));
  const centres = farthestPointSample(x, cfg.groups).centres;
  const neighbours = nearestNeighbours(x, centres, cfg.groupSize);
  const fps = await time(ctx, () => void farthestPointSample(x, cfg.groups));
  rows.push({ shape: s.name, what: `farthest point sampling (${selectFpsProgram(cfg.points)})`, size, ms: fps * 1e3, rate: `${(batch / fps).toFixed(0)} clouds/s` });
  const knn = await time(ctx, () => void nearestNeighbours(x, centres, cfg.groupSize));
  rows.push({ shape: s.name, what: 'kNN grouping', size, ms: knn * 1e3, rate: `${((batch * cfg.groups * cfg.points) / knn / 1e6).toFixed(1)} M distances/s` });
  const gather = await time(ctx, () => void gatherNeighbourhood(x, neighbours, centres));
  rows.push({ shape: s.name, what: 'neighbourhood gather', size, ms: gather * 1e3, rate: `${((batch * cfg.groups * cfg.groupSize * 3 * 4 * 2) / gather / 1e9).toFixed(2)} GB/s` });

  const read = await seededRead(cfg);
  const model = await createFineTuneModel(ctx, cfg, SETTINGS, CLASSES, read, initialTensors(cfg, SETTINGS, CLASSES.length, new Rng(1)));
  const backbone = model.backbone as PointTransformer;
  const { neighbourhood } = groupPoints(x, cfg.groups, cfg.groupSize);
  const tokens = await time(ctx, () => void backbone.tokenize(neighbourhood));
  rows.push({ shape: s.name, what: 'mini-PointNet tokenizer', size, ms: tokens * 1e3, rate: `${((batch * tokenizerFlops(cfg)) / tokens / 1e9).toFixed(2)} GFLOP/s` });

  const sb = s.stepBatch;
  const stepInput = Tensor.fromData(ctx, [sb, cfg.points, 3], clouds(sb, cfg.points, 2));
  const forward = await time(ctx, () => void model.forward(stepInput, { training: false }));
  rows.push({ shape: s.name, what: `forward, CLoRA q,v r8 p4 (depth ${cfg.depth}, width ${cfg.dim})`, size: `${sb} clouds`, ms: forward * 1e3, rate: `${((sb * forwardFlops(cfg)) / forward / 1e9).toFixed(2)} GFLOP/s, ${(sb / forward).toFixed(2)} clouds/s` });

  const data: Dataset = { classes: CLASSES, sampleShape: [cfg.points, 3], count: sb * 4, inputs: clouds(sb * 4, cfg.points, 3), labels: Int32Array.from({ length: sb * 4 }, (_, i) => i % CLASSES.length), skipped: [] };
  const trainer = await Trainer.create(model, data, { optimizer: 'adamw', lr: 1e-3, weightDecay: 1e-4, steps: 1 + REPEATS, batchSize: sb, warmup: 0, labelSmoothing: 0, seed: 1, shuffle: true, logEvery: 1000 });
  const plan = await trainer.prepare();
  await trainer.run(undefined, (step) => step === 1);
  await ctx.sync();
  const start = performance.now();
  await trainer.run();
  await ctx.sync();
  const step = (performance.now() - start) / 1000 / REPEATS;
  rows.push({ shape: s.name, what: `CLoRA training step (AdamW${plan.plan.recompute ? ', recomputing blocks' : ''}, micro-batch ${plan.plan.microBatchSize})`, size: `${sb} clouds`, ms: step * 1e3, rate: `${(sb / step).toFixed(2)} clouds/s` });
  trainer.dispose();
  model.dispose();
  ctx.pool.trim();
  return rows;
}

const ctx = await createNodeGpuContext();
const adapter = adapterName(ctx.adapter);
// On a shared machine other work takes the cores an emulated GPU runs on: say how busy it was.
const load = (): string => loadavg().map((l) => l.toFixed(1)).join(', ');
console.log(`adapter: ${adapter}${ctx.adapter.isFallback ? ' (fallback adapter)' : ''}; median of ${REPEATS} after a warm-up; load average ${load()}`);
const rows: Row[] = [];
for (const shape of process.argv.includes('--small-only') ? [SMALL] : [SMALL, POINT_MAE]) {
  for (const row of await benchShape(ctx, shape)) {
    rows.push(row);
    console.log(`${row.shape.padEnd(10)} ${row.what.padEnd(58)} ${row.size.padEnd(20)} ${row.ms.toFixed(1).padStart(9)} ms  ${row.rate}`);
  }
}
mkdirSync(dirname(OUT), { recursive: true });
writeFileSync(OUT, `${JSON.stringify({ adapter, repeats: REPEATS, date: new Date().toISOString(), loadAverageAtEnd: loadavg(), rows }, null, 1)}\n`);
console.log(`load average at the end ${load()}; wrote ${OUT}`);
ctx.destroy();
