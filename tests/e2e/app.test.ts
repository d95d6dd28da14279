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
    const status = page.locator('clora-app').getByRole('status');
    await expect.poll(async () => status.textContent(), { timeout: 60_000 }).toMatch(/WebGPU ready on .+/);
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
    await page.close();
  });
});
