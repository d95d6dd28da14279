// Checkpoints under stress in headless Chromium: a full storage quota (set through the DevTools protocol)
// is reported and the previous checkpoint survives; a lost GPU device pauses training, says so, and
// Resume continues from the last checkpoint on a fresh device.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { app, artifact, openApp, phaseTimer, progressValue, runStatus, setNumber, SMALL_BACKBONE, useSampleData } from './app-helpers';
import { startBrowserEnv, watchPage, type BrowserEnv } from './browser';

let env: BrowserEnv;
beforeAll(async () => {
  env = await startBrowserEnv();
});
afterAll(async () => {
  await env?.close();
});

function stepOf(text: string | null): number {
  const m = /step (\d+) of/.exec(text ?? '');
  return m ? Number(m[1]) : -1;
}

describe('checkpoints', () => {
  it('survive a full quota and a lost GPU: the error is reported and Resume continues from the last one', { timeout: 300_000 }, async () => {
    const { phases, phase } = phaseTimer();
    const context = await env.browser.newContext();
    const page = await context.newPage();
    const problems = watchPage(page);
    // The small fixture backbone: this test is about the checkpoints, not about what the model learns.
    await openApp(page, env.baseUrl, { backbone: SMALL_BACKBONE });
    await useSampleData(page);
    // Head only: the fewest kernels to compile, and every checkpoint still holds adapter, moments and history.
    await app(page).getByLabel('Method').selectOption('head');
    // Far more steps than the test needs (it stops the run itself): on an idle machine a 3-epoch run of the
    // head ended before the quota was set, so no later checkpoint was ever refused.
    await setNumber(page, 'Epochs', 100);
    await setNumber(page, 'Batch size', 50);
    await app(page).getByText('Advanced').click();
    await setNumber(page, 'Checkpoint every (steps)', 2);
    await app(page).getByRole('button', { name: 'Train' }).click();

    const checkpoint = app(page).getByTestId('checkpoint');
    await expect.poll(async () => stepOf(await checkpoint.first().textContent().catch(() => null)), { timeout: 180_000 }).toBeGreaterThanOrEqual(2);

    phase('first checkpoint');
    // Storage full: the quota is set below what is used, so the next checkpoint cannot be written. Not "just
    // above": a checkpoint replaces the previous one, so a usage read while both are stored left room for
    // every later write (usage stays flat) and the error never came.
    const cdp = await context.newCDPSession(page);
    const usage = await page.evaluate(async () => (await navigator.storage.estimate()).usage ?? 0);
    await cdp.send('Storage.overrideQuotaForOrigin', { origin: env.baseUrl, quotaSize: Math.floor(usage / 2) });
    const alert = app(page).getByTestId('checkpoint-message');
    await expect.poll(async () => alert.textContent().catch(() => ''), { timeout: 120_000 }).toMatch(/storage for this page is full: the checkpoint at step \d+ .* could not be saved.*The previous checkpoint \(step (\d+)\) is kept/);
    const kept = Number(/previous checkpoint \(step (\d+)\)/.exec((await alert.textContent()) ?? '')![1]);
    expect(await checkpoint.count()).toBe(1);
    expect(stepOf(await checkpoint.first().textContent())).toBe(kept);
    expect(await alert.getAttribute('role')).toBe('alert');
    await page.screenshot({ path: artifact('checkpoints-quota-full.png'), fullPage: true });

    phase('quota error shown');
    // Space again: the next checkpoint is written and replaces the old one.
    await cdp.send('Storage.overrideQuotaForOrigin', { origin: env.baseUrl });
    await expect.poll(async () => stepOf(await checkpoint.first().textContent()), { timeout: 120_000 }).toBeGreaterThan(kept);
    await expect.poll(async () => alert.count()).toBe(0);

    phase('saved again');
    // The GPU goes away (a driver reset): training stops, says why, and offers to resume.
    await page.evaluate(() => document.querySelector('clora-app')!.controller.simulateDeviceLoss());
    const message = app(page).getByTestId('run-message');
    await expect.poll(async () => message.textContent().catch(() => ''), { timeout: 60_000 }).toMatch(/GPU device was lost.*Press Resume to continue from the last checkpoint/);
    expect(await message.getAttribute('role')).toBe('alert');
    expect(await runStatus(page)).toMatch(/^Interrupted\./);
    await page.screenshot({ path: artifact('checkpoints-device-lost.png'), fullPage: true });
    phase('device lost');
    const last = stepOf(await checkpoint.first().textContent());
    await app(page).getByRole('button', { name: 'Resume', exact: true }).click();
    await expect.poll(() => runStatus(page), { timeout: 60_000 }).toMatch(/^Training…/);
    await expect.poll(() => progressValue(page), { timeout: 120_000 }).toBeGreaterThan(last);
    phase('resumed on a fresh device');
    await app(page).getByRole('button', { name: 'Stop' }).click();
    await expect.poll(() => runStatus(page), { timeout: 120_000 }).toMatch(/^Stopped\./);
    const stoppedAt = await progressValue(page);
    await expect.poll(async () => stepOf(await checkpoint.first().textContent()), { timeout: 30_000 }).toBe(stoppedAt);
    phase('stopped and saved');
    process.stdout.write(`checkpoints flow, seconds since start: ${JSON.stringify(phases)}\n`);
    expect(problems.filter((p) => !/GPU device was lost|QuotaExceeded|quota/i.test(p))).toEqual([]);
    await context.close();
  });
});
