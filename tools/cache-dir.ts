// Where scripts and benchmarks keep what they download or make (data packages, pretrained backbones, study
// results): $XDG_CACHE_HOME/clora-web, or ~/.cache/clora-web.
import { homedir } from 'node:os';
import { join, sep } from 'node:path';

/** A path under the home folder written as ~/…, so tables written here read the same on any machine. */
export function homeRelative(path: string, home = homedir()): string {
  return path === home || path.startsWith(home + sep) ? '~' + path.slice(home.length) : path;
}

export function cacheDir(...parts: string[]): string {
  return join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'clora-web', ...parts);
}
