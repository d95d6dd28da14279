// The built site's Content-Security-Policy (src/app/site-policy.ts) without a browser: the policy text, the
// build option that adds model hosts (and its sentence for a bad entry), and the page's reading of its own
// policy to explain a blocked download. tests/e2e/site.test.ts checks the browser enforces it.
import { describe, expect, it } from 'vitest';
import { blockedDownload, contentSecurityPolicy, directiveSources, parseModelHosts, sourcesAllow } from '../../src/app/site-policy';

const page = { href: 'https://example.org/clora/', origin: 'https://example.org' } as Location;

describe('the site policy', () => {
  it('allows its own origin, the hub and the hosts the build adds, and nothing inline', () => {
    const policy = contentSecurityPolicy(parseModelHosts('https://models.example.net, http://127.0.0.1:8080 https://*.cdn.example.net/'));
    expect(policy).toBe(
      "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; " +
        "connect-src 'self' https://huggingface.co https://*.huggingface.co https://*.hf.co https://models.example.net http://127.0.0.1:8080 https://*.cdn.example.net; " +
        "worker-src 'self' blob:; object-src 'none'; base-uri 'self'; form-action 'none'",
    );
    expect(policy).not.toMatch(/unsafe/);
  });

  it('refuses a model host that is not an origin, saying what to give', () => {
    for (const bad of ['models.example.net', 'ftp://x.org', 'https://x.org/path/model.safetensors', "'unsafe-inline'", 'https://*']) {
      expect(() => parseModelHosts(bad), bad).toThrow(/^CLORA_MODEL_HOSTS: ".*" is not a model host; give origins such as https:\/\/models\.example\.org/);
    }
    expect(parseModelHosts(undefined)).toEqual([]);
    expect(parseModelHosts('  ')).toEqual([]);
  });

  it('matches URLs as browsers match host sources: scheme, host or sub-domains, port', () => {
    const sources = directiveSources(contentSecurityPolicy(['http://127.0.0.1:8080']), 'connect-src')!;
    const allows = (url: string): boolean => sourcesAllow(sources, new URL(url), page.origin);
    expect(allows('https://example.org/clora/models/vit.safetensors')).toBe(true);
    expect(allows('https://huggingface.co/timm/x/resolve/main/model.safetensors')).toBe(true);
    expect(allows('https://cdn-lfs.huggingface.co/repos/x')).toBe(true);
    expect(allows('https://cas-bridge.xethub.hf.co/x')).toBe(true);
    expect(allows('https://hf.co/x')).toBe(false); // *.hf.co is sub-domains only
    expect(allows('http://huggingface.co/x')).toBe(false);
    expect(allows('https://huggingface.co.evil.example/x')).toBe(false);
    expect(allows('https://evilhuggingface.co/x')).toBe(false);
    expect(allows('http://127.0.0.1:8080/m.safetensors')).toBe(true);
    expect(allows('http://127.0.0.1:8081/m.safetensors')).toBe(false);
    expect(allows('https://example.org:8443/x')).toBe(false);
    expect(directiveSources("default-src 'self'", 'connect-src')).toEqual(["'self'"]);
  });

  it('explains a download the policy blocks, and says nothing where there is no policy', () => {
    const policy = contentSecurityPolicy([]);
    expect(blockedDownload('https://huggingface.co/timm/vit/resolve/main/model.safetensors', policy, page)).toBeUndefined();
    expect(blockedDownload('models/vit-mnist.safetensors', policy, page)).toBeUndefined();
    expect(blockedDownload('https://models.example.net/vit.safetensors', policy, page)).toBe(
      "This site's security policy does not allow downloads from models.example.net: it fetches models only from its own address and huggingface.co, *.huggingface.co, *.hf.co. " +
        'Download the file and choose it under "A file on this computer", or, if you publish this site, build it with CLORA_MODEL_HOSTS=https://models.example.net to allow that host.',
    );
    expect(blockedDownload('https://models.example.net/vit.safetensors', '', page)).toBeUndefined();
    expect(blockedDownload('http://[bad', policy, page)).toBeUndefined();
  });
});
