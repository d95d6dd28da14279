// Matmul timings at ViT shapes: the frozen backbone's linear layers (x·Wᵀ + bias, PyTorch weight layout)
// and the rank-8 adapter products. Wall clock after ctx.sync(), median of `repeats` runs after one warm-up
// run (which compiles the pipeline and fills the buffer pool). A run records the product back to back
// enough times to make about a GFLOP (at most 100), so small products are not timed as one submission's
// latency; `ms` is per product. A benchmark, not a test.
import { Tensor } from '../src/autodiff/tensor';
import type { GpuContext } from '../src/gpu/context';
import { matmulInto, type MatmulGeometry } from '../src/kernels/matmul';
import { medianMs, randomTensor } from './timing';

export interface MatmulBenchResult {
  name: string;
  m: number;
  k: number;
  n: number;
  program: string;
  ms: number;
  gflops: number;
}

export interface MatmulCase {
  name: string;
  geometry: MatmulGeometry;
  bias?: boolean;
}

const T = 197; // tokens of a 224² image at patch 16, with the class token
export const MATMUL_CASES: MatmulCase[] = [
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

export async function benchMatmul(ctx: GpuContext, opts: { repeats?: number; cases?: MatmulCase[] } = {}): Promise<MatmulBenchResult[]> {
  const repeats = Math.max(1, opts.repeats ?? 10);
  const results: MatmulBenchResult[] = [];
  for (const { name, geometry: g, bias } of opts.cases ?? MATMUL_CASES) {
    const aCount = (g.batchedA === false ? 1 : g.batch) * g.m * g.k;
    const bCount = (g.batchedB === false ? 1 : g.batch) * g.k * g.n;
    const a = randomTensor(ctx, [aCount], 1);
    const b = randomTensor(ctx, [bCount], 2);
    const biasTensor = bias ? randomTensor(ctx, [g.n], 3) : undefined;
    const out = Tensor.empty(ctx, [g.batch, g.m, g.n]);
    const flops = 2 * g.batch * g.m * g.k * g.n;
    const inner = Math.min(100, Math.ceil(1e9 / flops));
    let program = '';
    const ms = await medianMs(
      ctx,
      repeats,
      () => {
        program = matmulInto(ctx, a, b, out, g, { bias: biasTensor }).program;
      },
      inner,
    );
    results.push({ name, m: g.m, k: g.k, n: g.n, program, ms, gflops: flops / ms / 1e6 });
    for (const t of [a, b, biasTensor, out]) t?.dispose();
  }
  return results;
}
