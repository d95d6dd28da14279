import { readFileSync } from 'node:fs';
import { defineConfig, type Plugin } from 'vite';
import { VitePWA } from 'vite-plugin-pwa';
import { contentSecurityPolicy, MODEL_HOSTS_OPTION, parseModelHosts } from './src/app/site-policy.js';

const pkg = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8')) as { version: string; description: string };

/**
 * The built site's Content-Security-Policy (src/app/site-policy.ts): a meta tag first in index.html (static
 * hosts cannot all send headers), and `_headers` for hosts that read one (Netlify, Cloudflare Pages), which can
 * also forbid framing. CLORA_MODEL_HOSTS adds model hosts. The dev server has none (Vite injects inline code).
 */
function contentSecurityPolicyPlugin(): Plugin {
  let policy = '';
  return {
    name: 'clora-content-security-policy',
    apply: 'build',
    configResolved() {
      policy = contentSecurityPolicy(parseModelHosts(process.env[MODEL_HOSTS_OPTION]));
    },
    transformIndexHtml: () => [{ tag: 'meta', attrs: { 'http-equiv': 'Content-Security-Policy', content: policy }, injectTo: 'head-prepend' }],
    generateBundle() {
      this.emitFile({ type: 'asset', fileName: '_headers', source: `/*\n  Content-Security-Policy: ${policy}; frame-ancestors 'none'\n` });
    },
  };
}

// The app is served from 127.0.0.1: WebGPU needs a secure context, and localhost counts as one.
// `npm run build -- --base /sub/` builds a site for a sub-path; every file the app fetches follows the base.
export default defineConfig({
  server: { host: '127.0.0.1', port: 5173, strictPort: false },
  preview: { host: '127.0.0.1' },
  worker: { format: 'es' },
  build: { target: 'es2022' },
  define: { __APP_VERSION__: JSON.stringify(pkg.version) },
  // Named up front so the dev server never discovers a dependency late (in the worker) and reloads the page.
  optimizeDeps: { include: ['lit', 'idb-keyval', 'fflate', 'uplot', 'onnx-buf', '@bufbuild/protobuf'] },
  plugins: [
    contentSecurityPolicyPlugin(),
    // Installable and offline after one visit: a manifest, and a Workbox service worker that precaches the
    // app, the bundled backbones and the sample data. A new version waits until the page says so and the
    // user reloads (src/app/updates.ts registers it); in the dev server there is none.
    VitePWA({
      registerType: 'prompt',
      injectRegister: false,
      manifest: {
        name: 'clora-web',
        short_name: 'clora-web',
        description: pkg.description,
        display: 'standalone',
        background_color: '#f6f8fb',
        theme_color: '#1f3a68',
        icons: [
          { src: 'icons/icon-192.png', sizes: '192x192', type: 'image/png' },
          { src: 'icons/icon-512.png', sizes: '512x512', type: 'image/png', purpose: 'any maskable' },
        ],
      },
      workbox: {
        // By pattern, so a backbone or data set added under public/ is offline too without editing this.
        globPatterns: ['**/*.{js,css,html,webmanifest}', 'icons/*', 'models/*', 'samples/**/*'],
        // Bundled backbones are megabytes (Workbox's default limit is 2 MiB).
        maximumFileSizeToCacheInBytes: 64 * 1024 * 1024,
        // The first visit's page is controlled as soon as the worker is installed (offline from then on).
        clientsClaim: true,
      },
    }),
  ],
});
