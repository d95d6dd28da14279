/**
 * Workgroup counts for a 1-D problem of `n` items, `perGroup` items per workgroup. Beyond 65,535 groups the
 * grid folds into y; kernels compute `group = wid.y * num_workgroups.x + wid.x` and bound-check the index.
 */
export function grid1d(n: number, perGroup: number): [number, number] {
  const groups = Math.ceil(n / perGroup);
  if (groups <= 65535) return [Math.max(groups, 1), 1];
  const y = Math.ceil(groups / 65535);
  return [Math.ceil(groups / y), y];
}

export const ceilDiv = (a: number, b: number): number => Math.ceil(a / b);
