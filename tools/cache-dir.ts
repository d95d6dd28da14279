// Where scripts and benchmarks keep what they download or make (data packages, pretrained backbones, study
// results): $XDG_CACHE_HOME/clora-web, or ~/.cache/clora-web.
import { homedir } from 'node:os';
import { join } from 'node:path';

export function cacheDir(...parts: string[]): string {
  return join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'clora-web', ...parts);
}
