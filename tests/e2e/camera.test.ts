// Camera choice in headless Chromium with three fake cameras (`--use-fake-device-for-media-stream=
// device-count=3`): the cameras are listed, the one chosen streams, the choice, mirroring and frame rate are
// remembered after a reload (both webcams of the page use them), a remembered camera that is gone falls back
// to the default one with a sentence, and "Hold to record" works with a finger (touch events through the
// DevTools protocol), taking frames at a steady rate with a live count. Chromium's fake cameras report no
// facing mode and are named fake_device_0…2, so front/back/external naming is checked on labels and
// capabilities in tests/unit/cameras.test.ts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Locator, Page } from 'playwright-core';
import { app, artifact, openApp, SMALL_BACKBONE, unnamedControls } from './app-helpers';
import { startBrowserEnv, watchPage, type BrowserEnv } from './browser';

/** Three fake cameras and automatic consent to the camera prompt. */
const THREE_FAKE_CAMERAS = ['--use-fake-device-for-media-stream=device-count=3', '--use-fake-ui-for-media-stream'];

let env: BrowserEnv;
beforeAll(async () => {
  env = await startBrowserEnv({ args: THREE_FAKE_CAMERAS });
});
afterAll(async () => {
  await env?.close();
});

function webcam(page: Page): Locator {
  return page.locator('clora-data-panel clora-webcam');
}

/** The deviceId of the camera the data panel's webcam streams now ('' when off). */
async function streaming(page: Page): Promise<string> {
  return page.evaluate(() => {
    const cam = document.querySelector('clora-app')?.shadowRoot?.querySelector('clora-data-panel')?.shadowRoot?.querySelector('clora-webcam');
    const video = cam?.shadowRoot?.querySelector('video');
    return video && video.readyState >= 2 ? (video.getAttribute('data-device-id') ?? '') : '';
  });
}

async function classCount(page: Page, name: string): Promise<number> {
  const text = (await app(page).getByRole('region', { name: `Class ${name}` }).getByTestId('class-count').textContent()) ?? '';
  return Number(/^(\d+)/.exec(text)?.[1] ?? -1);
}

