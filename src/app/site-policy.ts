// The built site's Content-Security-Policy: what it allows (its own origin for scripts, styles, workers and
// data; images from itself, data: and blob: URLs; downloads from itself and the model hosts), written into
// index.html at build time (vite.config.ts) and into `_headers` for hosts that send headers. The page reads
// the same policy back to explain, before a download, that a URL's host is not allowed and how to allow it:
// the browser blocks such a request either way, but only says so in the console.
//
// The model hosts are the Hugging Face hub and the hosts its downloads redirect to, plus any the site's
// builder adds with CLORA_MODEL_HOSTS (README "Publishing the site").

/** Where the known-model table downloads from: the hub, and the CDNs its `resolve` links redirect to. */
export const DEFAULT_MODEL_HOSTS: readonly string[] = ['https://huggingface.co', 'https://*.huggingface.co', 'https://*.hf.co'];

/** The build option that adds model hosts (origins, comma- or space-separated). */
export const MODEL_HOSTS_OPTION = 'CLORA_MODEL_HOSTS';

const HOST_SOURCE = /^(https?):\/\/(\*\.)?([a-z0-9-]+(?:\.[a-z0-9-]+)*)(?::(\d{1,5}))?\/?$/i;

/** The hosts CLORA_MODEL_HOSTS names, each checked; a sentence for one that is not an origin. */
export function parseModelHosts(text: string | undefined): string[] {
  const entries = (text ?? '').split(/[\s,]+/).filter((e) => e.length > 0);
  for (const entry of entries) {
    if (!HOST_SOURCE.test(entry)) {
      throw new Error(`${MODEL_HOSTS_OPTION}: "${entry}" is not a model host; give origins such as https://models.example.org or https://*.example.org (with a port if it has one), separated by commas.`);
    }
  }
  return entries.map((e) => e.replace(/\/$/, ''));
}

/** The policy's directives, in the order they are written. */
export function policyDirectives(modelHosts: readonly string[]): [string, string[]][] {
  return [
    ['default-src', ["'self'"]],
    ['script-src', ["'self'"]],
    // Lit's styles are constructed stylesheets, and components set styles through the CSSOM: no inline styles.
    ['style-src', ["'self'"]],
    ['img-src', ["'self'", 'data:', 'blob:']],
    ['connect-src', ["'self'", ...DEFAULT_MODEL_HOSTS, ...modelHosts]],
    ['worker-src', ["'self'", 'blob:']],
    ['object-src', ["'none'"]],
    ['base-uri', ["'self'"]],
    ['form-action', ["'none'"]],
  ];
}

/** The policy as one header value (or meta content). */
export function contentSecurityPolicy(modelHosts: readonly string[]): string {
  return policyDirectives(modelHosts)
    .map(([name, sources]) => `${name} ${sources.join(' ')}`)
    .join('; ');
}

/** The sources of one directive of a policy's text (falling back on default-src, as browsers do for fetches). */
export function directiveSources(policy: string, directive: string): string[] | undefined {
  const directives = new Map(
    policy
      .split(';')
      .map((d) => d.trim().split(/\s+/))
      .filter((parts) => parts[0])
      .map((parts) => [parts[0]!.toLowerCase(), parts.slice(1)] as const),
  );
  return directives.get(directive) ?? directives.get('default-src');
}

const DEFAULT_PORTS: Record<string, string> = { 'http:': '80', 'https:': '443' };

/**
 * Whether a list of sources allows `url` from a page at `selfOrigin`: the source expressions this policy
 * uses — 'self', 'none', scheme-only ("https:"), and scheme://host[:port] with an optional leading "*.".
 */
export function sourcesAllow(sources: readonly string[], url: URL, selfOrigin: string): boolean {
  const port = url.port || DEFAULT_PORTS[url.protocol] || '';
  return sources.some((source) => {
    if (source === "'self'") return url.origin === selfOrigin;
    if (/^[a-z][a-z0-9+.-]*:$/i.test(source)) return url.protocol === source.toLowerCase();
    const m = HOST_SOURCE.exec(source);
    if (!m) return false;
    const [, scheme, wildcard, host, sourcePort] = m;
    if (`${scheme!.toLowerCase()}:` !== url.protocol) return false;
    const hostname = url.hostname.toLowerCase();
    const hostMatches = wildcard ? hostname.endsWith(`.${host!.toLowerCase()}`) : hostname === host!.toLowerCase();
    return hostMatches && (sourcePort ?? DEFAULT_PORTS[url.protocol]) === port;
  });
}

/** The policy the page runs under, from its meta tag (none in the dev server). */
export function pagePolicy(doc: Document = document): string | undefined {
  return doc.querySelector('meta[http-equiv="Content-Security-Policy" i]')?.getAttribute('content') ?? undefined;
}

/**
 * The sentence for a download the site's policy would block, or undefined when it may go ahead (or the page
 * has no policy, or the address does not parse: the download then says what is wrong).
 */
export function blockedDownload(address: string, policy = pagePolicy(), here: Location = location): string | undefined {
  if (!policy) return undefined;
  let url: URL;
  try {
    url = new URL(address, here.href);
  } catch {
    return undefined;
  }
  const sources = directiveSources(policy, 'connect-src');
  if (!sources || sourcesAllow(sources, url, here.origin)) return undefined;
  const allowed = sources.filter((s) => s !== "'self'").map((s) => s.replace(/^https:\/\//, ''));
  return (
    `This site's security policy does not allow downloads from ${url.host}: it fetches models only from its own address` +
    `${allowed.length ? ` and ${allowed.join(', ')}` : ''}. Download the file and choose it under "A file on this computer", ` +
    `or, if you publish this site, build it with ${MODEL_HOSTS_OPTION}=${url.origin} to allow that host.`
  );
}
