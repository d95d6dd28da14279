import { readFileSync } from 'node:fs';
import { setShaderLoader } from './shaders';

const shaderDir = new URL('../../shaders/', import.meta.url);

export function installNodeShaderLoader(): void {
  setShaderLoader((name) => readFileSync(new URL(`${name}.wgsl`, shaderDir), 'utf8'));
}
