// Matmul timings at ViT shapes: the frozen backbone's linear layers (x·Wᵀ + bias, PyTorch weight layout)
// and the rank-8 adapter products. Wall clock after ctx.sync(), median of `repeats` runs after one warm-up
// run (which compiles the pipeline and fills the buffer pool). A run records the product back to back
// enough times to make about a GFLOP (at most 100), so small products are not timed as one submission's
// latency; `ms` is per product. A benchmark, not a test.
import { Tensor } from '../src/autodiff/tensor';
import type { GpuContext } from '../src/gpu/context';
import { matmulInto, type MatmulGeometry } from '../src/kernels/matmul';

export interface MatmulBenchResult {
  name: string;
  m: number;
  k: number;
  n: number;
  program: string;
  ms: number;
  gflops: number;
}

interface Case {
  name: string;
  geometry: MatmulGeometry;
  bias?: boolean;
}

const T = 197; // tokens of a 224² image at patch 16, with the class token
const CASES: Case[] = [
  { name: 'vit-ti qkv', geometry: { batch: 1, m: T, k: 192, n: 576, transB: true, batchedB: false }, bias: true },
  { name: 'vit-b qkv', geometry: { batch: 1, m: T, k: 768, n: 2304, transB: true, batchedB: false }, bias: true },
  { name: 'vit-b fc2', geometry: { batch: 1, m: T, k: 3072, n: 768, transB: true, batchedB: false }, bias: true },
  // x·D_h: tokens onto one rank-8 down-projection space.
  { name: 'rank-8 x·D', geometry: { batch: 1, m: T, k: 192, n: 8, batchedB: false } },
  // M tiny: 8 rows against 197 columns.
  { name: 'rank-8 8×K×197', geometry: { batch: 1, m: 8, k: 192, n: T } },
  // dD = Xᵀ·G over a batch of 8 images: X [8·197, 192] read transposed, G [8·197, 8].
  { name: 'rank-8 Xᵀ·G', geometry: { batch: 1, m: 192, k: 8 * T, n: 8, transA: true } },
];

function randomTensor(ctx: GpuContext, shape: number[], seed: number): Tensor {
  const data = new Float32Array(shape.reduce((p, d) => p * d, 1));
  let state = seed >>> 0;
  for (let i = 0; i < data.length; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    data[i] = state / 2 ** 31 - 1;
  }
  return Tensor.fromData(ctx, shape, data);
}

async function medianMs(ctx: GpuContext, repeats: number, inner: number, run: () => void): Promise<number> {
  run();
  await ctx.sync();
  const samples: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const start = performance.now();
    for (let j = 0; j < inner; j++) run();
    await ctx.sync();
    samples.push((performance.now() - start) / inner);
  }
  samples.sort((a, b) => a - b);
  return samples[Math.floor(samples.length / 2)]!;
}

export async function benchMatmul(ctx: GpuContext, opts: { repeats?: number } = {}): Promise<MatmulBenchResult[]> {
  const repeats = Math.max(1, opts.repeats ?? 10);
  const results: MatmulBenchResult[] = [];
  for (const { name, geometry: g, bias } of CASES) {
    const aCount = (g.batchedA === false ? 1 : g.batch) * g.m * g.k;
    const bCount = (g.batchedB === false ? 1 : g.batch) * g.k * g.n;
    const a = randomTensor(ctx, [aCount], 1);
    const b = randomTensor(ctx, [bCount], 2);
    const biasTensor = bias ? randomTensor(ctx, [g.n], 3) : undefined;
    const out = Tensor.empty(ctx, [g.batch, g.m, g.n]);
    const flops = 2 * g.batch * g.m * g.k * g.n;
    const inner = Math.min(100, Math.ceil(1e9 / flops));
    let program = '';
    const ms = await medianMs(ctx, repeats, inner, () => {
      program = matmulInto(ctx, a, b, out, g, { bias: biasTensor }).program;
    });
    results.push({ name, m: g.m, k: g.k, n: g.n, program, ms, gflops: flops / ms / 1e6 });
    for (const t of [a, b, biasTensor, out]) t?.dispose();
  }
  return results;
}
