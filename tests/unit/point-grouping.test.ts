// Point-MAE's grouping kernels (farthest point sampling, k nearest neighbours, neighbourhoods) against the
// f64 reference, on odd shapes, with the tie rules of clora-spec §4 forced by exact ties, and every FPS program.
import { describe, expect, it } from 'vitest';
import { farthestPointSample, gatherNeighbourhood, groupPoints, nearestNeighbours, readIndices } from '../../src/autodiff/ops/points';
import { Tape } from '../../src/autodiff/tape';
import { Tensor } from '../../src/autodiff/tensor';
import { farthestPointSampleInto, selectFpsProgram, type FpsProgram } from '../../src/kernels/point-grouping';
import { mulberry32, randn } from '../reference/ops';
import { groupReference } from '../reference/points';
import { gpu } from '../helpers/gpu';

/** Gaussian clouds rounded to f32 (the reference then works on exactly the values the GPU sees). */
function clouds(B: number, P: number, seed: number): Float32Array {
  return Float32Array.from(randn([B, P, 3], mulberry32(seed)).data);
}

/** Points on a small integer grid with repeats: every squared distance is exact and many are equal. */
function tiedClouds(B: number, P: number, seed: number): Float32Array {
  const rng = mulberry32(seed);
  return Float32Array.from({ length: B * P * 3 }, () => Math.floor(rng() * 3) - 1);
}

async function checkGrouping(points: Float32Array, B: number, P: number, G: number, K: number, program?: FpsProgram): Promise<void> {
  const ctx = await gpu();
  const tape = new Tape(ctx);
  try {
    const x = Tensor.fromData(ctx, [B, P, 3], points);
    let indices: Tensor;
    let centres: Tensor;
    if (program) {
      indices = Tensor.empty(ctx, [B, G]);
      centres = Tensor.empty(ctx, [B, G, 3]);
      expect(farthestPointSampleInto(ctx, x, indices, centres, B, P, G, program)).toBe(program);
    } else ({ indices, centres } = farthestPointSample(x, G));
    const neighbours = nearestNeighbours(x, centres, K);
    const neighbourhood = gatherNeighbourhood(x, neighbours, centres);
    const ref = groupReference(points, B, P, G, K);
    const gotCentres = [...(await readIndices(indices))];
    expect(gotCentres, 'centre indices').toEqual(ref.centres.flat());
    const c = await centres.read();
    const expectedCentres = ref.centres.flatMap((cs, b) => cs.flatMap((i) => [0, 1, 2].map((a) => points[(b * P + i) * 3 + a]!)));
    expect([...c], 'centre coordinates').toEqual(expectedCentres);
    expect([...(await readIndices(neighbours))], 'neighbour indices').toEqual(ref.neighbours.flat(2));
    const n = await neighbourhood.read();
    let worst = 0;
    for (let i = 0; i < n.length; i++) worst = Math.max(worst, Math.abs(n[i]! - ref.neighbourhood[i]!));
    expect(worst, 'neighbourhood').toBeLessThanOrEqual(1e-6);
  } finally {
    tape.dispose();
  }
}

describe('grouping against the f64 reference', () => {
  const shapes: [number, number, number, number][] = [
    [1, 1, 1, 1],
    [2, 37, 5, 7],
    [3, 300, 17, 16],
    [1, 1025, 33, 32],
  ];
  for (const [B, P, G, K] of shapes) {
    it(`B ${B}, P ${P}, G ${G}, K ${K}`, async () => {
      await checkGrouping(clouds(B, P, P + G), B, P, G, K);
    });
  }

  it('every FPS program on the same clouds (registers up to 4096 points, then global)', async () => {
    expect(selectFpsProgram(1)).toBe('registers');
    expect(selectFpsProgram(4096)).toBe('registers');
    expect(selectFpsProgram(4097)).toBe('global');
    for (const program of ['registers', 'global'] as const) await checkGrouping(clouds(2, 513, 9), 2, 513, 11, 9, program);
    await checkGrouping(clouds(1, 4500, 10), 1, 4500, 6, 5);
  });

  it('ties: the lowest index wins in FPS and in kNN, and neighbours come nearest first', async () => {
    // 27 grid positions for 60 points: many equal distances, repeated points, and rounds where every
    // remaining distance ties.
    await checkGrouping(tiedClouds(2, 60, 4), 2, 60, 30, 13);
    await checkGrouping(tiedClouds(1, 300, 5), 1, 300, 9, 40);
  });

  it('one cloud of identical points: every centre is point 0, every group the first K points', async () => {
    const ctx = await gpu();
    const tape = new Tape(ctx);
    try {
      const { neighbourhood, centres } = groupPoints(Tensor.fromData(ctx, [1, 10, 3], new Float32Array(30).fill(0.5)), 3, 4);
      expect([...(await centres.read())]).toEqual(new Array(9).fill(0.5));
      expect([...(await neighbourhood.read())]).toEqual(new Array(36).fill(0));
    } finally {
      tape.dispose();
    }
  });

  it('refuses impossible groupings and points that ask for a gradient, with the reason', async () => {
    const ctx = await gpu();
    const tape = new Tape(ctx);
    try {
      const x = Tensor.fromData(ctx, [1, 8, 3], clouds(1, 8, 1));
      expect(() => farthestPointSample(x, 9)).toThrow(/9 centres cannot be chosen from 8 points/);
      const { centres } = farthestPointSample(x, 2);
      expect(() => nearestNeighbours(x, centres, 9)).toThrow(/groups of 9 points cannot be taken from 8 points/);
      expect(() => farthestPointSample(Tensor.zeros(ctx, [1, 8, 2]), 2)).toThrow(/must be \[B, P, 3\]/);
      const wide = Tensor.fromData(ctx, [1, 200, 3], clouds(1, 200, 2));
      expect(() => nearestNeighbours(wide, farthestPointSample(wide, 2).centres, 129)).toThrow(/over the supported 128/);
      x.requiresGrad = true;
      expect(() => farthestPointSample(x, 2)).toThrow(/takes no gradient/);
    } finally {
      tape.dispose();
    }
  });
});