describe('camera choice', () => {
  it('lists the cameras, streams and remembers the chosen one with mirroring and rate, and records by touch at a steady rate', { timeout: 240_000 }, async () => {
    const context = await env.browser.newContext({ permissions: ['camera'], hasTouch: true, viewport: { width: 1024, height: 900 } });
    const page = await context.newPage();
    const problems = watchPage(page);
    await openApp(page, env.baseUrl, { backbone: SMALL_BACKBONE });
    const newClass = app(page).getByLabel('New class');
    await newClass.fill('mug');
    await newClass.press('Enter');
    await expect.poll(() => classCount(page, 'mug')).toBe(0);

    // The three cameras are listed by name; the default streams first.
    const cam = webcam(page);
    const select = cam.getByLabel('Camera', { exact: true });
    await expect.poll(async () => select.locator('option').allTextContents(), { timeout: 30_000 }).toEqual(['fake_device_0', 'fake_device_1', 'fake_device_2']);
    const ids = await select.locator('option').evaluateAll((els) => els.map((el) => (el as HTMLOptionElement).value));
    expect(new Set(ids).size).toBe(3);
    await cam.getByRole('button', { name: 'Start camera' }).click();
    await expect.poll(() => streaming(page), { timeout: 30_000 }).toBe(ids[0]);

    // Choosing another camera switches the stream to it.
    await select.selectOption({ label: 'fake_device_2' });
    await expect.poll(() => streaming(page), { timeout: 30_000 }).toBe(ids[2]);
    await cam.getByLabel('Mirror').check();
    expect(await cam.locator('video').evaluate((v) => getComputedStyle(v).transform)).toBe('matrix(-1, 0, 0, 1, 0, 0)');
    await cam.getByLabel('Frames per second').selectOption('10');
    expect(await unnamedControls(page)).toEqual([]);

    // Hold to record with a finger: touch down on the button, a live count while held, frames on release.
    const hold = cam.getByRole('button', { name: 'Hold to record' });
    const box = (await hold.boundingBox())!;
    const cdp = await context.newCDPSession(page);
    const at = [{ x: box.x + box.width / 2, y: box.y + box.height / 2 }];
    await cdp.send('Input.dispatchTouchEvent', { type: 'touchStart', touchPoints: at });
    const count = cam.getByTestId('recording-count');
    await expect.poll(async () => count.textContent(), { timeout: 10_000 }).toMatch(/^Recording… [1-9]\d* frames? \(10 per second\)$/);
    const heldFrom = Date.now();
    const first = Number(/(\d+) frame/.exec((await count.textContent()) ?? '')![1]);
    await expect.poll(async () => Number(/(\d+) frame/.exec((await count.textContent()) ?? '')?.[1] ?? 0), { timeout: 10_000 }).toBeGreaterThan(first);
    await page.waitForTimeout(Math.max(0, 1500 - (Date.now() - heldFrom)));
    await page.locator('clora-data-panel').locator('.webcam').screenshot({ path: artifact('camera-recording.png'), scale: 'css' });
    await cdp.send('Input.dispatchTouchEvent', { type: 'touchEnd', touchPoints: [] });
    const heldSeconds = (Date.now() - heldFrom) / 1000;
    await expect.poll(async () => count.textContent(), { timeout: 10_000 }).toMatch(/^Captured \d+ frames?$/);
    // A frame being taken at the release still counts (it was started while held): it lands a moment after
    // the count first reads "Captured", so wait until the class holds exactly what the count finally says.
    const capturedNow = async (): Promise<number> => Number(/Captured (\d+)/.exec((await count.textContent()) ?? '')?.[1] ?? -1);
    const settled = async (): Promise<boolean> => {
      const before = await classCount(page, 'mug');
      await page.waitForTimeout(300);
      return before === (await classCount(page, 'mug')) && before === (await capturedNow());
    };
    await expect.poll(settled, { timeout: 60_000 }).toBe(true);
    const captured = await capturedNow();
    // A steady rate: never more frames than the clock allows (frames are skipped, not rushed, when one is late).
    expect(captured).toBeGreaterThanOrEqual(3);
    expect(captured).toBeLessThanOrEqual(Math.ceil(10 * (heldSeconds + 1)) + 1);
    await cam.getByRole('button', { name: 'Stop camera' }).click();

    // After a reload the choice, mirroring and rate are remembered, for Try it's webcam too.
    await page.reload();
    await app(page).getByTestId('backbone-info').waitFor({ timeout: 60_000 });
    await expect.poll(async () => select.inputValue(), { timeout: 30_000 }).toBe(ids[2]);
    expect(await cam.getByLabel('Mirror').isChecked()).toBe(true);
    expect(await cam.getByLabel('Frames per second').inputValue()).toBe('10');
    const tryCam = page.locator('clora-try-it clora-webcam');
    expect(await tryCam.getByLabel('Camera', { exact: true }).inputValue()).toBe(ids[2]);
    expect(await tryCam.getByLabel('Mirror').isChecked()).toBe(true);
    await cam.getByRole('button', { name: 'Start camera' }).click();
    await expect.poll(() => streaming(page), { timeout: 30_000 }).toBe(ids[2]);
    await cam.getByRole('button', { name: 'Stop camera' }).click();

    // A remembered camera that is not connected any more: the default one, and a sentence saying so.
    await page.evaluate(() => localStorage.setItem('clora-web.camera', JSON.stringify({ deviceId: 'a-camera-unplugged-since', mirror: false, fps: 5 })));
    await page.reload();
    await app(page).getByTestId('backbone-info').waitFor({ timeout: 60_000 });
    await cam.getByRole('button', { name: 'Start camera' }).click();
    await expect.poll(() => streaming(page), { timeout: 30_000 }).toBe(ids[0]);
    expect(await cam.getByRole('alert').textContent()).toBe('The camera chosen before is not connected now: using the default camera.');
    await cam.getByRole('button', { name: 'Stop camera' }).click();
    expect(problems).toEqual([]);
    await context.close();
  });
});
