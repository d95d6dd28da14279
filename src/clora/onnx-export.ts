// The merged model (clora-spec §2.4: the fine-tuned timm ViT, deltas folded in, new head) as an ONNX model of
// standard opset-17 operators, so it deploys wherever ONNX Runtime (or any ONNX runtime) runs:
//   input  pixel_values [N, C, H, W] float32, exactly what `forward` takes (resized, cropped, normalised)
//   output logits [N, classes] float32
// with the class names and the preprocessing (size, crop_pct, mean, std) in the model's metadata_props.
// The graph computes what src/nn/vit.ts computes: Conv patch embedding, class token and position embedding,
// pre-norm blocks (LayerNormalization, Gemm, scaled-dot-product attention from MatMul and Softmax, exact
// GELU as x·(1 + erf(x/√2))/2), the final norm on the class token and a Gemm head. Tokens stay [N·T, d]
// between blocks so every linear map is one Gemm on the weight as timm stores it ([out, in], transB): the
// initializers are views of the merged tensors, not copies. Browser-safe (no Node APIs), for the page's
// worker as well as the command line.
import type { PreprocessParams } from '../data/preprocess';
import type { TensorToWrite } from '../io/safetensors';
import { MAX_ONNX_FILE_BYTES, OnnxGraphBuilder } from '../io/onnx-graph';
import { LAYER_NORM_EPS, vitShapes, type VitConfig } from '../nn/vit';
import { shapeText } from '../gpu/errors';

/** LayerNormalization joined the default operator set in opset 17; Gelu only came in opset 20. */
export const ONNX_OPSET = 17;
/** The IR version that goes with opset 17 (ONNX 1.12). */
const ONNX_IR_VERSION = 8;
/** Room left under the 2 GiB limit for everything that is not a weight (nodes, names, shapes, metadata). */
const GRAPH_BYTES_MARGIN = 1 << 20;

/** A model that cannot be exported to ONNX, said as a sentence with what to do instead. */
export class OnnxExportError extends Error {
  override name = 'OnnxExportError';
}

export interface OnnxExportInfo {
  /** Class names, one per row of the head. */
  classes: readonly string[];
  /** How images become `pixel_values` (stored in the metadata for whoever deploys the model). */
  preprocess: PreprocessParams;
  /** More metadata_props (base model, method, …); the keys this module writes take precedence. */
  metadata?: Record<string, string>;
}

/** Bytes of the weights an ONNX export of this ViT with `classCount` classes holds. */
export function onnxWeightBytes(cfg: VitConfig, classCount: number): number {
  let elements = 0;
  for (const shape of vitShapes({ ...cfg, classes: classCount }).values()) elements += shape.reduce((a, b) => a * b, 1);
  return elements * 4;
}

/**
 * Refuses, before any weight is read, a model whose ONNX file would pass protobuf's 2 GiB limit (ViT-B/16 at
 * 346 MB is far below it; ViT-g is above).
 */
export function checkOnnxFits(cfg: VitConfig, classCount: number): void {
  const bytes = onnxWeightBytes(cfg, classCount);
  if (bytes + GRAPH_BYTES_MARGIN <= MAX_ONNX_FILE_BYTES) return;
  const gb = (bytes / 1e9).toFixed(2);
  throw new OnnxExportError(
    `This model's weights take ${gb} GB, but one ONNX file holds at most 2 GB (protobuf's limit on a message) and this export writes a single self-contained file. Export the merged model as safetensors instead (--format merged, or "Export merged model" in the app), or fine-tune a smaller backbone.`,
  );
}

/** Metadata for deployment: class names and the exact preprocessing that makes `pixel_values`. */
function deploymentMetadata(cfg: VitConfig, info: OnnxExportInfo): Record<string, string> {
  const { cropPct, mean, std } = info.preprocess;
  const resized = Math.floor(cfg.imageSize / cropPct);
  return {
    ...info.metadata,
    classes: JSON.stringify(info.classes),
    image_size: String(cfg.imageSize),
    crop_pct: String(cropPct),
    mean: JSON.stringify(mean),
    std: JSON.stringify(std),
    interpolation: 'bicubic',
    preprocessing:
      `RGB image; resize the shorter side to ${resized} (floor(image_size / crop_pct), bicubic, antialiased), centre-crop ` +
      `${cfg.imageSize}×${cfg.imageSize}, scale to [0, 1], then (x − mean) / std per channel; pixel_values is [N, ${cfg.channels}, ${cfg.imageSize}, ${cfg.imageSize}] float32, channels first.`,
    outputs: 'logits [N, classes]: unnormalised scores, in the order of "classes"; softmax gives probabilities.',
  };
}

/**
 * The `.onnx` bytes of a merged ViT: `tensors` are the merged model's timm keys (clora-spec §2.4; what
 * `mergedExport` returns), `head.weight` [classes, d] and `head.bias` included.
 */
