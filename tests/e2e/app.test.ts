import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBrowserEnv, watchPage, type BrowserEnv } from './browser';

let env: BrowserEnv;
beforeAll(async () => {
  env = await startBrowserEnv();
});
afterAll(async () => {
  await env?.close();
});

describe('the app in headless Chromium', () => {
  it('finds the WebGPU adapter and names it', async () => {
    const page = await env.browser.newPage();
    const problems = watchPage(page);
    await page.goto(`${env.baseUrl}/`);
    const status = page.locator('clora-app').getByTestId('gpu-status');
    await expect.poll(async () => status.textContent(), { timeout: 60_000 }).toMatch(/WebGPU ready on .+, emulated profile\./);
    expect(await status.getAttribute('role')).toBe('status');
    expect(problems).toEqual([]);
    await page.close();
  });

  it('loads a backbone from a local file, and keeps the current one when a URL gives no weights', async () => {
    const page = await env.browser.newPage();
    const problems = watchPage(page);
    await page.goto(`${env.baseUrl}/`);
    const app = page.locator('clora-app');
    const info = app.getByTestId('backbone-info');
    await expect.poll(async () => info.textContent().catch(() => ''), { timeout: 60_000 }).toMatch(/Bundled ViT.*4 blocks, width 64, 4 heads, 28×28 input/s);
    await app.getByRole('radio', { name: 'A file on this computer' }).check();
    await app.getByLabel('Backbone file (.safetensors)').setInputFiles('tests/fixtures/train/backbone.safetensors');
    await expect.poll(async () => info.textContent().catch(() => ''), { timeout: 60_000 }).toMatch(/backbone\.safetensors.*2 blocks, width 24, 3 heads, 8×8 input/s);
    await app.getByRole('radio', { name: 'A URL' }).check();
    await app.getByLabel('Backbone URL').fill(`${env.baseUrl}/no-such-model.safetensors`);
    await app.getByRole('button', { name: 'Load URL' }).click();
    const alert = app.getByTestId('backbone-info').getByRole('alert');
    await expect.poll(async () => alert.textContent().catch(() => ''), { timeout: 60_000 }).toMatch(/no-such-model\.safetensors .*(web page, not weights|does not exist).* Still using backbone\.safetensors\./);
    expect(problems).toEqual([]);
    await page.close();
  });

  it('says plainly what to do when the browser has no WebGPU', async () => {
    const page = await env.browser.newPage();
    await page.addInitScript(() => {
      Object.defineProperty(navigator, 'gpu', { value: undefined, configurable: true });
    });
    await page.goto(`${env.baseUrl}/`);
    const alert = page.locator('clora-app').getByRole('alert');
    await expect.poll(async () => alert.textContent(), { timeout: 30_000 }).toMatch(/does not offer WebGPU.*--enable-unsafe-webgpu/);
    // Nothing that needs the GPU is offered.
    expect(await page.locator('clora-app').getByRole('button', { name: 'Train' }).count()).toBe(0);
    await page.close();
  });

  it('says so when the browser offers WebGPU but no adapter', async () => {
    const page = await env.browser.newPage();
    // A blocked adapter: requestAdapter() resolves with null, in the worker as in the page.
    await page.route('**/src/worker/main.ts*', async (route) => {
      const response = await route.fetch();
      const body = `navigator.gpu.requestAdapter = async () => null;\n${await response.text()}`;
      await route.fulfill({ response, body });
    });
    await page.goto(`${env.baseUrl}/`);
    const alert = page.locator('clora-app').getByRole('alert');
    await expect.poll(async () => alert.textContent(), { timeout: 60_000 }).toMatch(/No WebGPU adapter is available/);
    await page.close();
  });
});
