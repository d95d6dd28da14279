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

/**
 * How many chunks to split a reduction into so that `groups` workgroups become about `target` (a GPU kept
 * busy), at most `maxChunks` and at least 1.
 */
export function chunksToFill(groups: number, target: number, maxChunks: number): number {
  return Math.max(1, Math.min(ceilDiv(target, groups), maxChunks));
}

/**
 * Split K: a reduction of `length` cut into about `chunks` pieces on separate workgroups, each a multiple of
 * `step` (the kernel's staging depth); the partial sums are added by a second pass. Returns the chunk length
 * and how many chunks that makes (at least 1).
 */
export function splitK(length: number, chunks: number, step: number): { chunkLength: number; chunks: number } {
  const chunkLength = Math.max(step, ceilDiv(length, chunks * step) * step);
  return { chunkLength, chunks: Math.max(1, ceilDiv(length, chunkLength)) };
}
