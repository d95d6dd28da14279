import { setShaderLoader } from './shaders';

// Vite inlines every kernel file as a string at build time.
const files = import.meta.glob('/shaders/*.wgsl', { query: '?raw', import: 'default', eager: true }) as Record<string, string>;

export function installBrowserShaderLoader(): void {
  setShaderLoader((name) => {
    const text = files[`/shaders/${name}.wgsl`];
    if (text === undefined) throw new Error(`Kernel file shaders/${name}.wgsl is missing from the bundle.`);
    return text;
  });
}
