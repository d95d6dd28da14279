import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { add, gelu, mul } from '../../src/autodiff/ops/elementwise';
import { Tape } from '../../src/autodiff/tape';
import { Tensor } from '../../src/autodiff/tensor';
import { DeviceLostError, GpuLimitError, ShaderCompileError, ShapeError } from '../../src/gpu/errors';
import { sizeClass } from '../../src/gpu/pool';
import { setShaderLoader } from '../../src/gpu/shaders';
import { installNodeShaderLoader } from '../../src/gpu/shaders-node';
import { freshGpu, gpu } from '../helpers/gpu';

describe('buffer pool', () => {
  it('rounds requests to size classes at most 25% larger', () => {
    for (const bytes of [1, 4, 255, 257, 1000, 4096, 5000, 1 << 20, 3_000_001]) {
      const c = sizeClass(bytes);
      expect(c).toBeGreaterThanOrEqual(bytes);
      expect(c % 256).toBe(0);
      if (bytes > 2048) expect(c / bytes).toBeLessThanOrEqual(1.25 + 1e-9);
    }
    expect(sizeClass(1000)).toBe(sizeClass(1001));
  });

  it('reuses released buffers of the same class', async () => {
    const ctx = await gpu();
    const a = Tensor.empty(ctx, [1000]);
    const allocated = ctx.pool.allocatedBytes;
    a.dispose();
    const b = Tensor.empty(ctx, [990]);
    expect(b.buffer).toBe(a.buffer);
    expect(ctx.pool.allocatedBytes).toBe(allocated);
    b.dispose();
  });

  it('refuses an allocation over the device limit before anything is dispatched, naming size and limit', async () => {
    const ctx = await gpu();
    const dispatches = ctx.stats.dispatches;
    const limit = ctx.limits.maxStorageBufferBindingSize;
    const elements = Math.floor(limit / 4) + 1024;
    let error: unknown;
    try {
      Tensor.empty(ctx, [elements]);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(GpuLimitError);
    expect((error as GpuLimitError).bytes).toBe(elements * 4);
    expect((error as GpuLimitError).limit).toBe(limit);
    expect((error as Error).message).toMatch(/maxStorageBufferBindingSize/);
    expect(ctx.stats.dispatches).toBe(dispatches);
  });

  it('rejects a tensor view that is not 256-byte aligned', async () => {
    const ctx = await gpu();
    const t = Tensor.empty(ctx, [64]);
    expect(() => new Tensor(ctx, [4], t.buffer, 16, false)).toThrow(ShapeError);
    t.dispose();
  });
});

describe('shaders', () => {
  it('a kernel that fails to compile is named with its file line', async () => {
    const ctx = await freshGpu();
    setShaderLoader((name) =>
      name === 'broken'
        ? '// a comment\nstruct Params { n: u32 }\n@group(0) @binding(0) var<uniform> params: Params;\n@compute @workgroup_size(1) fn main() {\n  let x: f32 = params.n;\n}\n'
        : '',
    );
    try {
      await expect(ctx.pipelines.prepare([{ shader: 'broken', entry: 'main', defines: { UNUSED: 1 } }])).rejects.toThrow(/Kernel "broken" failed to compile at shaders\/broken\.wgsl line 5:/);
      ctx.dispatch({ shader: 'broken', entry: 'main' }, [1], [], [1]);
      const err = await ctx.sync().then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(ShaderCompileError);
      expect((err as ShaderCompileError).kernel).toBe('broken');
      expect((err as ShaderCompileError).line).toBe(5);
    } finally {
      installNodeShaderLoader();
      ctx.destroy();
    }
  });
});

describe('device loss', () => {
  it('surfaces as an error in the middle of a run, and nothing hangs', async () => {
    const ctx = await freshGpu();
    const reasons: string[] = [];
    ctx.onLost((e) => reasons.push(e.reason));
    const x = Tensor.fromData(ctx, [4096], new Float32Array(4096).fill(0.5));
    let failure: unknown;
    const started = Date.now();
    try {
      for (let step = 0; step < 100; step++) {
        const tape = new Tape(ctx);
        const y = gelu(mul(add(x, x), x));
        const pending = y.read();
        if (step === 3) ctx.device.destroy(); // the GPU goes away while a read is in flight
        await pending;
        tape.dispose();
      }
    } catch (e) {
      failure = e;
    }
    expect(failure).toBeInstanceOf(DeviceLostError);
    expect((failure as Error).message).toMatch(/device was lost.*checkpoint/i);
    expect(reasons).toEqual(['destroyed']);
    expect(() => Tensor.fromData(ctx, [2], [1, 2])).toThrow(DeviceLostError);
    expect(Date.now() - started).toBeLessThan(30_000);
  });
});

describe('no adapter', () => {
  it('says which driver to install when Node finds no Vulkan adapter', () => {
    const script = "import('./src/gpu/node.ts').then(m => m.createNodeGpuContext()).then(() => console.log('unexpected adapter'), e => console.log(e.name + ': ' + e.message))";
    const r = spawnSync(process.execPath, ['--import', 'tsx', '-e', script], {
      env: { ...process.env, VK_ICD_FILENAMES: '/nonexistent/icd.json' },
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(r.stdout).toMatch(/GpuUnavailableError: No WebGPU adapter is available\. Install a Vulkan driver/);
  });
});
