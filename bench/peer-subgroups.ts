// The subgroup row kernels against the portable ones on the same device, interleaved: LayerNorm (forward and
// input backward at ViT shapes), softmax (forward and backward over attention probabilities) and the sums
// (column sums of a [tokens, features] gradient, as for a bias gradient, and row sums). The fast paths'
// bench lines. Where the adapter lacks fixed-size subgroups there is nothing to compare (no rows).
import { layerNorm } from '../src/autodiff/ops/layernorm';
import { softmax } from '../src/autodiff/ops/softmax';
import { sumAxis } from '../src/kernels/reduce';
import { fixedSubgroupSize } from '../src/kernels/subgroups';
import { Tape } from '../src/autodiff/tape';
import { Tensor } from '../src/autodiff/tensor';
import type { GpuContext } from '../src/gpu/context';
import { Rng } from '../src/train/rng';
import { spread, type Spread, type WaitScheme } from './peer-suite';

export interface SubgroupRow {
  name: string;
  unit: string;
  /** The subgroup kernels. */
  engine: Spread;
  /** The portable kernels on the same device. */
  other: Spread;
  speedup: number;
}

export interface SubgroupBench {
  /** The fixed subgroup size the kernels ran with (0: the adapter has none, no rows). */
  subgroupSize: number;
  rows: SubgroupRow[];
}

type Op = 'LayerNorm' | 'softmax' | 'column sum' | 'row sum';

const CASES: { op: Op; rows: number; width: number }[] = [
  { op: 'LayerNorm', rows: 8 * 197, width: 192 },
  { op: 'LayerNorm', rows: 8 * 197, width: 768 },
  // Attention probabilities of the bench's training step: 8 images × 3 heads × 50 queries, 50 keys.
  { op: 'softmax', rows: 8 * 3 * 50, width: 50 },
  // Bias gradient of a ViT-B fc2 at batch 8 (1576 tokens × 768), and row sums of the same matrix.
  { op: 'column sum', rows: 8 * 197, width: 768 },
  { op: 'row sum', rows: 8 * 197, width: 768 },
];

const isSum = (op: Op): boolean => op === 'column sum' || op === 'row sum';

export interface SubgroupBenchOptions {
  pairs: number;
  wait: WaitScheme;
  /** Only these ops (default: all). */
  only?: Op[];
}

export async function benchSubgroupKernels(ctx: GpuContext, opts: SubgroupBenchOptions): Promise<SubgroupBench> {
  const saved = ctx.useSubgroups;
  ctx.useSubgroups = true;
  const size = fixedSubgroupSize(ctx);
  const result: SubgroupBench = { subgroupSize: size, rows: [] };
  if (size === 0) {
    ctx.useSubgroups = saved;
    return result;
  }
  const rng = new Rng(3);
  try {
    for (const { op, rows, width } of CASES.filter((c) => !opts.only || opts.only.includes(c.op))) {
      const x = Tensor.fromData(ctx, [rows, width], Float32Array.from({ length: rows * width }, () => rng.uniform(-2, 2)));
      const w = Tensor.fromData(ctx, [width], Float32Array.from({ length: width }, () => rng.uniform(0.5, 1.5)));
      const b = Tensor.fromData(ctx, [width], Float32Array.from({ length: width }, () => rng.uniform(-0.1, 0.1)));
      x.requiresGrad = !isSum(op);
      const sums = Tensor.empty(ctx, [op === 'column sum' ? width : rows]);
      const repeats = isSum(op) ? 32 : 8;
      const fastest = new Map<boolean, number>();
      const sample = async (subgroups: boolean, warmUp = false): Promise<number> => {
        ctx.useSubgroups = subgroups;
        const t0 = performance.now();
        for (let i = 0; i < repeats && isSum(op); i++) {
          if (op === 'column sum') sumAxis(ctx, x, sums, 1, rows, width);
          else sumAxis(ctx, x, sums, rows, width, 1);
        }
        for (let i = 0; i < repeats && !isSum(op); i++) {
          const tape = new Tape(ctx);
          tape.backward(op === 'LayerNorm' ? layerNorm(x, w, b) : softmax(x));
          tape.dispose();
          x.grad?.dispose();
          x.grad = null;
        }
        ctx.flush();
        const best = fastest.get(subgroups);
        if (opts.wait === 'sleep' && best !== undefined) {
          const delay = t0 + 0.8 * best - performance.now();
          if (delay > 1) await new Promise((r) => setTimeout(r, delay));
        }
        await ctx.device.queue.onSubmittedWorkDone();
        const ms = performance.now() - t0;
        if (!warmUp) fastest.set(subgroups, Math.min(ms, best ?? Infinity));
        return ms / repeats;
      };
      for (const warmUp of [true, false]) {
        await sample(true, warmUp);
        await sample(false, warmUp);
      }
      const sub: number[] = [];
      const portable: number[] = [];
      for (let i = 0; i < opts.pairs; i++) {
        sub.push(await sample(true));
        portable.push(await sample(false));
      }
      const engine = spread(sub);
      const other = spread(portable);
      const what = isSum(op) ? `${op} ${rows}×${width}` : `${op} fwd+bwd ${rows}×${width}`;
      result.rows.push({ name: `${what}: subgroups of ${size} vs portable, same device`, unit: 'ms', engine, other, speedup: other.median / engine.median });
      for (const t of [x, w, b, sums]) t.dispose();
    }
  } finally {
    ctx.useSubgroups = saved;
  }
  return result;
}
