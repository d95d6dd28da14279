// Where the engine's training step (bench:peer's ViT-Tiny-shaped LoRA step) spends its time, by kernel
// family, on whatever adapter runs it (Node or the browser page): the step's dispatches are captured once,
// then each family's dispatches are replayed on their own, many times in one submission, and timed from
// submission to the queue being done, less an empty submission's time. Emulators and GPUs alike: no
// timestamp queries needed. Also splits the step into recording on the CPU (building the tape, encoding)
// and running on the GPU. `npx tsx bench/peer.ts --profile` prints it for Node and Chromium.
import { Tensor } from '../src/autodiff/tensor';
import type { BufferRange, GpuContext, Param } from '../src/gpu/context';
import type { KernelSpec } from '../src/gpu/pipelines';
import { matmulInto, selectMatmulProgram, type MatmulGeometry, type MatmulProgram } from '../src/kernels/matmul';
import { Rng } from '../src/train/rng';
import { engineLoraStep, seededLoraWeights, spread, TINY_STEP, type Spread } from './peer-suite';

export interface FamilyTime {
  /** shader:entry and the defines that distinguish variants. */
  family: string;
  dispatchesPerStep: number;
  /** GPU milliseconds per step spent in this family (median over samples). */
  ms: number;
  /** Share of the summed family times. */
  share: number;
  /** The family's dispatches by grid and parameters, slowest first (top few), for the biggest families. */
  shapes?: { grid: string; count: number; ms: number }[];
}

/** The whole step's GPU time with the dense products re-tiled (same kernels, another program choice). */
export interface RetileTime {
  variant: string;
  /** Median ms of the replayed step, this variant and the step as recorded, interleaved. */
  ms: number;
  baselineMs: number;
  dispatches: number;
}

export interface StepProfile {
  retile: RetileTime[];
  adapter: string;
  dispatchesPerStep: number;
  /** The whole step as bench:peer times it: record, submit, wait. */
  stepMs: Spread;
  /** Recording only (tape, kernels' dispatch calls, encoding), no wait. */
  recordMs: Spread;
  /** All captured dispatches replayed in one submission. */
  replayMs: Spread;
  /** One empty submission's round trip, subtracted from each family's time. */
  emptySubmitMs: number;
  families: FamilyTime[];
}

interface Captured {
  spec: KernelSpec;
  params: Param[];
  buffers: BufferRange[];
  workgroups: [number, number?, number?];
}

const familyOf = (spec: KernelSpec): string => {
  const defines = spec.defines ? Object.entries(spec.defines).map(([k, v]) => `${k}=${String(v)}`).join(',') : '';
  return `${spec.shader}:${spec.entry}${defines ? ` {${defines}}` : ''}`;
};

