// `npm run bench:kernels`: GFLOP/s of the engine's kernels at ViT shapes, with the adapter's name.
// A benchmark, not a test. On an emulated adapter absolute numbers mean little; compare ratios on one adapter.
import { adapterName } from '../src/gpu/context';
import { createNodeGpuContext } from '../src/gpu/node';
import { benchAttention } from './attention';
import { benchMatmul } from './matmul';

const repeats = Number(process.env.BENCH_REPEATS ?? 3);
const fast = process.argv.includes('--no-robustness');
const ctx = await createNodeGpuContext({ dawnFlags: fast ? ['enable-dawn-features=disable_robustness'] : [] });
console.log(`adapter: ${adapterName(ctx.adapter)}${ctx.adapter.isFallback ? ' (fallback adapter)' : ''}${fast ? ', bounds checks off' : ''}`);
console.log(`features: ${[...ctx.features].filter((f) => ['shader-f16', 'subgroups', 'timestamp-query'].includes(f)).join(', ') || 'none of shader-f16, subgroups, timestamp-query'}`);
console.log('');
console.log('matmul            M×K×N               program          ms      GFLOP/s');
for (const r of await benchMatmul(ctx, { repeats })) {
  console.log(`${r.name.padEnd(17)} ${`${r.m}×${r.k}×${r.n}`.padEnd(19)} ${r.program.padEnd(14)} ${r.ms.toFixed(2).padStart(8)} ${r.gflops.toFixed(2).padStart(10)}`);
}
console.log('');
console.log('attention         B×H×N×Dh            ms      GFLOP/s');
for (const r of await benchAttention(ctx, { repeats })) {
  console.log(`${r.name.padEnd(17)} ${`${r.b}×${r.h}×${r.n}×${r.dh}`.padEnd(19)} ${r.ms.toFixed(2).padStart(8)} ${r.gflops.toFixed(2).padStart(10)}`);
}
ctx.destroy();
