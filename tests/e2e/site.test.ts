// The built site, hosted as anyone would host it: `vite build --base /sub/` served by a plain static server
// under /sub/. It runs under its Content-Security-Policy (its own origin, and the model hosts it was built
// with: here a second local server stands in for the hub through CLORA_MODEL_HOSTS): injected script does
// not run and other hosts cannot be reached, from the page or its worker. After one visit it works offline
// (the service worker precached the app, the bundled backbone and the sample data; a hub model the user
// chose stays in the app's cache), and a new version of the site replaces the old one and says so.
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { app, artifact, keepClasses, openApp, openDownload, phaseTimer, runStatus, SAMPLE_IMAGE, setNumber, useSampleData } from './app-helpers';
import { launchChromium, watchPage } from './browser';
import { buildSite, serveStatic, type StaticSite } from './static-site';

const BASE = '/sub/';
const CLASSES = ['tshirt-top', 'trouser', 'bag'];

let browser: Browser;
/** The site built for /sub/ as version "test-a", allowing models from `hub`. */
let built: string;
/** Another origin standing in for the model hub (which allows any origin, like the Hugging Face hub). */
let hub: StaticSite;
const servers: StaticSite[] = [];
const builds: string[] = [];
beforeAll(async () => {
  hub = await serve(new URL('../fixtures/train', import.meta.url).pathname, '/timm/', { cors: true });
  built = await buildSite(BASE, 'test-a', [hub.origin]);
  builds.push(built);
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  for (const server of servers) await server.close();
  for (const dir of builds) rmSync(dir, { recursive: true, force: true });
});

async function serve(root: string, prefix: string, opts: { cors?: boolean } = {}): Promise<StaticSite> {
  const server = await serveStatic(root, prefix, opts);
  servers.push(server);
  return server;
}

interface Violation {
  directive: string;
  blocked: string;
}

/** Content-Security-Policy violations the page reports (every load of it: a binding outlives reloads). */
async function recordViolations(page: Page): Promise<Violation[]> {
  const seen: Violation[] = [];
  await page.exposeFunction('__cspViolation', (v: Violation) => seen.push(v));
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => void (window as unknown as { __cspViolation(v: Violation): void }).__cspViolation({ directive: e.violatedDirective, blocked: e.blockedURI }));
  });
  return seen;
}

/** Waits until the service worker controls the page and the page says it is saved for offline use. */
async function savedForOffline(page: Page): Promise<void> {
  await page.waitForFunction(() => navigator.serviceWorker.controller !== null, undefined, { timeout: 60_000 });
  await app(page).getByTestId('offline-ready').waitFor({ timeout: 60_000 });
}

