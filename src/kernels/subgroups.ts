import type { GpuContext } from '../gpu/context';

/**
 * The subgroup size the row kernels with subgroup reductions specialise for, or 0 when they must not run:
 * the adapter offers `subgroups` with one fixed size (lavapipe 8, SwiftShader 4, NVIDIA 32) and the context
 * allows them (GpuContext.useSubgroups). Those kernels give each row a workgroup of exactly one subgroup,
 * since the spec does not say how a larger workgroup splits into subgroups; adapters whose subgroup size
 * varies take the portable kernels.
 */
export function fixedSubgroupSize(ctx: GpuContext): number {
  const { subgroupMinSize: min, subgroupMaxSize: max } = ctx.adapter;
  return ctx.useSubgroups && ctx.features.has('subgroups') && min > 0 && min === max && min <= 128 ? min : 0;
}
