/// <reference types="vite-plugin-pwa/vanillajs" />
// The site's service worker (made by vite-plugin-pwa with Workbox, see vite.config.ts): registered here, it
// precaches the app, the bundled backbones and the sample data, so the page works offline after one visit.
// A new version of the site installs beside the running one and waits; the page says so, and the user's
// Reload switches to it (never in the middle of a run by surprise). The dev server has no service worker.
import { registerSW } from 'virtual:pwa-register';
import type { AppContext } from './context';

/** package.json's version, set by the build (vite.config.ts). */
declare const __APP_VERSION__: string;

export const APP_VERSION = __APP_VERSION__;

export class SiteUpdates {
  private apply: ((reloadPage?: boolean) => Promise<void>) | undefined;

  constructor(private readonly ctx: AppContext) {}

  register(): void {
    if (!('serviceWorker' in navigator)) return;
    this.apply = registerSW({
      immediate: true,
      onOfflineReady: () => this.ctx.store.patch('site', { offlineReady: true }),
      onNeedRefresh: () => this.ctx.store.patch('site', { updateReady: true }),
      onRegisterError: (error: unknown) => this.ctx.store.patch('site', { message: `This page could not be saved for offline use (${error instanceof Error ? error.message : String(error)}). It still works online.` }),
    });
  }

  /** Switches to the waiting version; the page reloads once it has taken over. */
  async reload(): Promise<void> {
    this.ctx.store.patch('site', { updating: true });
    await this.apply?.(true);
  }
}
