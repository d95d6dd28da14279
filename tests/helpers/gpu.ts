// One GPU context per test file (a device per process), created on first use.
import { createNodeGpuContext } from '../../src/gpu/node';
import type { GpuContext } from '../../src/gpu/context';

let shared: Promise<GpuContext> | undefined;

export function gpu(): Promise<GpuContext> {
  shared ??= createNodeGpuContext({ quiet: true });
  return shared;
}

/** A fresh device, for tests that break it (device loss). */
export function freshGpu(): Promise<GpuContext> {
  return createNodeGpuContext({ quiet: true });
}