export function mergedModelToOnnx(cfg: VitConfig, tensors: readonly TensorToWrite[], info: OnnxExportInfo): Uint8Array {
  const classCount = info.classes.length;
  checkOnnxFits(cfg, classCount);
  const byName = new Map(tensors.map((t) => [t.name, t] as const));
  const expected = vitShapes({ ...cfg, classes: classCount });
  const problems: string[] = [];
  for (const [name, shape] of expected) {
    const t = byName.get(name);
    if (!t) problems.push(`"${name}" is missing`);
    else if (!(t.data instanceof Float32Array)) problems.push(`"${name}" is not float32`);
    else if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i]) || t.data.length !== shape.reduce((a, b) => a * b, 1)) {
      problems.push(`"${name}" is ${shapeText(t.shape)} with ${t.data.length} values, expected ${shapeText(shape)}`);
    }
  }
  if (problems.length) throw new OnnxExportError(`The merged model does not fit a ViT of width ${cfg.dim}, depth ${cfg.depth} and ${classCount} classes: ${problems.slice(0, 4).join('; ')}.`);

  const g = new OnnxGraphBuilder('clora_web_vit');
  const w = (name: string): string => g.weight(name, expected.get(name)!, byName.get(name)!.data as Float32Array); // checked above
  const { dim: d, tokens: T, heads: h, patch: P, imageSize: S, channels } = cfg;
  const headDim = d / h;
  const linear = (x: string, path: string, out?: string): string => g.node('Gemm', [x, w(`${path}.weight`), w(`${path}.bias`)], { transB: { i: 1 } }, out);
  const layerNorm = (x: string, path: string, out?: string): string =>
    g.node('LayerNormalization', [x, w(`${path}.weight`), w(`${path}.bias`)], { axis: { i: -1 }, epsilon: { f: LAYER_NORM_EPS } }, out);

  // Patch embedding and tokens: [N, C, S, S] → [N, d, S/P, S/P] → [N, n, d]; class token first, positions added.
  const pixels = g.input('pixel_values', ['batch', channels, S, S]);
  const patches = g.node('Conv', [pixels, w('patch_embed.proj.weight'), w('patch_embed.proj.bias')], { kernel_shape: { ints: [P, P] }, strides: { ints: [P, P] } });
  const patchTokens = g.node('Transpose', [g.node('Reshape', [patches, g.int64([0, d, T - 1])])], { perm: { ints: [0, 2, 1] } });
  const batch = g.node('Shape', [pixels], { start: { i: 0 }, end: { i: 1 } }, 'batch_size');
  const clsTokens = g.node('Expand', [w('cls_token'), g.node('Concat', [batch, g.int64([1, 1])], { axis: { i: 0 } })]);
  const embedded = g.node('Add', [g.node('Concat', [clsTokens, patchTokens], { axis: { i: 1 } }), w('pos_embed')], {}, 'embeddings');
  let x = g.node('Reshape', [embedded, g.int64([-1, d])]);

  const scale = g.scalar(headDim ** -0.5);
  for (let i = 0; i < cfg.depth; i++) {
    const b = `blocks.${i}`;
    // Attention: qkv [N·T, 3d] → [N, T, 3, heads, dh] → [3, N, heads, T, dh]; q, k, v each [N, heads, T, dh].
    const qkv = linear(layerNorm(x, `${b}.norm1`), `${b}.attn.qkv`);
    const split = g.node('Transpose', [g.node('Reshape', [qkv, g.int64([-1, T, 3, h, headDim])])], { perm: { ints: [2, 0, 3, 1, 4] } });
    const [q, k, v] = [0, 1, 2].map((j) => g.node('Gather', [split, g.int64([j], true)], { axis: { i: 0 } })) as [string, string, string];
    const scores = g.node('MatMul', [g.node('Mul', [q, scale]), g.node('Transpose', [k], { perm: { ints: [0, 1, 3, 2] } })]);
    const attended = g.node('MatMul', [g.node('Softmax', [scores], { axis: { i: -1 } }), v]);
    const merged = g.node('Reshape', [g.node('Transpose', [attended], { perm: { ints: [0, 2, 1, 3] } }), g.int64([-1, d])]);
    x = g.node('Add', [x, linear(merged, `${b}.attn.proj`)]);
    // MLP with exact GELU: f · (1 + erf(f / √2)) / 2.
    const f = linear(layerNorm(x, `${b}.norm2`), `${b}.mlp.fc1`);
    const erf = g.node('Erf', [g.node('Mul', [f, g.scalar(Math.SQRT1_2)])]);
    const gelu = g.node('Mul', [g.node('Mul', [f, g.node('Add', [erf, g.scalar(1)])]), g.scalar(0.5)]);
    x = g.node('Add', [x, linear(gelu, `${b}.mlp.fc2`)], {}, `${b}.out`);
  }

  // LayerNorm acts on each token alone, so the final norm is applied to the class token only.
  const cls = g.node('Gather', [g.node('Reshape', [x, g.int64([-1, T, d])]), g.int64([0], true)], { axis: { i: 1 } });
  const features = layerNorm(cls, 'norm', 'features');
  linear(features, 'head', 'logits');
  g.output('logits', ['batch', classCount]);

  const base = info.metadata?.base_model;
  return g.bytes({
    opset: ONNX_OPSET,
    irVersion: ONNX_IR_VERSION,
    producerName: 'clora-web',
    docString: `A timm ViT${base ? ` (${base})` : ''} fine-tuned with clora-web, its adapter merged into the weights: pixel_values → logits over ${classCount} classes.`,
    metadata: deploymentMetadata(cfg, info),
  });
}
