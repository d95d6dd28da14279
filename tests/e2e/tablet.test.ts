// Tablets and phones in headless Chromium with touch emulation: at an iPad's viewport (768 × 1024) and a
// phone's (390 × 844) the main flow is tapped through (sample data → train a few steps → Try it) on the small
// fixture backbone; at every stage nothing overflows the page sideways, every control is at least 44 × 44 CSS
// pixels, the panels stand in one column (two on a wide screen), and Tab reaches every enabled control.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BrowserContextOptions, Page } from 'playwright-core';
import { app, artifact, openApp, runStatus, SAMPLE_IMAGE, SMALL_BACKBONE } from './app-helpers';
import { startBrowserEnv, watchPage, type BrowserEnv } from './browser';

let env: BrowserEnv;
beforeAll(async () => {
  env = await startBrowserEnv();
});
afterAll(async () => {
  await env?.close();
});

const IPAD: BrowserContextOptions = { viewport: { width: 768, height: 1024 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true };
const PHONE: BrowserContextOptions = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 3, isMobile: true, hasTouch: true };

/**
 * Elements that reach past the screen's right edge, and the page's width. A mobile browser widens its layout
 * viewport to fit content that overflows (window.innerWidth grows with it), so the screen's width is the
 * viewport the test set.
 */
async function overflow(page: Page): Promise<{ scrollWidth: number; innerWidth: number; offenders: string[] }> {
  return page.evaluate((width) => {
    const offenders: string[] = [];
    const visit = (root: ParentNode): void => {
      for (const el of Array.from(root.querySelectorAll('*'))) {
        if (el.shadowRoot) visit(el.shadowRoot);
        const r = el.getBoundingClientRect();
        if (r.width > 0 && r.right > width + 1 && !el.closest('.wrap')) offenders.push(`${el.tagName.toLowerCase()}.${el.className} "${(el.textContent ?? '').trim().slice(0, 40)}" right ${Math.round(r.right)}`);
      }
    };
    visit(document);
    return { scrollWidth: document.documentElement.scrollWidth, innerWidth: width, offenders: offenders.slice(0, 10) };
  }, page.viewportSize()!.width);
}

/** Visible controls (buttons, fields, selects, folds; a checkbox counts with its label) smaller than 44 × 44. */
async function smallTargets(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const small: string[] = [];
    const visit = (root: ParentNode): void => {
      for (const el of Array.from(root.querySelectorAll('*'))) {
        if (el.shadowRoot) visit(el.shadowRoot);
        const tag = el.tagName.toLowerCase();
        if (!['button', 'input', 'select', 'summary'].includes(tag)) continue;
        const input = el as HTMLInputElement;
        if (input.type === 'hidden') continue;
        const target = input.type === 'checkbox' || input.type === 'radio' ? (el.closest('label') ?? el) : el;
        const r = target.getBoundingClientRect();
        if (r.width === 0 && r.height === 0) continue; // not shown
        if (r.width < 44 || r.height < 44) small.push(`${tag}[${el.getAttribute('aria-label') ?? (target.textContent ?? '').trim().slice(0, 30)}] ${Math.round(r.width)}×${Math.round(r.height)}`);
      }
    };
    visit(document);
    return small;
  });
}

/** Left edges of the panels: one value when they stand in one column. */
async function panelColumns(page: Page): Promise<number> {
  const lefts = await app(page).locator('section.panel').evaluateAll((els) => els.map((el) => Math.round(el.getBoundingClientRect().left)));
  return new Set(lefts).size;
}

/**
 * Tabs through the page until every control was reached (or twice round); returns the enabled, shown controls
 * Tab never reached. A radio group is one stop (arrow keys move inside it), as in every browser.
 */
async function unreachableByTab(page: Page): Promise<string[]> {
  const total = await page.evaluate(() => {
    const ids = new Set<string>();
    let n = 0;
    const visit = (root: ParentNode): void => {
      for (const el of Array.from(root.querySelectorAll('*'))) {
        if (el.shadowRoot) visit(el.shadowRoot);
        const tag = el.tagName.toLowerCase();
        if (!['button', 'input', 'select', 'summary'].includes(tag) || (el as HTMLButtonElement).disabled) continue;
        const input = el as HTMLInputElement;
        if (input.type === 'hidden' || el.getBoundingClientRect().width === 0) continue;
        const id = input.type === 'radio' && input.name ? `radio:${input.name}` : String(n++);
        el.setAttribute('data-tab-check', id);
        ids.add(id);
      }
    };
    visit(document);
    (document.activeElement as HTMLElement | null)?.blur();
    return ids.size;
  });
  const reached = new Set<string>();
  for (let i = 0; i < total * 2 + 20; i++) {
    await page.keyboard.press('Tab');
    const id = await page.evaluate(() => {
      let el: Element | null = document.activeElement;
      while (el?.shadowRoot?.activeElement) el = el.shadowRoot.activeElement;
      return el?.getAttribute('data-tab-check') ?? null;
    });
    if (id !== null) reached.add(id);
    if (reached.size === total) break;
  }
  return page.evaluate((seen) => {
    const missing: string[] = [];
    const visit = (root: ParentNode): void => {
      for (const el of Array.from(root.querySelectorAll('[data-tab-check]'))) {
        if (!seen.includes(el.getAttribute('data-tab-check')!)) missing.push(el.outerHTML.slice(0, 100));
        el.removeAttribute('data-tab-check');
      }
      for (const el of Array.from(root.querySelectorAll('*'))) if (el.shadowRoot) visit(el.shadowRoot);
    };
    visit(document);
    return missing;
  }, [...reached]);
}

