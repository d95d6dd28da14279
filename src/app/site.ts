// Where the site is: the app may be hosted at a domain's root or under a sub-path (`npm run build -- --base
// /sub/`), so every file of its own it fetches (bundled models, the sample data) is resolved against the
// base Vite built it for, never against the domain's root.

/** The site's base URL, absolute (the folder index.html is served from). */
export function siteBase(): string {
  return new URL(import.meta.env.BASE_URL, location.href).href;
}

/** A path of the site (as under public/) as an absolute URL. */
export function siteUrl(path: string): string {
  return new URL(path, siteBase()).href;
}