export async function profileStep(ctx: GpuContext, adapter: string, opts: { samples: number; log?: (line: string) => void }): Promise<StepProfile> {
  const log = opts.log ?? (() => undefined);
  const { cfg, rank, classes } = TINY_STEP;
  const engine = await engineLoraStep(ctx, TINY_STEP, seededLoraWeights(cfg, rank, classes, 5), 1e-3);
  const step = (): void => engine.step();
  const done = async (): Promise<void> => {
    ctx.flush();
    await ctx.device.queue.onSubmittedWorkDone();
  };
  const time = async (work: () => void): Promise<number> => {
    const t0 = performance.now();
    work();
    await done();
    return performance.now() - t0;
  };

  // Warm-up: compiles and fills the pool.
  for (let i = 0; i < 2; i++) await time(step);

  // Capture one step's dispatches (the step runs normally meanwhile).
  const captured: Captured[] = [];
  const dispatch = ctx.dispatch.bind(ctx);
  ctx.dispatch = (spec, params, buffers, workgroups) => {
    captured.push({ spec, params: [...params], buffers: [...buffers], workgroups });
    dispatch(spec, params, buffers, workgroups);
  };
  try {
    await time(step);
  } finally {
    ctx.dispatch = dispatch;
  }
  log(`profile: ${captured.length} dispatches per step`);
  const replay = (list: Captured[], repeats: number) => (): void => {
    for (let r = 0; r < repeats; r++) for (const c of list) dispatch(c.spec, c.params, c.buffers, c.workgroups);
  };

  const stepMs: number[] = [];
  const recordMs: number[] = [];
  const replayMs: number[] = [];
  const empty: number[] = [];
  for (let i = 0; i < opts.samples; i++) {
    stepMs.push(await time(step));
    const t0 = performance.now();
    step();
    recordMs.push(performance.now() - t0);
    await done();
    replayMs.push(await time(replay(captured, 1)));
    empty.push(await time(() => ctx.device.queue.submit([])));
  }
  const emptySubmitMs = spread(empty).median;

  // Families: each replayed `repeats` times in one submission; repeats scaled so a sample is ≥ ~50 ms of work.
  const byFamily = new Map<string, Captured[]>();
  for (const c of captured) {
    const key = familyOf(c.spec);
    if (!byFamily.has(key)) byFamily.set(key, []);
    byFamily.get(key)!.push(c);
  }
  const perStep = spread(replayMs).median;
  const timeList = async (list: Captured[]): Promise<number> => {
    const probe = Math.max(0.01, (await time(replay(list, 1))) - emptySubmitMs);
    const repeats = Math.max(1, Math.min(50, Math.round(Math.max(50, perStep / 4) / probe)));
    const samples: number[] = [];
    for (let i = 0; i < opts.samples; i++) samples.push(((await time(replay(list, repeats))) - emptySubmitMs) / repeats);
    return Math.max(0, spread(samples).median);
  };
  const families: FamilyTime[] = [];
  for (const [family, list] of byFamily) families.push({ family, dispatchesPerStep: list.length, ms: await timeList(list), share: 0 });
  const total = families.reduce((s, f) => s + f.ms, 0);
  for (const f of families) f.share = f.ms / total;
  families.sort((a, b) => b.ms - a.ms);

  // The biggest families by dispatch shape (grid and parameters).
  for (const f of families.slice(0, 6)) {
    const list = byFamily.get(f.family)!;
    const byShape = new Map<string, Captured[]>();
    for (const c of list) {
      const key = `${c.workgroups.join('×')} (${c.params.map((p) => (typeof p === 'number' ? p : p.value)).join(',')})`;
      if (!byShape.has(key)) byShape.set(key, []);
      byShape.get(key)!.push(c);
    }
    if (byShape.size < 2) continue;
    const shapes: { grid: string; count: number; ms: number }[] = [];
    for (const [grid, l] of byShape) shapes.push({ grid, count: l.length, ms: await timeList(l) });
    f.shapes = shapes.sort((a, b) => b.ms - a.ms).slice(0, 6);
  }

  // The same step with its tiled products re-tiled, replayed interleaved with the step as recorded.
  const retile: RetileTime[] = [];
  for (const variant of ['64×64 for the 32×32 products', '64×64 unsplit for the split-K products', 'both'] as const) {
    const list = retiled(captured, variant !== '64×64 unsplit for the split-K products', variant !== '64×64 for the 32×32 products');
    const base: number[] = [];
    const alt: number[] = [];
    await time(replay(list, 1));
    for (let i = 0; i < opts.samples; i++) {
      base.push(await time(replay(captured, 1)));
      alt.push(await time(replay(list, 1)));
    }
    retile.push({ variant, ms: spread(alt).median, baselineMs: spread(base).median, dispatches: list.length });
    log(`retiled (${variant}): ${spread(alt).median.toFixed(1)} vs ${spread(base).median.toFixed(1)} ms`);
  }

  engine.dispose();
  return { retile, adapter, dispatchesPerStep: captured.length, stepMs: spread(stepMs), recordMs: spread(recordMs), replayMs: spread(replayMs), emptySubmitMs, families };
}

const TILE_64 = { TILE_M: 64, TILE_N: 64, TILE_K: 16, RM: 2, RN: 2 };

/**
 * The captured step with matmul_tiled's 32×32 dispatches run as 64×64 tiles and/or each split-K pair (64×64
 * partial tiles, then matmul_thin:thin_reduce with the epilogue) run as one unsplit 64×64 dispatch with the
 * epilogue: the programs src/kernels/matmul.ts would pick with a lower workgroup target. Only for timing.
 */
