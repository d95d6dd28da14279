// Shared by the kernel benchmarks: seeded random inputs, and the median wall-clock time of some recorded work
// after a warm-up run (which compiles the pipelines and fills the buffer pool).
import { Tensor } from '../src/autodiff/tensor';
import type { GpuContext } from '../src/gpu/context';

/** Uniform values in [−1, 1) from a small LCG: the same tensor for the same seed. */
export function randomTensor(ctx: GpuContext, shape: number[], seed: number): Tensor {
  const data = new Float32Array(shape.reduce((p, d) => p * d, 1));
  let state = seed >>> 0;
  for (let i = 0; i < data.length; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    data[i] = state / 2 ** 31 - 1;
  }
  return Tensor.fromData(ctx, shape, data);
}

/**
 * Median milliseconds of one `run`, over `repeats` samples after a warm-up; each sample records `run` `inner`
 * times back to back and waits for the GPU once (ctx.sync), so small work is not timed as one submission's
 * latency.
 */
export async function medianMs(ctx: GpuContext, repeats: number, run: () => void, inner = 1): Promise<number> {
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
