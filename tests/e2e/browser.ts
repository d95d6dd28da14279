// Real headless Chromium (Debian's package) driven by Playwright, against pages served by Vite on 127.0.0.1.
// WebGPU there runs on SwiftShader; `--enable-unsafe-webgpu` is the flag that turns it on.
import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { createServer, type ViteDevServer } from 'vite';

const CHROMIUM_PATHS = ['/usr/lib/chromium/chromium', '/usr/bin/chromium'];

export const CHROMIUM_ARGS = [
  '--enable-unsafe-webgpu',
  '--no-sandbox',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];

export interface BrowserEnv {
  browser: Browser;
  server: ViteDevServer;
  baseUrl: string;
  close(): Promise<void>;
}

/** Chromium's fake camera (a generated test pattern) and automatic consent to the camera prompt. */
export const FAKE_MEDIA_ARGS = ['--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream'];

export interface BrowserEnvOptions {
  /** Extra Chromium flags (e.g. FAKE_MEDIA_ARGS). */
  args?: string[];
  /** Response headers for every page (e.g. COOP/COEP for a cross-origin isolated page). */
  headers?: Record<string, string>;
}

/** Debian's headless Chromium with WebGPU on. */
export async function launchChromium(options: BrowserEnvOptions = {}): Promise<Browser> {
  const executablePath = CHROMIUM_PATHS.find((p) => existsSync(p));
  if (!executablePath) throw new Error('Chromium is not installed: run `npm test` as root on Debian (it installs it) or `apt-get install chromium`.');
  return chromium.launch({ executablePath, headless: true, args: [...CHROMIUM_ARGS, ...(options.args ?? [])] });
}

export async function startBrowserEnv(options: BrowserEnvOptions = {}): Promise<BrowserEnv> {
  const server = await createServer({ configFile: 'vite.config.ts', logLevel: 'error', server: { host: '127.0.0.1', port: 0, hmr: false, headers: options.headers } });
  await server.listen();
  const address = server.httpServer?.address();
  if (!address || typeof address === 'string') throw new Error('Vite did not report a port.');
  const browser = await launchChromium(options);
  return {
    browser,
    server,
    baseUrl: `http://127.0.0.1:${address.port}`,
    async close() {
      await browser.close();
      await server.close();
    },
  };
}

/** Collects page errors and console errors so a test can show them when it fails. */
export function watchPage(page: Page): string[] {
  const problems: string[] = [];
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console: ${m.text()}`);
  });
  return problems;
}
