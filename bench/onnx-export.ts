// `npm run bench:onnx`: the ONNX export at the paper's backbone size. A ViT-Base/16 (224², 1000 classes) with
// seeded weights goes through mergedModelToOnnx (what `export --format onnx` and the page call): file size,
// export time and the process's memory; then ONNX Runtime (CPU) loads it and runs batch 1 and 4, and its
// logits are compared with the engine's `forward` on the same image (batch 1 on the GPU). Also prints the
// refusal for a model past protobuf's 2 GB.
import * as ort from 'onnxruntime-node';
import { mergedModelToOnnx, onnxWeightBytes } from '../src/clora/onnx-export';
import { ParameterStore } from '../src/autodiff/params';
import { Tape } from '../src/autodiff/tape';
import { Tensor } from '../src/autodiff/tensor';
import { adapterName } from '../src/gpu/context';
import { createNodeGpuContext } from '../src/gpu/node';
import { decays, VisionTransformer, vitShapes, type VitConfig } from '../src/nn/vit';
import { Rng } from '../src/train/rng';

const VIT_B: VitConfig = { depth: 12, dim: 768, heads: 12, patch: 16, imageSize: 224, channels: 3, mlpDim: 3072, tokens: 197, classes: 1000 };
const mb = (bytes: number): string => `${(bytes / 1e6).toFixed(1)} MB`;
const rng = new Rng(7);

// Spreads that keep every part of the network active (as tests/fixtures/vit_tiny_dims does).
function seeded(name: string, shape: number[]): Float32Array {
  const n = shape.reduce((a, b) => a * b, 1);
  const fanIn = shape.slice(1).reduce((a, b) => a * b, 1);
  const [offset, amp] = name === 'cls_token' || name === 'pos_embed' ? [0, 1] : name.endsWith('.bias') ? [0, 0.1] : shape.length >= 2 ? [0, Math.sqrt(3 / fanIn)] : [1, 0.25];
  return Float32Array.from({ length: n }, () => offset + rng.uniform(-amp, amp));
}

const shapes = vitShapes(VIT_B);
const tensors = [...shapes].map(([name, shape]) => ({ name, shape, data: seeded(name, shape) }));
const classes = Array.from({ length: VIT_B.classes }, (_, i) => `class ${i}`);
const rssBefore = process.memoryUsage().rss;
let t = performance.now();
const bytes = mergedModelToOnnx(VIT_B, tensors, { classes, preprocess: { size: 224, cropPct: 0.9, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] } });
const exportMs = performance.now() - t;
console.log(`ViT-B/16, 1000 classes: weights ${mb(onnxWeightBytes(VIT_B, VIT_B.classes))}, .onnx ${mb(bytes.length)}, export ${exportMs.toFixed(0)} ms, process memory +${mb(process.memoryUsage().rss - rssBefore)} over the weights`);

t = performance.now();
const session = await ort.InferenceSession.create(bytes);
console.log(`ONNX Runtime ${ort.env.versions.node} (CPU): session created in ${(performance.now() - t).toFixed(0)} ms`);
const image = Float32Array.from({ length: 3 * 224 * 224 }, () => rng.uniform(-1, 1));
for (const batch of [1, 4]) {
  const pixels = new Float32Array(batch * image.length);
  for (let i = 0; i < batch; i++) pixels.set(image, i * image.length);
  const times: number[] = [];
  let logits: Float32Array = new Float32Array();
  for (let k = 0; k < 3; k++) {
    t = performance.now();
    logits = (await session.run({ pixel_values: new ort.Tensor('float32', pixels, [batch, 3, 224, 224]) })).logits!.data as Float32Array;
    times.push(performance.now() - t);
  }
  console.log(`  batch ${batch}: ${times.sort((a, b) => a - b)[1]!.toFixed(0)} ms (median of 3), logits [${batch}, ${logits.length / batch}]`);
}
const onnxLogits = (await session.run({ pixel_values: new ort.Tensor('float32', image, [1, 3, 224, 224]) })).logits!.data as Float32Array;
await session.release();

const ctx = await createNodeGpuContext();
const store = await ParameterStore.create(ctx, [...shapes].map(([name, shape]) => ({ name, shape, decay: decays(name, shape), requiresGrad: false })));
for (const { name, data } of tensors) store.upload(name, data);
const tape = new Tape(ctx);
t = performance.now();
const engine = await new VisionTransformer(VIT_B, (n) => store.get(n)).forward(Tensor.fromData(ctx, [1, 3, 224, 224], image)).read();
const engineMs = performance.now() - t;
tape.dispose();
store.dispose();
ctx.destroy();
let maxDiff = 0;
let maxAbs = 0;
for (let i = 0; i < engine.length; i++) {
  maxDiff = Math.max(maxDiff, Math.abs(engine[i]! - onnxLogits[i]!));
  maxAbs = Math.max(maxAbs, Math.abs(engine[i]!));
}
console.log(`engine forward on ${adapterName(ctx.adapter)}: ${engineMs.toFixed(0)} ms; max |ONNX Runtime − engine| = ${maxDiff.toExponential(2)} (largest |logit| ${maxAbs.toFixed(2)})`);

const vitG: VitConfig = { depth: 40, dim: 1408, heads: 16, patch: 14, imageSize: 224, channels: 3, mlpDim: 6144, tokens: 257, classes: 0 };
try {
  mergedModelToOnnx(vitG, [], { classes, preprocess: { size: 224, cropPct: 0.875, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] } });
} catch (error) {
  console.log(`ViT-g/14-sized model: ${(error as Error).message}`);
}
