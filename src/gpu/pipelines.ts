import { ShaderCompileError } from './errors';
import { shaderSource } from './shaders';

/** Compile-time constants prepended to a kernel as `const NAME: type = value;`. */
export type Defines = Record<string, number | boolean>;

/**
 * A kernel: a WGSL file in shaders/, an entry point, and its specialisation constants.
 * Integers ≥ 0 become u32 constants, other numbers f32, booleans bool.
 */
export interface KernelSpec {
  shader: string;
  entry: string;
  defines?: Defines;
  /**
   * Storage types: a kernel file declares `alias NAME = f32; // @storage` for the element type of some
   * bindings; naming NAME here as 'f16' switches it (and enables f16). Unnamed aliases stay f32.
   */
  storage?: Record<string, StorageType>;
}

export type StorageType = 'f32' | 'f16';

export function kernelKey(spec: KernelSpec): string {
  const defines = spec.defines ? Object.keys(spec.defines).sort().map((k) => `${k}=${String(spec.defines![k])}`).join(',') : '';
  const storage = spec.storage ? Object.keys(spec.storage).filter((k) => spec.storage![k] !== 'f32').sort().map((k) => `${k}=${spec.storage![k]}`).join(',') : '';
  return storage ? `${spec.shader}:${spec.entry}:${defines}:${storage}` : `${spec.shader}:${spec.entry}:${defines}`;
}

function defineLine(name: string, value: number | boolean): string {
  if (typeof value === 'boolean') return `const ${name}: bool = ${value};`;
  if (Number.isInteger(value) && value >= 0) return `const ${name}: u32 = ${value}u;`;
  return `const ${name}: f32 = ${Number.isInteger(value) ? value.toFixed(1) : String(value)};`;
}

const STORAGE_ALIAS = /^alias (\w+) = f32; \/\/ @storage[ \t]*$/gm;

/** Rewrites the `// @storage` aliases named in spec.storage; any f16 one enables f16 for the module. */
function applyStorage(spec: KernelSpec, body: string): [string, boolean] {
  const declared = new Set([...body.matchAll(STORAGE_ALIAS)].map((m) => m[1]!));
  for (const name of Object.keys(spec.storage!)) {
    if (!declared.has(name)) throw new Error(`Kernel ${spec.shader}:${spec.entry} has no storage alias "${name}".`);
  }
  let f16 = false;
  const out = body.replace(STORAGE_ALIAS, (line, name: string) => {
    const type = spec.storage![name] ?? 'f32';
    if (type === 'f16') f16 = true;
    return `alias ${name} = ${type}; // @storage`;
  });
  return [out, f16];
}

/**
 * The WGSL text a spec compiles to, and how many lines were prepended (to report file line numbers).
 * A kernel file may pull in helper files with `// @include name` lines (shaders/name.wgsl).
 */
export function specialise(spec: KernelSpec): { code: string; prefixLines: number } {
  let body = shaderSource(spec.shader);
  let storageF16 = false;
  if (spec.storage) [body, storageF16] = applyStorage(spec, body);
  // Directives (`enable subgroups;`) must open the module: move them above the defines, leaving a blank line
  // in their place so file line numbers still map.
  const directives: string[] = [];
  body = body.replace(/^(?:enable|requires|diagnostic)\b[^;\n]*;[ \t]*$/gm, (line) => {
    directives.push(line);
    return '';
  });
  if (storageF16 && !directives.includes('enable f16;')) directives.push('enable f16;');
  const includes = [...body.matchAll(/^\/\/ @include (\w+)\s*$/gm)].map((m) => shaderSource(m[1]!));
  const prefix = [...directives, ...Object.entries(spec.defines ?? {}).map(([k, v]) => defineLine(k, v)), ...includes].join('\n');
  if (!prefix) return { code: body, prefixLines: 0 };
  return { code: `${prefix}\n${body}`, prefixLines: prefix.split('\n').length };
}

async function compileError(spec: KernelSpec, module: GPUShaderModule, prefixLines: number, fallback: string): Promise<ShaderCompileError> {
  const info = await module.getCompilationInfo();
  const first = info.messages.find((m) => m.type === 'error');
  if (!first) return new ShaderCompileError(spec.shader, 0, 0, `${fallback} (entry ${spec.entry})`);
  return new ShaderCompileError(spec.shader, Math.max(1, first.lineNum - prefixLines), first.linePos, first.message);
}

/** One compiled pipeline per kernel and specialisation; compile errors name the kernel and the file line. */
export class PipelineCache {
  private pipelines = new Map<string, GPUComputePipeline>();
  private pending: Promise<ShaderCompileError | undefined>[] = [];
  /** Pipelines compiled so far, both ways. */
  compiled = 0;
  /** Of those, compiled synchronously on first dispatch (a stall on the recording thread); prepare() avoids them. */
  compiledOnDispatch = 0;

  constructor(private device: GPUDevice) {}

  get size(): number {
    return this.pipelines.size;
  }

  has(spec: KernelSpec): boolean {
    return this.pipelines.has(kernelKey(spec));
  }

  /** Synchronous path used on first dispatch; a compile error is reported by `takeError()`. */
  get(spec: KernelSpec): GPUComputePipeline {
    const key = kernelKey(spec);
    const hit = this.pipelines.get(key);
    if (hit) return hit;
    const { code, prefixLines } = specialise(spec);
    this.device.pushErrorScope('validation');
    const module = this.device.createShaderModule({ code, label: spec.shader });
    const pipeline = this.device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: spec.entry }, label: key });
    this.pending.push(
      this.device.popErrorScope().then((error) => {
        if (!error) return undefined;
        this.pipelines.delete(key); // never hand out a broken pipeline again
        return compileError(spec, module, prefixLines, error.message);
      }),
    );
    this.pipelines.set(key, pipeline);
    this.compiled++;
    this.compiledOnDispatch++;
    return pipeline;
  }

  /** Compiles kernels ahead of use, off the main path; rejects with a ShaderCompileError. */
  async prepare(specs: KernelSpec[]): Promise<void> {
    await Promise.all(
      specs.map(async (spec) => {
        const key = kernelKey(spec);
        if (this.pipelines.has(key)) return;
        const { code, prefixLines } = specialise(spec);
        const module = this.device.createShaderModule({ code, label: spec.shader });
        try {
          const pipeline = await this.device.createComputePipelineAsync({ layout: 'auto', compute: { module, entryPoint: spec.entry }, label: key });
          if (!this.pipelines.has(key)) this.compiled++;
          this.pipelines.set(key, pipeline);
        } catch (error) {
          throw await compileError(spec, module, prefixLines, error instanceof Error ? error.message : String(error));
        }
      }),
    );
  }

  /** Resolves to the first compile error of pipelines created synchronously so far. */
  async takeError(): Promise<ShaderCompileError | undefined> {
    if (this.pending.length === 0) return undefined;
    const results = await Promise.all(this.pending);
    this.pending = [];
    return results.find((e) => e !== undefined);
  }
}
