// The peer: TensorFlow.js 4.22 on its WebGPU backend, driven the way a web developer would use it, on a
// device of its own from the SAME WebGPU instance (and so the same adapter) as the engine. Runs in Node
// (Dawn) and in the browser. Benchmark code only: nothing in src/ imports it.
import * as tf from '@tensorflow/tfjs';
import { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import type { VitConfig } from '../src/nn/vit';

export { tf };

export interface TfjsPeer {
  device: GPUDevice;
  /** The adapter tfjs's device came from, in words (vendor / architecture / device). */
  adapter: string;
  backend: WebGPUBackend;
  /** Queue submissions made by tfjs since the peer was created. */
  submissions(): number;
  /** Submits what tfjs has recorded but not yet submitted. */
  flush(): void;
}

/**
 * Registers tfjs's WebGPU backend on a second adapter of `gpu` (one adapter gives one device), asking for
 * the limits tfjs itself asks for when it creates its device.
 */
export async function createTfjsPeer(gpu: GPU): Promise<TfjsPeer> {
  // tfjs checks for navigator.gpu before it builds a backend; Node 20 has no navigator.
  const g = globalThis as { navigator?: { gpu?: GPU } };
  if (!g.navigator) Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
  else if (!g.navigator.gpu) Object.defineProperty(g.navigator, 'gpu', { value: gpu, configurable: true });
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) throw new Error('No second WebGPU adapter for tfjs.');
  const l = adapter.limits;
  const requiredFeatures: GPUFeatureName[] = adapter.features.has('timestamp-query') ? ['timestamp-query'] : [];
  const device = await adapter.requestDevice({
    requiredFeatures,
    requiredLimits: {
      maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
      maxComputeWorkgroupsPerDimension: l.maxComputeWorkgroupsPerDimension,
      maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
      maxBufferSize: l.maxBufferSize,
      maxComputeWorkgroupSizeX: l.maxComputeWorkgroupSizeX,
      maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
    },
  });
  // Count submissions without changing them.
  let submissions = 0;
  const queue = device.queue;
  const submit = queue.submit.bind(queue);
  Object.defineProperty(queue, 'submit', {
    value: (buffers: Iterable<GPUCommandBuffer>) => {
      submissions++;
      submit(buffers);
    },
    configurable: true,
  });
  // Kernels are registered under the name 'webgpu': take that name over with this device. (In a browser the
  // package registered its own factory on import; findBackend would start it, so remove it blindly.)
  try {
    tf.removeBackend('webgpu');
  } catch {
    // not registered (Node: no navigator.gpu when the package was imported)
  }
  const backend = new WebGPUBackend(device, adapter.info);
  if (!tf.registerBackend('webgpu', () => backend)) throw new Error('tfjs kept another WebGPU backend.');
  if (!(await tf.setBackend('webgpu')) || tf.backend() !== backend) throw new Error('tfjs could not start its WebGPU backend on the given device.');
  await tf.ready();
  const internals = backend as unknown as { commandEncoder: GPUCommandEncoder | null; endComputePassEncoder(): void; submitQueue(): void };
  const info = adapter.info;
  return {
    device,
    adapter: [info.vendor, info.architecture, info.device || info.description].filter(Boolean).join(' / ') || 'unknown adapter',
    backend,
    submissions: () => submissions,
    flush() {
      if (!internals.commandEncoder) return;
      internals.endComputePassEncoder();
      internals.submitQueue();
    },
  };
}

/** Names of the low-rank factors of one adapted projection (same values as the engine's LoRA banks). */
export const loraDown = (block: number, target: 'q' | 'v'): string => `lora.down.blocks.${block}.attn.${target}`;
export const loraUp = (block: number, target: 'q' | 'v'): string => `lora.up.blocks.${block}.attn.${target}`;