function retiled(list: Captured[], thirtyTwo: boolean, split: boolean): Captured[] {
  const out: Captured[] = [];
  for (let i = 0; i < list.length; i++) {
    const c = list[i]!;
    const d = c.spec.defines ?? {};
    const num = (p: Param | undefined): number => (typeof p === 'number' ? p : (p?.value ?? 0));
    const [m, k, n] = [num(c.params[0]), num(c.params[1]), num(c.params[2])];
    if (c.spec.shader === 'matmul' && c.spec.entry === 'matmul_tiled' && thirtyTwo && d.TILE_M === 32) {
      const batch = c.workgroups[2] ?? 1;
      out.push({ ...c, spec: { ...c.spec, defines: { ...d, ...TILE_64 } }, workgroups: [Math.ceil(n / 64), Math.ceil(m / 64), batch] });
      continue;
    }
    const next = list[i + 1];
    if (c.spec.shader === 'matmul' && c.spec.entry === 'matmul_tiled' && split && d.SPLIT === true && next?.spec.entry === 'thin_reduce') {
      const chunks = num(c.params[6]);
      const rd = next.spec.defines ?? {};
      const epilogue = { HAS_BIAS: rd.HAS_BIAS, GELU: rd.GELU, RELU: rd.RELU ?? false, ACCUMULATE: rd.ACCUMULATE, STORE_PRE: rd.STORE_PRE } as Record<string, boolean>;
      const [outBuf, bias, pre] = next.buffers as [BufferRange, BufferRange, BufferRange];
      const params = [...c.params];
      params[5] = k;
      params[6] = 1;
      // The output's element type comes from the reduce's storage (c_t), the operands' from the split pass.
      const storage = next.spec.storage?.c_t ? { ...c.spec.storage, c_t: next.spec.storage.c_t } : c.spec.storage;
      const spec: KernelSpec = { ...c.spec, defines: { ...d, ...epilogue, SPLIT: false }, ...(storage ? { storage } : {}) };
      out.push({ spec, params, buffers: [c.buffers[0]!, c.buffers[1]!, outBuf, bias, pre], workgroups: [c.workgroups[0], c.workgroups[1], (c.workgroups[2] ?? chunks) / chunks] });
      i++;
      continue;
    }
    out.push(c);
  }
  return out;
}

export function profileTable(title: string, p: StepProfile): string[] {
  const f2 = (v: number): string => v.toFixed(2);
  return [
    `### ${title}: the training step by kernel family (${p.adapter})`,
    '',
    `Step ${f2(p.stepMs.median)} ms (record ${f2(p.recordMs.median)} ms on the CPU; all ${p.dispatchesPerStep} dispatches replayed in one submission ${f2(p.replayMs.median)} ms; empty submission ${f2(p.emptySubmitMs)} ms). ` +
      `Families summed: ${f2(p.families.reduce((s, f) => s + f.ms, 0))} ms.`,
    '',
    '| kernel family | dispatches | ms/step | share |',
    '|---|---|---|---|',
    ...p.families.flatMap((f) => [
      `| ${f.family} | ${f.dispatchesPerStep} | ${f2(f.ms)} | ${(100 * f.share).toFixed(1)}% |`,
      ...(f.shapes ?? []).map((s) => `| ↳ grid ${s.grid} | ${s.count} | ${f2(s.ms)} | |`),
    ]),
    '',
    'The whole step replayed with its dense products re-tiled (same kernels, another program choice), interleaved with the step as recorded:',
    '',
    '| variant | dispatches | ms | as recorded, ms | ratio |',
    '|---|---|---|---|---|',
    ...p.retile.map((r) => `| ${r.variant} | ${r.dispatches} | ${f2(r.ms)} | ${f2(r.baselineMs)} | ×${(r.baselineMs / r.ms).toFixed(3)} |`),
    '',
  ];
}

// ---------------------------------------------------------------------------------------------------------
// The step's dense products under each tiled program, interleaved on one device: whether the selector's
// choice (src/kernels/matmul.ts selectMatmulProgram) is the fastest here. Shapes: 8 images × 50 tokens of
// width 192, MLP 768, qkv 576; forward x·Wᵀ and the input gradient dY·W.

