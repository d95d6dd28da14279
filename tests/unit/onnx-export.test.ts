// The merged model as ONNX, run in ONNX Runtime (onnxruntime-node, CPU): `export --format onnx` of the fixture
// backbone with seeded CLoRA and LoRA adapters (tests/fixtures/train/init_*_all: every factor non-zero) gives
// the engine's logits within 1e-4 at batch 6, 1 and 3 from one file; the file's names, shapes, opset and
// metadata; the bundled backbone through the browser-safe function the worker calls; ViT-Tiny's real
// dimensions against PyTorch; the 2 GB refusal (from shapes alone, and from the command line on a sparse 4 GB file).
import { existsSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fromBinary } from '@bufbuild/protobuf';
import { ModelProtoSchema, TensorProto_DataType } from 'onnx-buf';
import * as ort from 'onnxruntime-node';
import { describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main';
import { openImageBackbone } from '../../src/cli/model-source';
import { mergedExport } from '../../src/clora/export';
import { nativeMetadata, readAdapterFile, type AdapterFile } from '../../src/clora/files';
import { createFineTuneModel } from '../../src/clora/model';
import { checkOnnxFits, mergedModelToOnnx, onnxWeightBytes, OnnxExportError } from '../../src/clora/onnx-export';
import { DEFAULT_ADAPTER_SETTINGS } from '../../src/clora/settings';
import type { PreprocessParams } from '../../src/data/preprocess';
import { bytesSource, openSafetensors, writeSafetensors, type SafetensorsFile } from '../../src/io/safetensors';
import { vitConfigFromShapes, vitShapes, type VitConfig } from '../../src/nn/vit';
import { predictLogits } from '../../src/train/predict';
import { gpu } from '../helpers/gpu';
import { seededTensor } from '../helpers/seeded-weights';
import { maxRelError, mulberry32 } from '../reference/ops';

const root = new URL('../../', import.meta.url).pathname;
const fixtures = join(root, 'tests/fixtures/train');
const backbonePath = join(fixtures, 'backbone.safetensors');

async function open(path: string): Promise<SafetensorsFile> {
  return openSafetensors(bytesSource(new Uint8Array(readFileSync(path)), path));
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/** Logits of an ONNX model from ONNX Runtime for `n` images of [c, s, s]. */
async function runOnnx(session: ort.InferenceSession, pixels: Float32Array, n: number, c: number, s: number): Promise<Float32Array> {
  const out = await session.run({ pixel_values: new ort.Tensor('float32', pixels, [n, c, s, s]) });
  const logits = out.logits!;
  expect(logits.dims[0]).toBe(n);
  return logits.data as Float32Array;
}

/** The engine's logits (`forward` with the adapter, not merged) on the shared GPU. */
async function engineLogits(cfg: VitConfig, adapter: AdapterFile, read: (name: string) => Promise<Float32Array>, pixels: Float32Array, n: number): Promise<Float32Array> {
  const model = await createFineTuneModel(await gpu(), cfg, adapter.settings, adapter.classes, read, adapter.tensors);
  try {
    return await predictLogits(model, pixels, n, [cfg.channels, cfg.imageSize, cfg.imageSize]);
  } finally {
    model.dispose();
  }
}

describe('export --format onnx, run in ONNX Runtime', () => {
  for (const kind of ['clora_all', 'lora_all']) {
    it(`${kind}: ONNX Runtime gives the engine's logits within 1e-4, at batch 6, 1 and 3 from one file`, async () => {
      const out = join(mkdtempSync(join(tmpdir(), 'clora-onnx-')), 'model.onnx');
      const adapterPath = join(fixtures, `init_${kind}.safetensors`);
      expect(await main(['export', '--model', backbonePath, '--adapter', adapterPath, '--format', 'onnx', '--out', out])).toBe(0);

      const backbone = await open(backbonePath);
      const cfg = vitConfigFromShapes(new Map([...backbone.tensors].map(([n, t]) => [n, t.shape] as const)), 3);
      const adapter = await readAdapterFile(await open(adapterPath), cfg);
      const pixels = await (await open(join(fixtures, 'data.safetensors'))).readF32('pixel_values');
      const engine = await engineLogits(cfg, adapter, (n) => backbone.readF32(n), pixels, 6);

      const session = await ort.InferenceSession.create(out);
      const all = await runOnnx(session, pixels, 6, 3, 8);
      expect(maxAbsDiff(all, engine)).toBeLessThanOrEqual(1e-4);
      // And both are PyTorch's float64 answer (tests/fixtures/train/peft_expected_*).
      const reference = await (await open(join(fixtures, `peft_expected_${kind}.safetensors`))).readF32('logits');
      expect(maxRelError(all, reference)).toBeLessThanOrEqual(1e-4);
      // The batch is dynamic: one image, then the last three.
      const per = 3 * 8 * 8;
      expect(maxAbsDiff(await runOnnx(session, pixels.slice(0, per), 1, 3, 8), engine.subarray(0, 3))).toBeLessThanOrEqual(1e-4);
      expect(maxAbsDiff(await runOnnx(session, pixels.slice(3 * per), 3, 3, 8), engine.subarray(9))).toBeLessThanOrEqual(1e-4);
      await session.release();
    });
  }

  it('names pixel_values [batch, 3, 8, 8] → logits [batch, 3], opset 17, and carries classes and preprocessing in metadata_props', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'clora-onnx-')), 'model.onnx');
    expect(await main(['export', '--model', backbonePath, '--adapter', join(fixtures, 'init_clora_all.safetensors'), '--format', 'onnx', '--out', out])).toBe(0);
    const bytes = readFileSync(out);

    // What ONNX Runtime reads from the file.
    const session = await ort.InferenceSession.create(out);
    expect(session.inputNames).toEqual(['pixel_values']);
    expect(session.outputNames).toEqual(['logits']);
    expect(session.inputMetadata[0]).toMatchObject({ name: 'pixel_values', isTensor: true, type: 'float32', shape: ['batch', 3, 8, 8] });
    expect(session.outputMetadata[0]).toMatchObject({ name: 'logits', isTensor: true, type: 'float32', shape: ['batch', 3] });
    await session.release();

    // The file itself.
    const model = fromBinary(ModelProtoSchema, bytes);
    expect(model.irVersion).toBe(8n);
    expect(model.opsetImport.map((o) => [o.domain, o.version])).toEqual([['', 17n]]);
    expect(model.producerName).toBe('clora-web');
    const meta = Object.fromEntries(model.metadataProps.map((p) => [p.key, p.value]));
    expect(JSON.parse(meta.classes!)).toEqual(['cat', 'dog', 'owl']);
    expect(meta).toMatchObject({ image_size: '8', crop_pct: '1', interpolation: 'bicubic', merged_from: 'clora', num_heads: '3' });
    expect(JSON.parse(meta.mean!)).toEqual([0.5, 0.5, 0.5]);
    expect(JSON.parse(meta.std!)).toEqual([0.5, 0.5, 0.5]);
    expect(meta.preprocessing).toMatch(/centre-crop 8×8.*\(x − mean\) \/ std/);
    const graph = model.graph!;
    // Standard operators of the default domain only; GELU as Erf (Gelu is opset 20), LayerNormalization (opset 17).
    expect(graph.node.every((n) => n.domain === '')).toBe(true);
    expect(new Set(graph.node.map((n) => n.opType))).toEqual(new Set(['Conv', 'Reshape', 'Transpose', 'Shape', 'Concat', 'Expand', 'Add', 'LayerNormalization', 'Gemm', 'Gather', 'Mul', 'MatMul', 'Softmax', 'Erf']));
    // Weights are float32 initializers in raw_data, as stored: the merged model's tensors bit for bit.
    const weights = graph.initializer.filter((t) => t.dataType === TensorProto_DataType.FLOAT && t.dims.length > 0);
    expect(weights.map((t) => t.name).sort()).toEqual([...vitShapes({ ...vitConfigFromShapes(new Map([...(await open(backbonePath)).tensors].map(([n, t]) => [n, t.shape] as const)), 3), classes: 3 }).keys()].sort());
    const mergedPath = join(mkdtempSync(join(tmpdir(), 'clora-onnx-')), 'merged.safetensors');
    expect(await main(['export', '--model', backbonePath, '--adapter', join(fixtures, 'init_clora_all.safetensors'), '--format', 'merged', '--out', mergedPath])).toBe(0);
    const merged = await open(mergedPath);
    for (const t of weights) {
      expect(t.floatData.length, t.name).toBe(0);
      expect(t.dims.map(Number), t.name).toEqual(merged.tensors.get(t.name)!.shape);
      const expected = await merged.readF32(t.name);
      expect(Buffer.compare(Buffer.from(t.rawData), Buffer.from(expected.buffer, expected.byteOffset, expected.byteLength)), t.name).toBe(0);
    }
  });

  it('the bundled backbone with its own digit head, through mergedModelToOnnx (what the page worker calls): ONNX Runtime agrees with the engine', async () => {
    const backbone = await openImageBackbone('clora-web/vit-mnist');
    try {
      const { cfg } = backbone;
      const classes = Array.from({ length: cfg.classes }, (_, i) => String(i));
      const adapter: AdapterFile = {
        settings: { ...DEFAULT_ADAPTER_SETTINGS, method: 'head' },
        classes,
        tensors: new Map([['head.weight', await backbone.read('head.weight')], ['head.bias', await backbone.read('head.bias')]]),
        metadata: {},
      };
      const shapes = vitShapes({ ...cfg, classes: 0 });
      const tensors = await mergedExport(cfg, adapter, [...shapes.keys()], backbone.read, shapes);
      const bytes = mergedModelToOnnx(cfg, tensors, { classes, preprocess: backbone.preprocess, metadata: backbone.describe() });
      const meta = Object.fromEntries(fromBinary(ModelProtoSchema, bytes).metadataProps.map((p) => [p.key, p.value]));
      expect(meta).toMatchObject({ image_size: '28', crop_pct: '1', base_model: 'clora-web/vit-mnist', classes: JSON.stringify(classes) });

      const n = 3;
      const random = mulberry32(20261207);
      const pixels = Float32Array.from({ length: n * 3 * 28 * 28 }, () => 2 * random() - 1);
      const session = await ort.InferenceSession.create(bytes);
      const onnx = await runOnnx(session, pixels, n, 3, 28);
      await session.release();
      const engine = await engineLogits(cfg, adapter, backbone.read, pixels, n);
      expect(onnx.length).toBe(n * 10);
      expect(maxAbsDiff(onnx, engine)).toBeLessThanOrEqual(1e-4);
    } finally {
      await backbone.close();
    }
  });

  it('ViT-Tiny\'s real dimensions (12 blocks, 197 tokens, 1000 classes): ONNX Runtime gives PyTorch\'s logits', async () => {
    // tests/fixtures/vit_tiny_dims.safetensors: weights generated from a seed on both sides, PyTorch's logits stored.
    const file = await open(join(root, 'tests/fixtures/vit_tiny_dims.safetensors'));
    const cfg: VitConfig = { depth: 12, dim: 192, heads: 3, patch: 16, imageSize: 224, channels: 3, mlpDim: 768, tokens: 197, classes: 1000 };
    const tensors = [...vitShapes(cfg)].map(([name, shape]) => ({ name, shape, data: seededTensor(name, shape, Number(file.metadata.base_seed)) }));
    const classes = Array.from({ length: 1000 }, (_, i) => `class ${i}`);
    const bytes = mergedModelToOnnx(cfg, tensors, { classes, preprocess: { size: 224, cropPct: 0.9, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] } });
    // 5,717,416 float32 weights and a graph of a few kilobytes.
    expect(bytes.length - 5_717_416 * 4).toBeGreaterThan(0);
    expect(bytes.length - 5_717_416 * 4).toBeLessThan(64 * 1024);
    const meta = Object.fromEntries(fromBinary(ModelProtoSchema, bytes).metadataProps.map((p) => [p.key, p.value]));
    expect(meta).toMatchObject({ image_size: '224', crop_pct: '0.9' });
    expect(meta.preprocessing).toMatch(/resize the shorter side to 248 .*centre-crop 224×224/);
    const session = await ort.InferenceSession.create(bytes);
    const logits = await runOnnx(session, await file.readF32('input.pixel_values'), 1, 3, 224);
    await session.release();
    expect(maxRelError(logits, await file.readF32('output.logits'))).toBeLessThanOrEqual(1e-4);
  });

  it('a model over protobuf\'s 2 GB is refused with a sentence before any weight is read; ViT-B/16 (346 MB) fits', () => {
    const vitB: VitConfig = { depth: 12, dim: 768, heads: 12, patch: 16, imageSize: 224, channels: 3, mlpDim: 3072, tokens: 197, classes: 0 };
    // timm's vit_base_patch16_224 with a 1000-class head: 86,567,656 parameters.
    expect(onnxWeightBytes(vitB, 1000)).toBe(86_567_656 * 4);
    expect(() => checkOnnxFits(vitB, 1000)).not.toThrow();
    const vitG: VitConfig = { depth: 40, dim: 1408, heads: 16, patch: 14, imageSize: 224, channels: 3, mlpDim: 6144, tokens: 257, classes: 0 };
    const preprocess: PreprocessParams = { size: 224, cropPct: 0.875, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] };
    // No tensors at all: the refusal comes from the shapes alone.
    expect(() => mergedModelToOnnx(vitG, [], { classes: ['a', 'b'], preprocess })).toThrow(OnnxExportError);
    expect(() => mergedModelToOnnx(vitG, [], { classes: ['a', 'b'], preprocess })).toThrow(/weights take 4\.\d\d GB, but one ONNX file holds at most 2 GB.*--format merged/);
  });

  it('the command line refuses a 4 GB backbone before reading its weights, and an unknown --format names onnx', async () => {
    // A ViT-g/14-sized safetensors file: a real header and 4 GB of (sparse, unread) weights.
    const dir = mkdtempSync(join(tmpdir(), 'clora-onnx-'));
    const cfg: VitConfig = { depth: 40, dim: 1408, heads: 16, patch: 14, imageSize: 224, channels: 3, mlpDim: 6144, tokens: 257, classes: 0 };
    const header: Record<string, unknown> = { __metadata__: { num_heads: '16' } };
    let offset = 0;
    for (const [name, shape] of vitShapes(cfg)) {
      const bytes = shape.reduce((a, b) => a * b, 4);
      header[name] = { dtype: 'F32', shape, data_offsets: [offset, offset + bytes] };
      offset += bytes;
    }
    const json = new TextEncoder().encode(JSON.stringify(header).padEnd(Math.ceil(JSON.stringify(header).length / 8) * 8, ' '));
    const prefix = Buffer.alloc(8);
    prefix.writeBigUInt64LE(BigInt(json.length));
    const modelPath = join(dir, 'vit-g.safetensors');
    writeFileSync(modelPath, Buffer.concat([prefix, json]));
    truncateSync(modelPath, 8 + json.length + offset);
    const settings = { ...DEFAULT_ADAPTER_SETTINGS, method: 'head' as const };
    const adapterPath = join(dir, 'head.safetensors');
    writeFileSync(adapterPath, writeSafetensors([{ name: 'head.weight', shape: [2, 1408], data: new Float32Array(2 * 1408) }, { name: 'head.bias', shape: [2], data: new Float32Array(2) }], nativeMetadata(settings, ['a', 'b'])));

    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      const out = join(dir, 'model.onnx');
      expect(await main(['export', '--model', modelPath, '--adapter', adapterPath, '--format', 'onnx', '--out', out])).toBe(1);
      expect(stderr.mock.calls.map((c) => String(c[0])).join('')).toMatch(/error: This model's weights take 4\.04 GB, but one ONNX file holds at most 2 GB.*--format merged/);
      expect(existsSync(out)).toBe(false);
      stderr.mockClear();
      expect(await main(['export', '--model', backbonePath, '--adapter', join(fixtures, 'init_lora_all.safetensors'), '--format', 'tflite', '--out', out])).toBe(1);
      expect(stderr.mock.calls.map((c) => String(c[0])).join('')).toMatch(/--format must be peft, merged or onnx, got "tflite"/);
    } finally {
      stderr.mockRestore();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('merged tensors that do not fit the configuration are refused, naming the tensor', async () => {
    const backbone = await open(backbonePath);
    const cfg = vitConfigFromShapes(new Map([...backbone.tensors].map(([n, t]) => [n, t.shape] as const)), 3);
    const tensors = await Promise.all(backbone.names().map(async (name) => ({ name, shape: backbone.tensors.get(name)!.shape, data: await backbone.readF32(name) })));
    const preprocess: PreprocessParams = { size: 8, cropPct: 1, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] };
    expect(() => mergedModelToOnnx(cfg, tensors, { classes: ['a', 'b'], preprocess })).toThrow(/"head\.weight" is missing/);
  });
});
