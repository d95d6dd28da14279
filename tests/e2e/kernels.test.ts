import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBrowserEnv, watchPage, type BrowserEnv } from './browser';

let env: BrowserEnv;
beforeAll(async () => {
  env = await startBrowserEnv();
});
afterAll(async () => {
  await env?.close();
});

describe('kernels on the page\'s WebGPU (headless Chromium)', () => {
  it('matmul (fused bias + GELU, thin rank-8), fused attention and the point grouping and max match the f64 reference', async () => {
    const page = await env.browser.newPage();
    const problems = watchPage(page);
    await page.goto(`${env.baseUrl}/tests/e2e/kernels.html`);
    await page.waitForFunction(() => window.smokeResult !== undefined, undefined, { timeout: 90_000 });
    const result = await page.evaluate(() => window.smokeResult!);
    expect(result.failure, problems.join('\n')).toBeUndefined();
    expect(result.adapter).not.toBe('');
    expect(Object.keys(result.errors).sort()).toEqual(['attention', 'fpsIndices', 'knnIndices', 'matmul', 'matmulThin', 'maxOverGroup', 'neighbourhood']);
    for (const [name, err] of Object.entries(result.errors)) expect(err, name).toBeLessThanOrEqual(1e-4);
    await page.close();
  });
});
