// What the engine knows about its device, as a plain object: the command line prints it (`clora device`), and
// the page or the worker can show it or send it across a message channel.
import { adapterName, type GpuContext } from './context';
import type { DeviceProfile } from './profile';

export interface DeviceReport {
  /** vendor / architecture / device, as adapterName() writes it. */
  adapter: string;
  description: string;
  fallback: boolean;
  profile: DeviceProfile;
  /** The optional features the device was created with (shader-f16, subgroups, timestamp-query). */
  features: string[];
  /** Fixed subgroup size the subgroup kernels use (0: none, or it varies). */
  subgroupSize: number;
  limits: {
    maxComputeWorkgroupStorageSize: number;
    maxComputeInvocationsPerWorkgroup: number;
    maxStorageBufferBindingSize: number;
    maxBufferSize: number;
  };
}

export function deviceReport(ctx: GpuContext): DeviceReport {
  const { subgroupMinSize: min, subgroupMaxSize: max } = ctx.adapter;
  const l = ctx.limits;
  return {
    adapter: adapterName(ctx.adapter),
    description: ctx.adapter.description,
    fallback: ctx.adapter.isFallback,
    profile: { ...ctx.profile },
    features: [...ctx.features].sort(),
    subgroupSize: ctx.features.has('subgroups') && min > 0 && min === max ? min : 0,
    limits: {
      maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
      maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
      maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
      maxBufferSize: l.maxBufferSize,
    },
  };
}
