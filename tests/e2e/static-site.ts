// The built site as a user would host it: `vite build` into a temporary folder, served by a plain static
// file server (no fallbacks, no rewriting, a 404 for anything missing) under a sub-path, as GitHub Pages
// serves a project site at /<repository>/.
import { createReadStream, mkdtempSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { extname, join, normalize, sep } from 'node:path';
import { build } from 'vite';
import { MODEL_HOSTS_OPTION } from '../../src/app/site-policy';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.webmanifest': 'application/manifest+json',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.wasm': 'application/wasm',
};

/**
 * Builds the app for `base` into a new temporary folder; `version` stands in for package.json's, and
 * `modelHosts` is the build option CLORA_MODEL_HOSTS (hosts the site's Content-Security-Policy allows models from).
 */
export async function buildSite(base: string, version?: string, modelHosts: string[] = []): Promise<string> {
  const outDir = mkdtempSync(join(tmpdir(), 'clora-site-'));
  const before = process.env[MODEL_HOSTS_OPTION];
  process.env[MODEL_HOSTS_OPTION] = modelHosts.join(',');
  try {
    await build({
      configFile: 'vite.config.ts',
      base,
      logLevel: 'error',
      build: { outDir, emptyOutDir: true },
      ...(version ? { define: { __APP_VERSION__: JSON.stringify(version) } } : {}),
    });
  } finally {
    if (before === undefined) delete process.env[MODEL_HOSTS_OPTION];
    else process.env[MODEL_HOSTS_OPTION] = before;
  }
  return outDir;
}

export interface StaticSite {
  /** http://127.0.0.1:port */
  origin: string;
  /** Every request: path and status. */
  requests: { path: string; status: number }[];
  /** The folder served (swap it to publish another build at the same address). */
  root: string;
  close(): Promise<void>;
}

/** Serves `root` at `prefix` (e.g. "/sub/"); with `cors`, other origins may fetch the files too. */
export async function serveStatic(root: string, prefix: string, opts: { cors?: boolean } = {}): Promise<StaticSite> {
  const site: StaticSite = { origin: '', requests: [], root, close: async () => undefined };
  const server: Server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    const send = (status: number, headers: Record<string, string> = {}): void => {
      site.requests.push({ path, status });
      res.writeHead(status, { 'cache-control': 'no-cache', ...(opts.cors ? { 'access-control-allow-origin': '*' } : {}), ...headers });
    };
    let file: string | undefined;
    if (path.startsWith(prefix)) {
      const rest = path.slice(prefix.length) || 'index.html';
      const candidate = normalize(join(site.root, rest.endsWith('/') ? `${rest}index.html` : rest));
      if (candidate.startsWith(site.root + sep)) file = candidate;
    }
    let size = -1;
    try {
      if (file && statSync(file).isFile()) size = statSync(file).size;
    } catch {
      size = -1;
    }
    if (!file || size < 0) {
      send(404, { 'content-type': 'text/plain' });
      res.end('not found');
      return;
    }
    send(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream', 'content-length': String(size) });
    if (req.method === 'HEAD') res.end();
    else createReadStream(file).pipe(res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('The static server did not report a port.');
  site.origin = `http://127.0.0.1:${address.port}`;
  site.close = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  return site;
}