export interface ProgramTime {
  shape: string;
  chosen: string;
  /** ms per product, median, per program. */
  ms: Record<string, number>;
}

const STEP_PRODUCTS: { name: string; g: MatmulGeometry; gelu?: boolean }[] = [
  { name: 'fc1 x·Wᵀ 400×192×768 +GELU', g: { batch: 1, m: 400, k: 192, n: 768, transB: true, batchedB: false }, gelu: true },
  { name: 'fc2 x·Wᵀ 400×768×192', g: { batch: 1, m: 400, k: 768, n: 192, transB: true, batchedB: false } },
  { name: 'fc1 dY·W 400×768×192', g: { batch: 1, m: 400, k: 768, n: 192, batchedB: false } },
  { name: 'fc2 dY·W 400×192×768', g: { batch: 1, m: 400, k: 192, n: 768, batchedB: false } },
  { name: 'qkv x·Wᵀ 400×192×576', g: { batch: 1, m: 400, k: 192, n: 576, transB: true, batchedB: false } },
  { name: 'qkv dY·W 400×576×192', g: { batch: 1, m: 400, k: 576, n: 192, batchedB: false } },
  { name: 'proj x·Wᵀ 400×192×192', g: { batch: 1, m: 400, k: 192, n: 192, transB: true, batchedB: false } },
];
const PROGRAMS: MatmulProgram[] = ['tiled_64x64', 'tiled_64x64_splitk', 'tiled_32x32'];

export async function compareMatmulPrograms(ctx: GpuContext, opts: { samples: number; log?: (line: string) => void }): Promise<ProgramTime[]> {
  const rng = new Rng(5);
  const rows: ProgramTime[] = [];
  for (const { name, g, gelu } of STEP_PRODUCTS) {
    const a = Tensor.fromData(ctx, g.transA ? [g.k, g.m] : [g.m, g.k], Float32Array.from({ length: g.m * g.k }, () => rng.uniform(-1, 1)));
    const b = Tensor.fromData(ctx, g.transB ? [g.n, g.k] : [g.k, g.n], Float32Array.from({ length: g.k * g.n }, () => rng.uniform(-1, 1)));
    const bias = Tensor.fromData(ctx, [g.n], new Float32Array(g.n));
    const out = Tensor.empty(ctx, [g.m, g.n]);
    const pre = Tensor.empty(ctx, [g.m, g.n]);
    const epilogue = gelu ? { bias, gelu: true, preActivation: pre } : {};
    const repeats = 4;
    const run = async (program: MatmulProgram): Promise<number> => {
      const t0 = performance.now();
      for (let i = 0; i < repeats; i++) matmulInto(ctx, a, b, out, g, epilogue, program);
      ctx.flush();
      await ctx.device.queue.onSubmittedWorkDone();
      return (performance.now() - t0) / repeats;
    };
    for (const p of PROGRAMS) await run(p);
    const samples = new Map<string, number[]>(PROGRAMS.map((p) => [p, []]));
    for (let i = 0; i < opts.samples; i++) for (const p of PROGRAMS) samples.get(p)!.push(await run(p));
    const ms = Object.fromEntries(PROGRAMS.map((p) => [p, spread(samples.get(p)!).median]));
    rows.push({ shape: name, chosen: selectMatmulProgram(g, ctx.profile).program, ms });
    opts.log?.(`${name}: ${PROGRAMS.map((p) => `${p} ${ms[p]!.toFixed(1)}`).join(', ')} ms (chosen ${selectMatmulProgram(g, ctx.profile).program})`);
    for (const t of [a, b, bias, out, pre]) t.dispose();
  }
  return rows;
}

export function programTable(title: string, rows: ProgramTime[]): string[] {
  return [
    `### ${title}: the step's dense products under each tiled program (ms per product, interleaved)`,
    '',
    `| product | chosen | ${PROGRAMS.join(' | ')} |`,
    `|---|---|${PROGRAMS.map(() => '---').join('|')}|`,
    ...rows.map((r) => `| ${r.shape} | ${r.chosen} | ${PROGRAMS.map((p) => r.ms[p]!.toFixed(2)).join(' | ')} |`),
    '',
  ];
}
