// Exports the bundled backbone (with its own digit head) to ONNX inside the page, with the same browser-safe
// function the worker calls, and hands the bytes to the test as base64.
import { mergedModelToOnnx } from '../../src/clora/onnx-export';
import { bytesSource, openSafetensors } from '../../src/io/safetensors';
import { vitConfigFromShapes } from '../../src/nn/vit';

interface OnnxPageResult {
  base64?: string;
  failure?: string;
}

declare global {
  interface Window {
    onnxResult?: OnnxPageResult;
  }
}

async function main(): Promise<OnnxPageResult> {
  const response = await fetch('/models/vit-mnist.safetensors');
  const file = await openSafetensors(bytesSource(new Uint8Array(await response.arrayBuffer()), 'vit-mnist.safetensors'));
  const cfg = vitConfigFromShapes(new Map([...file.tensors].map(([n, t]) => [n, t.shape] as const)), 4);
  const tensors = await Promise.all(file.names().map(async (name) => ({ name, shape: file.tensors.get(name)!.shape, data: await file.readF32(name) })));
  const classes = Array.from({ length: cfg.classes }, (_, i) => String(i));
  const bytes = mergedModelToOnnx(cfg, tensors, { classes, preprocess: { size: 28, cropPct: 1, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] } });
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return { base64: btoa(binary) };
}

main()
  .then((r) => (window.onnxResult = r))
  .catch((e: unknown) => (window.onnxResult = { failure: e instanceof Error ? (e.stack ?? e.message) : String(e) }))
  .finally(() => (document.getElementById('out')!.textContent = 'done'));
