// WGSL comes from shaders/*.wgsl. The browser bundles them through Vite (shaders-browser.ts);
// Node reads them from disk (shaders-node.ts). Whichever front door starts the engine installs a loader.

export type ShaderLoader = (name: string) => string;

let loader: ShaderLoader | undefined;
const cache = new Map<string, string>();

export function setShaderLoader(next: ShaderLoader): void {
  loader = next;
  cache.clear();
}

export function shaderSource(name: string): string {
  const hit = cache.get(name);
  if (hit !== undefined) return hit;
  if (!loader) throw new Error(`No WGSL loader is installed: import 'src/gpu/node' in Node or 'src/gpu/browser' in the browser before using kernel "${name}".`);
  const text = loader(name);
  cache.set(name, text);
  return text;
}