async function checkLayout(page: Page, stage: string): Promise<void> {
  const o = await overflow(page);
  expect(o.scrollWidth, `${stage}: ${o.offenders.join('; ')}`).toBeLessThanOrEqual(o.innerWidth);
  expect(o.offenders, stage).toEqual([]);
  expect(await smallTargets(page), stage).toEqual([]);
  expect(await panelColumns(page), stage).toBe(1);
}

async function tapNumber(page: Page, label: string, value: number): Promise<void> {
  const input = app(page).getByLabel(label, { exact: true });
  await input.tap();
  await input.fill(String(value));
  await input.press('Tab');
}

describe('tablets and phones', () => {
  it('iPad (768 × 1024, touch): sample data, a few training steps and Try it, all by tapping', { timeout: 300_000 }, async () => {
    const context = await env.browser.newContext(IPAD);
    const page = await context.newPage();
    const problems = watchPage(page);
    await openApp(page, env.baseUrl, { backbone: SMALL_BACKBONE });
    expect(await page.evaluate(() => matchMedia('(pointer: coarse)').matches)).toBe(true);
    await checkLayout(page, 'opened');
    await app(page).getByRole('button', { name: 'Use sample data' }).tap();
    await expect.poll(async () => app(page).getByTestId('data-message').textContent().catch(() => ''), { timeout: 120_000 }).toMatch(/added 500 images/);
    await checkLayout(page, 'sample data');
    // Head only, one epoch of batches of 100: four steps.
    await app(page).getByLabel('Method').selectOption('head');
    await tapNumber(page, 'Epochs', 1);
    await tapNumber(page, 'Batch size', 100);
    await app(page).getByText('Advanced').tap();
    await checkLayout(page, 'settings open');
    await app(page).getByRole('button', { name: 'Train', exact: true }).tap();
    await expect.poll(() => runStatus(page), { timeout: 180_000 }).toMatch(/^Done\./);
    await expect.poll(async () => app(page).getByTestId('final-accuracy').textContent(), { timeout: 30_000 }).toMatch(/on 100 validation images/);
    await app(page).getByRole('table', { name: /Confusion matrix/ }).getByRole('button').first().tap();
    await app(page).getByTestId('confusion-cell').waitFor();
    await checkLayout(page, 'trained, a confusion cell open');
    await app(page).getByLabel('Choose an image').setInputFiles(SAMPLE_IMAGE);
    await expect.poll(async () => app(page).getByTestId('answered-by').textContent().catch(() => ''), { timeout: 60_000 }).toMatch(/^Answered by head adapter being trained on/);
    await checkLayout(page, 'Try it answered');
    await page.screenshot({ path: artifact('tablet-ipad.png'), fullPage: true });
    await app(page).locator('section[aria-labelledby="h-train"]').scrollIntoViewIfNeeded();
    await page.screenshot({ path: artifact('tablet-ipad-train.png'), scale: 'css' });
    expect(await unreachableByTab(page)).toEqual([]);

    // The same page on a wide screen: two columns.
    await page.setViewportSize({ width: 1280, height: 900 });
    await expect.poll(() => panelColumns(page)).toBe(2);
    expect((await overflow(page)).offenders).toEqual([]);
    expect(problems).toEqual([]);
    await context.close();
  });

  it('phone (390 × 844, touch): sample data, quick mode and Try it, all by tapping', { timeout: 300_000 }, async () => {
    const context = await env.browser.newContext(PHONE);
    const page = await context.newPage();
    const problems = watchPage(page);
    await openApp(page, env.baseUrl, { backbone: SMALL_BACKBONE });
    await checkLayout(page, 'opened');
    await app(page).getByRole('button', { name: 'Use sample data' }).tap();
    await expect.poll(async () => app(page).getByTestId('data-message').textContent().catch(() => ''), { timeout: 120_000 }).toMatch(/added 500 images/);
    await checkLayout(page, 'sample data');
    await app(page).getByText('Advanced').tap();
    await tapNumber(page, 'Quick-mode epochs', 3);
    await app(page).getByRole('button', { name: 'Quick mode' }).tap();
    await expect.poll(() => runStatus(page), { timeout: 180_000 }).toMatch(/^Done\./);
    await expect.poll(async () => app(page).getByTestId('final-accuracy').textContent(), { timeout: 30_000 }).toMatch(/on 100 validation images/);
    await checkLayout(page, 'quick mode done');
    await app(page).getByLabel('Choose an image').setInputFiles(SAMPLE_IMAGE);
    await expect.poll(async () => app(page).getByTestId('answered-by').textContent().catch(() => ''), { timeout: 60_000 }).toMatch(/^Answered by head trained in quick mode on/);
    await checkLayout(page, 'Try it answered');
    await page.screenshot({ path: artifact('tablet-phone.png'), fullPage: true });
    await app(page).locator('section[aria-labelledby="h-try"]').scrollIntoViewIfNeeded();
    await page.screenshot({ path: artifact('tablet-phone-try-it.png'), scale: 'css' });
    expect(problems).toEqual([]);
    await context.close();
  });
});
