// `npm run bench:memory`: peak GPU bytes of a ViT-Base/16 forward (224×224, frozen weights) at batch 1, 8 and
// 32, as the engine's buffer pool accounts them (weights + activations). Batch 1 runs on the GPU; larger
// batches are recorded and discarded (the pool accounts for buffers as work is recorded), since an emulated
// GPU would need minutes per image. Weights are seeded random values: memory does not depend on them.
import { ParameterStore } from '../src/autodiff/params';
import { Tape } from '../src/autodiff/tape';
import { Tensor } from '../src/autodiff/tensor';
import { adapterName } from '../src/gpu/context';
import { formatBytes } from '../src/gpu/errors';
import { createNodeGpuContext } from '../src/gpu/node';
import { decays, VisionTransformer, vitShapes, type VitConfig } from '../src/nn/vit';
import { Rng } from '../src/train/rng';

const VIT_B: VitConfig = { depth: 12, dim: 768, heads: 12, patch: 16, imageSize: 224, channels: 3, mlpDim: 3072, tokens: 197, classes: 1000 };
const ctx = await createNodeGpuContext();
console.log(`adapter: ${adapterName(ctx.adapter)}`);
const shapes = vitShapes(VIT_B);
const store = await ParameterStore.create(ctx, [...shapes].map(([name, shape]) => ({ name, shape, decay: decays(name, shape), requiresGrad: false })));
const rng = new Rng(1);
for (const [name, shape] of shapes) store.upload(name, Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.uniform(-0.02, 0.02)));
await ctx.sync();
const weights = ctx.pool.inUseBytes;
const vit = new VisionTransformer(VIT_B, (n) => store.get(n));
console.log(`ViT-B/16 weights on the GPU: ${formatBytes(weights)}`);
console.log('batch   peak GPU bytes        activations            how');
const runs = process.argv.includes('--execute-all') ? [1, 8, 32].map((b) => [b, true] as const) : ([[1, true], [8, false], [32, false]] as const);
for (const [batch, execute] of runs) {
  ctx.pool.resetPeak();
  const tape = new Tape(ctx);
  const pixels = Tensor.fromData(ctx, [batch, 3, 224, 224], Float32Array.from({ length: batch * 3 * 224 * 224 }, () => rng.uniform(-1, 1)));
  const logits = vit.forward(pixels);
  if (execute) await logits.read();
  else ctx.discard();
  const peak = ctx.pool.peakInUseBytes;
  tape.dispose();
  console.log(`${String(batch).padStart(5)}   ${formatBytes(peak).padEnd(20)}  ${formatBytes(peak - weights).padEnd(20)}  ${execute ? 'ran' : 'recorded, not run'}`);
}
store.dispose();
ctx.destroy();
