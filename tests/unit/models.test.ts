// The known-model table's addresses: a bundled model is a path of the site, so a site hosted at a sub-path
// (or the public/ folder, for the command line) finds it; hub models keep their URLs.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { BUNDLED_MODEL, KNOWN_MODELS, modelUrl } from '../../src/nn/models';

describe('modelUrl', () => {
  it('resolves bundled models against the base and leaves hub URLs as they are', () => {
    expect(modelUrl(BUNDLED_MODEL, 'https://example.org/classroom/clora/')).toBe('https://example.org/classroom/clora/models/vit-mnist.safetensors');
    expect(modelUrl(BUNDLED_MODEL, 'http://127.0.0.1:5173/')).toBe('http://127.0.0.1:5173/models/vit-mnist.safetensors');
    const hub = KNOWN_MODELS.find((m) => !m.bundled)!;
    expect(modelUrl(hub, 'https://example.org/sub/')).toBe(hub.url);
    expect(hub.url).toMatch(/^https:\/\/huggingface\.co\//);
  });

  it('finds every bundled model in public/, where the site serves them from', () => {
    const publicDir = new URL('../../public/', import.meta.url);
    for (const m of KNOWN_MODELS.filter((k) => k.bundled)) {
      expect(m.url.startsWith('/'), `${m.id}: a site path, not one from the domain's root`).toBe(false);
      expect(existsSync(fileURLToPath(modelUrl(m, publicDir))), m.url).toBe(true);
    }
  });
});
