// Sums over an axis on both paths of one device: shaders/reduce_subgroup.wgsl (one-subgroup workgroups,
// subgroupAdd for row sums, a subgroupShuffleXor butterfly for column strips, row chunks summed again) where
// the adapter offers `subgroups` of one fixed size — Mesa's lavapipe does, 8 — and the portable kernels
// of shaders/reduce.wgsl, each against the f64 reference with gradients. Where the adapter lacks the feature
// the engine falls back, which is checked instead.
import { describe, expect, it } from 'vitest';
import { add } from '../../src/autodiff/ops/elementwise';
import { mean, sum } from '../../src/autodiff/ops/reduce';
import { Tensor } from '../../src/autodiff/tensor';
import { ShapeError } from '../../src/gpu/errors';
import { columnChunks, columnLanes, reduceUsesSubgroups, sumAxis } from '../../src/kernels/reduce';
import { fixedSubgroupSize } from '../../src/kernels/subgroups';
import { refOps } from '../reference/ops';
import { gpu, gpuWithSubgroups } from '../helpers/gpu';
import { checkOp, rand } from '../helpers/oracle';

// [shape, axis]: row sums (inner 1, scalar and vec4 rows), column sums (scalar and vec4 strips, one chunk and
// several, with an outer index), and a strip narrower than a subgroup.
const WITH_GRAD: [number[], number][] = [
  [[1], 0],
  [[7], 0],
  [[33, 5], 0],
  [[33, 8], 0],
  [[65, 7], 1],
  [[7, 12], 1],
  [[2, 197, 3], 1],
  [[3, 65, 12], 1],
  [[197, 9], 0],
  [[1, 1], 1],
];
// Larger: several row chunks per strip (a second pass), long rows; forward only (finite differences would take minutes).
const FORWARD_ONLY: [number[], number][] = [
  [[1000, 33], 0],
  [[1000, 64], 0],
  [[3, 1000, 7], 1],
  [[2, 197, 196], 1],
  [[7, 1000], 1],
  [[65, 1001], 1],
  [[1576, 20], 0],
];

