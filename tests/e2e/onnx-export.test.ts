// The ONNX export runs in a real browser (headless Chromium): the page exports the bundled backbone with the
// browser-safe mergedModelToOnnx (what the page's worker calls), and the file it makes is byte for byte the
// one Node makes from the same weights (whose logits tests/unit/onnx-export.test.ts checks against the engine),
// and ONNX Runtime runs it.
import { readFileSync } from 'node:fs';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mergedModelToOnnx } from '../../src/clora/onnx-export';
import { bytesSource, openSafetensors } from '../../src/io/safetensors';
import { vitConfigFromShapes } from '../../src/nn/vit';
import { startBrowserEnv, watchPage, type BrowserEnv } from './browser';

let env: BrowserEnv;
beforeAll(async () => {
  env = await startBrowserEnv();
});
afterAll(async () => {
  await env?.close();
});

describe('ONNX export in the browser', () => {
  it('the page writes the same .onnx bytes as Node, and ONNX Runtime runs them', async () => {
    const page = await env.browser.newPage();
    const problems = watchPage(page);
    await page.goto(`${env.baseUrl}/tests/e2e/onnx-export.html`);
    await page.waitForFunction(() => window.onnxResult !== undefined, undefined, { timeout: 60_000 });
    const result = await page.evaluate(() => window.onnxResult!);
    expect(result.failure, problems.join('\n')).toBeUndefined();
    const fromPage = Buffer.from(result.base64!, 'base64');
    await page.close();

    const path = new URL('../../public/models/vit-mnist.safetensors', import.meta.url).pathname;
    const file = await openSafetensors(bytesSource(new Uint8Array(readFileSync(path)), path));
    const cfg = vitConfigFromShapes(new Map([...file.tensors].map(([n, t]) => [n, t.shape] as const)), 4);
    const tensors = await Promise.all(file.names().map(async (name) => ({ name, shape: file.tensors.get(name)!.shape, data: await file.readF32(name) })));
    const classes = Array.from({ length: cfg.classes }, (_, i) => String(i));
    const fromNode = mergedModelToOnnx(cfg, tensors, { classes, preprocess: { size: 28, cropPct: 1, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] } });
    expect(fromPage.length).toBeGreaterThan(580_000);
    expect(Buffer.compare(fromPage, Buffer.from(fromNode))).toBe(0);

    const session = await ort.InferenceSession.create(fromPage);
    const { logits } = await session.run({ pixel_values: new ort.Tensor('float32', new Float32Array(2 * 3 * 28 * 28).fill(-1), [2, 3, 28, 28]) });
    expect(logits!.dims).toEqual([2, 10]);
    expect([...(logits!.data as Float32Array)].every(Number.isFinite)).toBe(true);
    await session.release();
  });
});
