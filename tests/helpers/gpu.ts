// One GPU context per test file (a device per process), created on first use.
import { createNodeGpuContext } from '../../src/gpu/node';
import { onTestFinished } from 'vitest';
import type { GpuContext } from '../../src/gpu/context';
import { profileFor, type DeviceKind } from '../../src/gpu/profile';

let shared: Promise<GpuContext> | undefined;

export function gpu(): Promise<GpuContext> {
  shared ??= createNodeGpuContext({ quiet: true });
  return shared;
}

/** A fresh device, for tests that break it (device loss). */
export function freshGpu(): Promise<GpuContext> {
  return createNodeGpuContext({ quiet: true });
}

/**
 * The shared context with the subgroup kernels switched on or off for the current test (restored when it
 * ends), so one device can check both paths of a kernel that has a subgroup variant.
 */
export async function gpuWithSubgroups(on: boolean): Promise<GpuContext> {
  const ctx = await gpu();
  const saved = ctx.useSubgroups;
  ctx.useSubgroups = on;
  onTestFinished(() => {
    ctx.useSubgroups = saved;
  });
  return ctx;
}

/**
 * The shared context with the kernel choices of another kind of device for the current test (restored when it
 * ends): the programs real GPUs get run, and are checked, on the emulator.
 */
export async function gpuWithProfile(kind: DeviceKind): Promise<GpuContext> {
  const ctx = await gpu();
  const saved = ctx.profile;
  ctx.profile = profileFor(kind, ctx.limits.maxComputeWorkgroupStorageSize);
  onTestFinished(() => {
    ctx.profile = saved;
  });
  return ctx;
}