export interface TfjsLoraVit {
  /** Mean cross-entropy of a batch (no update). */
  loss(pixels: tf.Tensor4D, labels: tf.Tensor1D): tf.Scalar;
  /** One training step: forward, tfjs's own gradients, Adam update; returns the loss. */
  step(pixels: tf.Tensor4D, labels: tf.Tensor1D): tf.Scalar;
  variables: tf.Variable[];
  dispose(): void;
}

/**
 * timm's ViT (pre-norm blocks, exact GELU, LayerNorm eps 1e-6, class token) written with tfjs ops, with
 * rank-r LoRA on q and v (q += s·(x·D)·U) and a new head; frozen backbone weights are constants, the
 * low-rank factors and the head are variables trained by tfjs's Adam (= AdamW with weight decay 0).
 * `weights` holds the backbone in timm's layout and `lora.down.*` [a, r], `lora.up.*` [r, b], `head.*`.
 */
export function tfjsLoraVit(cfg: VitConfig, classes: number, weights: Map<string, Float32Array>, opts: { scale: number; lr: number }): TfjsLoraVit {
  const { dim: D, heads: H, patch: P, imageSize, depth, mlpDim } = cfg;
  const G = imageSize / P;
  const T = G * G + 1;
  const Dh = D / H;
  const get = (name: string): Float32Array => {
    const w = weights.get(name);
    if (!w) throw new Error(`tfjs peer: missing weight ${name}`);
    return w;
  };
  const frozen = (name: string, shape: number[]): tf.Tensor => tf.keep(tf.tensor(get(name), shape));
  const trainable = (name: string, shape: number[]): tf.Variable => tf.variable(tf.tensor(get(name), shape), true, name);
  const rank = get(loraDown(0, 'q')).length / D;

  const patchW = frozen('patch_embed.proj.weight', [D, 3 * P * P]);
  const patchB = frozen('patch_embed.proj.bias', [D]);
  const cls = frozen('cls_token', [1, 1, D]);
  const pos = frozen('pos_embed', [1, T, D]);
  const blocks = Array.from({ length: depth }, (_, i) => {
    const b = `blocks.${i}`;
    return {
      n1w: frozen(`${b}.norm1.weight`, [D]),
      n1b: frozen(`${b}.norm1.bias`, [D]),
      qkvW: frozen(`${b}.attn.qkv.weight`, [3 * D, D]),
      qkvB: frozen(`${b}.attn.qkv.bias`, [3 * D]),
      projW: frozen(`${b}.attn.proj.weight`, [D, D]),
      projB: frozen(`${b}.attn.proj.bias`, [D]),
      n2w: frozen(`${b}.norm2.weight`, [D]),
      n2b: frozen(`${b}.norm2.bias`, [D]),
      fc1W: frozen(`${b}.mlp.fc1.weight`, [mlpDim, D]),
      fc1B: frozen(`${b}.mlp.fc1.bias`, [mlpDim]),
      fc2W: frozen(`${b}.mlp.fc2.weight`, [D, mlpDim]),
      fc2B: frozen(`${b}.mlp.fc2.bias`, [D]),
      qDown: trainable(loraDown(i, 'q'), [D, rank]),
      qUp: trainable(loraUp(i, 'q'), [rank, D]),
      vDown: trainable(loraDown(i, 'v'), [D, rank]),
      vUp: trainable(loraUp(i, 'v'), [rank, D]),
    };
  });
  const norm = { w: frozen('norm.weight', [D]), b: frozen('norm.bias', [D]) };
  const headW = trainable('head.weight', [classes, D]);
  const headB = trainable('head.bias', [classes]);
  const variables = [...blocks.flatMap((b) => [b.qDown, b.qUp, b.vDown, b.vUp]), headW, headB];

  // x·Wᵀ + bias in one fused op, as tf.layers.dense does.
  const linear = (x: tf.Tensor2D, w: tf.Tensor, bias: tf.Tensor): tf.Tensor2D => tf.fused.matMul({ a: x, b: w as tf.Tensor2D, transposeB: true, bias }) as tf.Tensor2D;
  const layerNorm = (x: tf.Tensor2D, w: tf.Tensor, bias: tf.Tensor): tf.Tensor2D => {
    const mean = tf.mean(x, -1, true);
    const centred = tf.sub(x, mean);
    const variance = tf.mean(tf.square(centred), -1, true);
    return tf.add(tf.mul(tf.mul(centred, tf.rsqrt(tf.add(variance, 1e-6))), w), bias) as tf.Tensor2D;
  };
  const gelu = (x: tf.Tensor2D): tf.Tensor2D => tf.mul(tf.mul(x, 0.5), tf.add(tf.erf(tf.mul(x, Math.SQRT1_2)), 1));
  const heads = (x: tf.Tensor2D, batch: number): tf.Tensor4D => tf.transpose(tf.reshape(x, [batch, T, H, Dh]), [0, 2, 1, 3]);

  const logits = (pixels: tf.Tensor4D): tf.Tensor2D => {
    const B = pixels.shape[0];
    const patches = tf.reshape(tf.transpose(tf.reshape(pixels, [B, 3, G, P, G, P]), [0, 2, 4, 1, 3, 5]), [B * G * G, 3 * P * P]) as tf.Tensor2D;
    const embedded = tf.reshape(linear(patches, patchW, patchB), [B, G * G, D]);
    let x = tf.reshape(tf.add(tf.concat([tf.tile(cls, [B, 1, 1]), embedded], 1), pos), [B * T, D]) as tf.Tensor2D;
    for (const blk of blocks) {
      const h = layerNorm(x, blk.n1w, blk.n1b);
      const [q0, k, v0] = tf.split(linear(h, blk.qkvW, blk.qkvB), 3, 1) as [tf.Tensor2D, tf.Tensor2D, tf.Tensor2D];
      const q = tf.add(q0, tf.mul(tf.matMul(tf.matMul(h, blk.qDown), blk.qUp), opts.scale)) as tf.Tensor2D;
      const v = tf.add(v0, tf.mul(tf.matMul(tf.matMul(h, blk.vDown), blk.vUp), opts.scale)) as tf.Tensor2D;
      const scores = tf.mul(tf.matMul(heads(q, B), heads(k, B), false, true), Dh ** -0.5);
      const attended = tf.matMul(tf.softmax(scores), heads(v, B));
      const merged = tf.reshape(tf.transpose(attended, [0, 2, 1, 3]), [B * T, D]) as tf.Tensor2D;
      x = tf.add(x, linear(merged, blk.projW, blk.projB));
      const h2 = layerNorm(x, blk.n2w, blk.n2b);
      x = tf.add(x, linear(gelu(linear(h2, blk.fc1W, blk.fc1B)), blk.fc2W, blk.fc2B));
    }
    const final = layerNorm(x, norm.w, norm.b);
    const clsFeatures = tf.reshape(tf.slice(tf.reshape(final, [B, T, D]), [0, 0, 0], [B, 1, D]), [B, D]) as tf.Tensor2D;
    return linear(clsFeatures, headW, headB);
  };
  const lossOf = (pixels: tf.Tensor4D, labels: tf.Tensor1D): tf.Scalar => {
    const z = logits(pixels);
    const target = tf.oneHot(tf.cast(labels, 'int32'), classes);
    return tf.mean(tf.neg(tf.sum(tf.mul(target, tf.logSoftmax(z)), -1))) as tf.Scalar;
  };
  const optimizer = tf.train.adam(opts.lr, 0.9, 0.999, 1e-8);
  return {
    variables,
    loss: (pixels, labels) => tf.tidy(() => lossOf(pixels, labels)),
    step: (pixels, labels) => optimizer.minimize(() => lossOf(pixels, labels), true, variables)!,
    dispose() {
      optimizer.dispose();
      for (const v of variables) v.dispose();
      for (const blk of blocks) for (const t of Object.values(blk)) t.dispose();
      for (const t of [patchW, patchB, cls, pos, norm.w, norm.b]) t.dispose();
    },
  };
}
