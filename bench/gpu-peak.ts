// bench:gpu's arithmetic peak: the GFLOP/s of bench/fma.wgsl (independent fused multiply-add chains) in f32,
// and in f16 where the adapter has shader-f16. The fastest of a few samples, each one submission of `repeats`
// dispatches timed to the queue being done: the device's measured peak, which matmul is reported against.
import { readFileSync } from 'node:fs';
import type { GpuContext } from '../src/gpu/context';
import { Timer, type WaitScheme } from './peer-suite';

export interface PeakResult {
  precision: 'f32' | 'f16';
  gflops: number;
  /** Milliseconds of the fastest sample (one submission). */
  ms: number;
  flopsPerSample: number;
}

export interface PeakOptions {
  /** Workgroups of 256 threads per dispatch. */
  workgroups: number;
  iterations: number;
  /** Dispatches per sample (one submission). */
  repeats: number;
  samples: number;
  /** How to wait for the GPU (sleep first in Node, where Dawn busy-polls; see bench/peer-suite.ts). */
  wait: WaitScheme;
}

const source = readFileSync(new URL('./fma.wgsl', import.meta.url), 'utf8');

const pipelines = new WeakMap<GPUDevice, Map<string, Promise<GPUComputePipeline>>>();

/** One pipeline per device and precision (the sizes are dispatch dimensions and a uniform). */
function pipeline(device: GPUDevice, precision: 'f32' | 'f16'): Promise<GPUComputePipeline> {
  let byPrecision = pipelines.get(device);
  if (!byPrecision) pipelines.set(device, (byPrecision = new Map()));
  let p = byPrecision.get(precision);
  if (!p) {
    const code = `${precision === 'f16' ? 'enable f16;\n' : ''}${source.replace(/^alias T = f32;$/m, `alias T = ${precision};`)}`;
    const module = device.createShaderModule({ code, label: `fma_peak ${precision}` });
    p = device.createComputePipelineAsync({ layout: 'auto', compute: { module, entryPoint: 'fma_peak' } });
    byPrecision.set(precision, p);
  }
  return p;
}

export async function measurePeak(ctx: GpuContext, precision: 'f32' | 'f16', o: PeakOptions): Promise<PeakResult> {
  const device = ctx.device;
  const kernel = await pipeline(device, precision).catch((error: unknown) => {
    throw new Error(`The FMA peak kernel (${precision}) did not compile: ${error instanceof Error ? error.message : String(error)}`);
  });
  const x = Math.min(o.workgroups, 65535);
  const y = Math.ceil(o.workgroups / x);
  const threads = x * y * 256;
  const out = device.createBuffer({ size: threads * 16, usage: GPUBufferUsage.STORAGE, label: 'fma_peak out' });
  const uniform = device.createBuffer({ size: 16, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST, label: 'fma_peak iterations' });
  device.queue.writeBuffer(uniform, 0, new Uint32Array([o.iterations, 0, 0, 0]));
  const bindGroup = device.createBindGroup({
    layout: kernel.getBindGroupLayout(0),
    entries: [
      { binding: 0, resource: { buffer: out } },
      { binding: 1, resource: { buffer: uniform } },
    ],
  });
  let commands: GPUCommandBuffer | undefined;
  const record = (): void => {
    const encoder = device.createCommandEncoder();
    const pass = encoder.beginComputePass();
    pass.setPipeline(kernel);
    pass.setBindGroup(0, bindGroup);
    for (let r = 0; r < o.repeats; r++) pass.dispatchWorkgroups(x, y);
    pass.end();
    commands = encoder.finish();
  };
  const submit = (): void => device.queue.submit([commands!]);
  const timer = new Timer(o.wait);
  await timer.sample(precision, device, record, submit, true); // warm-up
  let best = Infinity;
  for (let i = 0; i < o.samples; i++) best = Math.min(best, await timer.sample(precision, device, record, submit));
  out.destroy();
  uniform.destroy();
  const flopsPerSample = threads * o.iterations * 8 * 4 * 2 * o.repeats;
  return { precision, gflops: flopsPerSample / best / 1e6, ms: best, flopsPerSample };
}
