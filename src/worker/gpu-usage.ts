// What the worker's GPU holds, sent with every metrics event (protocol.ts GpuUsage) so the page, and its soak
// test, can see that a long session does not grow: the buffer pool's bytes and allocations, the compiled
// pipelines, and the GPU buffers alive — every buffer the device creates after it started, less those
// destroyed, whoever made it (pool, readbacks, kernels' placeholders).
import type { GpuContext } from '../gpu/context';
import type { GpuUsage } from './protocol';

const alive = new WeakMap<GPUDevice, { count: number }>();

/** Counts the device's buffers from now on (called once, when the worker makes a device). */
export function countBuffers(device: GPUDevice): void {
  if (alive.has(device)) return;
  const counter = { count: 0 };
  alive.set(device, counter);
  const createBuffer = device.createBuffer.bind(device);
  device.createBuffer = (descriptor: GPUBufferDescriptor): GPUBuffer => {
    const buffer = createBuffer(descriptor);
    counter.count++;
    const destroy = buffer.destroy.bind(buffer);
    let destroyed = false;
    buffer.destroy = () => {
      if (!destroyed) counter.count--;
      destroyed = true;
      destroy();
    };
    return buffer;
  };
}

export function gpuUsage(ctx: GpuContext): GpuUsage {
  return {
    poolBytes: ctx.pool.allocatedBytes,
    poolInUseBytes: ctx.pool.inUseBytes,
    poolAllocations: ctx.pool.allocations,
    liveBuffers: alive.get(ctx.device)?.count ?? 0,
    pipelines: ctx.pipelines.size,
  };
}