describe('sums with subgroup reductions, where the adapter has them', () => {
  it('uses them exactly when the adapter offers subgroups of one fixed size', async () => {
    const ctx = await gpuWithSubgroups(true);
    const { subgroupMinSize: min, subgroupMaxSize: max } = ctx.adapter;
    expect(reduceUsesSubgroups(ctx)).toBe(ctx.features.has('subgroups') && min > 0 && min === max);
    // Which kernels a column sum over several chunks and a row sum record (dry run: nothing runs).
    const x = Tensor.zeros(ctx, [1576, 768]);
    const kernels = (): string[] =>
      ctx.dryRun(() => {
        const cols = sum(x, 0);
        const rows = sum(x, 1);
        cols.dispose();
        rows.dispose();
      }).specs.map((s) => `${s.shader}:${s.entry}`);
    if (reduceUsesSubgroups(ctx)) expect(kernels()).toEqual(['reduce_subgroup:sum_cols_vec4', 'reduce_subgroup:sum_last_vec4']);
    ctx.useSubgroups = false;
    expect(reduceUsesSubgroups(ctx)).toBe(false);
    expect(kernels()).toEqual(['reduce:sum_strided', 'reduce:sum_last']);
    x.dispose();
  });

  it('plans column strips and chunks that cover every row once', () => {
    expect(columnLanes(4)).toBe(1);
    expect(columnLanes(8)).toBe(2);
    expect(columnLanes(32)).toBe(8);
    for (const [len, groups] of [[1, 1], [7, 100], [1576, 24], [1576, 96], [100000, 1], [33, 1000]] as const) {
      const { rowsPerChunk, chunks } = columnChunks(len, groups, 4);
      expect(rowsPerChunk * chunks).toBeGreaterThanOrEqual(len);
      expect(rowsPerChunk * (chunks - 1)).toBeLessThan(len);
      expect(rowsPerChunk).toBeGreaterThanOrEqual(32);
    }
    // 1576 rows of 768 columns on NVIDIA (24 strips of 8 vec4s): enough chunks to fill the GPU.
    expect(columnChunks(1576, 24, 4).chunks).toBeGreaterThan(10);
  });

  for (const on of [true, false]) {
    const path = on ? 'subgroup path (or its fallback)' : 'portable path';
    it(`${path}: sum and mean with gradients on odd shapes`, async () => {
      const ctx = await gpuWithSubgroups(on);
      for (const [i, [shape, axis]] of WITH_GRAD.entries()) {
        const x = rand(shape, 40 + i);
        await checkOp(ctx, { ref: refOps.sum, opts: { axis }, inputs: [x], grad: [0], engine: ([t]) => sum(t!, axis) });
        await checkOp(ctx, { ref: refOps.mean, opts: { axis }, inputs: [x], grad: [0], engine: ([t]) => mean(t!, axis) });
      }
    });

    it(`${path}: sums over many rows and long rows (several chunks, vec4 and scalar)`, async () => {
      const ctx = await gpuWithSubgroups(on);
      for (const [i, [shape, axis]] of FORWARD_ONLY.entries()) {
        await checkOp(ctx, { ref: refOps.sum, opts: { axis }, inputs: [rand(shape, 60 + i)], engine: ([t]) => sum(t!, axis) });
      }
      await checkOp(ctx, { ref: refOps.mean, opts: { axis: 0 }, inputs: [rand([1000, 64], 70)], engine: ([t]) => mean(t!, 0) });
    });

    it(`${path}: a bias gradient is the column sum of the output gradient`, async () => {
      const ctx = await gpuWithSubgroups(on);
      for (const [rows, cols] of [[65, 33], [7, 1000], [197, 12]] as const) {
        await checkOp(ctx, { ref: refOps.add, opts: undefined, inputs: [rand([rows, cols], rows), rand([cols], cols)], grad: [0, 1], engine: ([a, b]) => add(a!, b!) });
      }
    });
  }

  it('both paths agree on the bench shapes: column sums of 1576×768, 1576×192, row sums of 1576×768 and 1200×50', async () => {
    const ctx = await gpu();
    const saved = ctx.useSubgroups;
    const cases = [
      { rows: 1576, cols: 768, inner: 768 },
      { rows: 1576, cols: 192, inner: 192 },
      { rows: 1576, cols: 768, inner: 1 },
      { rows: 1200, cols: 50, inner: 1 },
    ];
    try {
      for (const { rows, cols, inner } of cases) {
        const data = Float32Array.from(rand([rows, cols], rows + cols).data);
        const x = Tensor.fromData(ctx, [rows, cols], data);
        const n = inner === 1 ? rows : cols;
        const results: Float32Array[] = [];
        for (const on of [true, false]) {
          ctx.useSubgroups = on;
          const out = Tensor.empty(ctx, [n]);
          if (inner === 1) sumAxis(ctx, x, out, rows, cols, 1, 0.5);
          else sumAxis(ctx, x, out, 1, rows, cols, 0.5);
          results.push(await out.read());
          out.dispose();
        }
        // Against f64 sums of the same f32 data.
        let maxErr = 0;
        for (let k = 0; k < n; k++) {
          let s = 0;
          let mag = 0;
          for (let l = 0; l < (inner === 1 ? cols : rows); l++) {
            const v = inner === 1 ? data[k * cols + l]! : data[l * cols + k]!;
            s += v;
            mag += Math.abs(v);
          }
          for (const r of results) maxErr = Math.max(maxErr, Math.abs(r[k]! - 0.5 * s) / (0.5 * mag));
        }
        expect(maxErr, `${rows}×${cols} inner ${inner}`).toBeLessThan(1e-6);
        x.dispose();
      }
    } finally {
      ctx.useSubgroups = saved;
    }
  });

  it('rejects an axis out of range when the op is built, naming the shape', async () => {
    const ctx = await gpu();
    const x = Tensor.zeros(ctx, [3, 4]);
    expect(() => sum(x, 2)).toThrow(ShapeError);
    expect(() => sum(x, 2)).toThrow(/\[3, 4\]/);
    x.dispose();
    if (fixedSubgroupSize(ctx) === 0) expect(reduceUsesSubgroups(ctx)).toBe(false);
  });
});