describe('the built site at a sub-path', () => {
  it('runs under its Content-Security-Policy: injected script does not run, and only its own origin and the model hosts are reached', { timeout: 200_000 }, async () => {
    const site = await serve(built, BASE);
    // A host the site was not built for, holding the same weights.
    const outside = await serve(new URL('../fixtures/train', import.meta.url).pathname, '/models/', { cors: true });
    const context = await browser.newContext();
    const page = await context.newPage();
    const problems = watchPage(page);
    const violations = await recordViolations(page);
    await openApp(page, `${site.origin}${BASE.slice(0, -1)}`);
    await expect.poll(async () => app(page).getByTestId('backbone-info').textContent()).toMatch(/Bundled ViT/);

    // The policy, first in index.html, and the same in _headers (for hosts that send headers) with framing forbidden.
    const policy = await page.locator('meta[http-equiv="Content-Security-Policy"]').getAttribute('content');
    expect(policy).toBe(
      "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; " +
        `connect-src 'self' https://huggingface.co https://*.huggingface.co https://*.hf.co ${hub.origin}; worker-src 'self' blob:; object-src 'none'; base-uri 'self'; form-action 'none'`,
    );
    expect(readFileSync(join(built, '_headers'), 'utf8')).toBe(`/*\n  Content-Security-Policy: ${policy}; frame-ancestors 'none'\n`);
    expect(await page.evaluate(() => document.head.firstElementChild?.getAttribute('http-equiv'))).toBe('Content-Security-Policy');
    // The app itself ran without a violation: its styles are constructed sheets and CSSOM properties.
    expect(violations).toEqual([]);

    // Injected script does not run: a script element, an inline event handler. (eval cannot be tried from here:
    // DevTools' own evaluation is exempt, and no code of the page calls it; the policy has no 'unsafe-eval'.)
    const ran = await page.evaluate(async () => {
      const w = window as unknown as { ran: string[] };
      w.ran = [];
      const script = document.createElement('script');
      script.textContent = "window.ran.push('script')";
      document.body.append(script);
      document.body.insertAdjacentHTML('beforeend', `<img id="injected" src="data:," onload="window.ran.push('handler')">`);
      await new Promise((r) => setTimeout(r, 500));
      return w.ran;
    });
    expect(ran).toEqual([]);
    await expect.poll(() => violations.map((v) => v.directive).sort()).toEqual(['script-src-attr', 'script-src-elem']);

    // Requests: the hub host is allowed, any other host blocked before a byte is sent — from the page, and from
    // the worker that downloads models (it starts from a blob: loader, so the page's policy holds there too).
    const fetched = (url: string) =>
      page.evaluate(async (u) => {
        try {
          return `HTTP ${(await fetch(u)).status}`;
        } catch (error) {
          return String(error);
        }
      }, url);
    expect(await fetched(`${hub.origin}/timm/backbone.safetensors`)).toBe('HTTP 200');
    expect(await fetched(`${outside.origin}/models/backbone.safetensors`)).toBe('TypeError: Failed to fetch');
    await expect.poll(() => violations.filter((v) => v.directive === 'connect-src').map((v) => v.blocked.startsWith(outside.origin))).toEqual([true]);
    // The worker, asked directly (past the page's own check below), cannot reach the other host either.
    const workerLoad = await page.evaluate(async (u) => {
      const worker = (document.querySelector('clora-app') as unknown as { controller: { ctx: { worker: { request(r: unknown): Promise<unknown> } } } }).controller.ctx.worker;
      try {
        await worker.request({ type: 'loadBackbone', source: { kind: 'url', url: u } });
        return 'loaded';
      } catch (error) {
        return (error as Error).message;
      }
    }, `${outside.origin}/models/backbone.safetensors`);
    expect(workerLoad).toMatch(/^Could not reach http:\/\/127\.0\.0\.1:\d+\/models\/backbone\.safetensors \(Failed to fetch\)/);
    expect(outside.requests).toEqual([]);

    // A user who types that host's URL reads why it is refused and how to allow it; the bundled backbone stays.
    await app(page).getByRole('radio', { name: 'A URL' }).check();
    await app(page).getByLabel('Backbone URL').fill(`${outside.origin}/models/backbone.safetensors`);
    await app(page).getByRole('button', { name: 'Load URL' }).click();
    const alert = app(page).locator('clora-backbone-picker').getByRole('alert');
    await expect.poll(async () => alert.textContent().catch(() => ''), { timeout: 30_000 }).toBe(
      `This site's security policy does not allow downloads from ${new URL(outside.origin).host}: it fetches models only from its own address and huggingface.co, *.huggingface.co, *.hf.co, ${hub.origin.replace(/^https:\/\//, '')}. ` +
        `Download the file and choose it under "A file on this computer", or, if you publish this site, build it with CLORA_MODEL_HOSTS=${outside.origin} to allow that host. ` +
        'Still using Bundled ViT (MNIST-pretrained, 145 k parameters, works offline).',
    );
    expect(outside.requests).toEqual([]);
    await page.screenshot({ path: artifact('site-csp-blocked-host.png'), fullPage: true });
    // The console shows the browser's own reports of what it blocked, and nothing else.
    expect(problems.filter((p) => !/Content Security Policy|Failed to fetch/.test(p))).toEqual([]);
    await context.close();
  });

  it('works offline after one visit: a chosen hub model stays cached; sample data → train → export → Try it', { timeout: 400_000 }, async () => {
    const { phases, phase } = phaseTimer();
    const site = await serve(built, BASE);
    const context = await browser.newContext({ acceptDownloads: true });
    const page = await context.newPage();
    const problems = watchPage(page);
    // The whole flow runs under the site's policy without a violation (the console errors above would show one too).
    const violations = await recordViolations(page);
    await openApp(page, `${site.origin}${BASE.slice(0, -1)}`);
    await expect.poll(async () => app(page).getByTestId('backbone-info').textContent()).toMatch(/Bundled ViT/);
    await savedForOffline(page);
    phase('first visit saved for offline use');
    // Installable: Chromium finds nothing missing in the manifest, its icons or the service worker. (Playwright's
    // contexts are incognito, which Chromium names too; it still checks and names everything else, e.g. a
    // manifest without a 144-pixel icon gives "manifest-missing-suitable-icon".)
    const cdp = await context.newCDPSession(page);
    const { installabilityErrors } = (await cdp.send('Page.getInstallabilityErrors')) as { installabilityErrors: { errorId: string }[] };
    expect(installabilityErrors.filter((e) => e.errorId !== 'in-incognito')).toEqual([]);
    const manifest = (await cdp.send('Page.getAppManifest')) as { url: string; errors: unknown[] };
    expect(manifest.url).toBe(`${site.origin}${BASE}manifest.webmanifest`);
    expect(manifest.errors).toEqual([]);
    // Everything the site asked for is under its base, and was there.
    expect(site.requests.filter((r) => !r.path.startsWith(BASE) || r.status !== 200)).toEqual([]);
    expect(site.requests.map((r) => r.path)).toEqual(expect.arrayContaining([`${BASE}models/vit-mnist.safetensors`, `${BASE}samples/fashion/index.json`, `${BASE}sw.js`]));

    // A hub model the user chose: downloaded once into the app's cache.
    await app(page).getByRole('radio', { name: 'A URL' }).check();
    await app(page).getByLabel('Backbone URL').fill(`${hub.origin}/timm/backbone.safetensors`);
    await app(page).getByRole('button', { name: 'Load URL' }).click();
    await expect.poll(async () => app(page).getByTestId('backbone-info').textContent(), { timeout: 60_000 }).toMatch(/backbone\.safetensors.*8×8 input/s);

    // Offline from here on, and both servers gone: whatever the page needs must come from this browser.
    // (Playwright's offline mode does not cover the service worker's own update check; stopping the
    // servers does.)
    await context.setOffline(true);
    await site.close();
    await hub.close();
    await page.reload();
    await expect.poll(async () => app(page).getByTestId('gpu-status').textContent(), { timeout: 60_000 }).toMatch(/WebGPU ready on/);
    await expect.poll(async () => app(page).getByTestId('backbone-info').textContent().catch(() => ''), { timeout: 60_000 }).toMatch(/backbone\.safetensors.*from this browser's cache/s);
    expect(await app(page).getByTestId('app-version').textContent()).toBe('clora-web test-a');
    phase('reloaded offline: the hub model from the cache');
    await app(page).getByRole('radio', { name: /^Bundled ViT/ }).check();
    await expect.poll(async () => app(page).getByTestId('backbone-info').textContent().catch(() => ''), { timeout: 60_000 }).toMatch(/Bundled ViT.*28×28 input/s);
    await useSampleData(page);
    await keepClasses(page, CLASSES);
    phase('offline: bundled backbone and sample data');

    // A short run: the head only, one epoch of 3 steps.
    await app(page).getByLabel('Method').selectOption('head');
    await setNumber(page, 'Epochs', 1);
    await setNumber(page, 'Batch size', 40);
    await app(page).getByRole('button', { name: 'Train' }).click();
    await expect.poll(() => runStatus(page), { timeout: 240_000 }).toMatch(/^Done\./);
    phase('offline: trained');

    const downloading = page.waitForEvent('download');
    await app(page).getByRole('button', { name: 'Export adapter' }).click();
    const adapter = await openDownload(await downloading);
    expect(adapter.metadata).toMatchObject({ format: 'head' });
    expect(JSON.parse(adapter.metadata.classes!)).toEqual(CLASSES);
    await app(page).getByLabel('Choose an image').setInputFiles(SAMPLE_IMAGE);
    const top = app(page).getByRole('list', { name: 'Top predictions' }).getByRole('listitem');
    await expect.poll(async () => top.count(), { timeout: 60_000 }).toBe(CLASSES.length);
    phase('offline: exported and predicted');
    await page.screenshot({ path: artifact('site-offline-done.png'), fullPage: true });
    process.stdout.write(`built site at ${BASE}, offline flow, seconds since start: ${JSON.stringify(phases)}\n`);

    expect(violations).toEqual([]);
    expect(problems).toEqual([]);
    await context.close();
  });

  it('replaces an old version with a new one and says so', { timeout: 200_000 }, async () => {
    const site = await serve(built, BASE);
    const context = await browser.newContext();
    const page = await context.newPage();
    const problems = watchPage(page);
    await page.goto(`${site.origin}${BASE}`);
    await savedForOffline(page);
    expect(await app(page).getByTestId('app-version').textContent()).toBe('clora-web test-a');

    // The site is published again, with a new version.
    site.root = await buildSite(BASE, 'test-b', [hub.origin]);
    builds.push(site.root);
    await page.reload();
    const update = app(page).getByTestId('site-update');
    await update.waitFor({ timeout: 60_000 });
    expect(await update.textContent()).toMatch(/A new version of clora-web is ready: reload to use it/);
    // Until the user says so, the running version stays.
    expect(await app(page).getByTestId('app-version').textContent()).toBe('clora-web test-a');
    await update.getByRole('button', { name: 'Reload' }).click();
    await expect.poll(async () => app(page).getByTestId('app-version').textContent().catch(() => ''), { timeout: 60_000 }).toBe('clora-web test-b');
    expect(await app(page).getByTestId('site-update').count()).toBe(0);
    expect(problems).toEqual([]);
    await context.close();
  });
});
