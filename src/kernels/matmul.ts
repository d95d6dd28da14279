import type { BufferRange, GpuContext } from '../gpu/context';
import { ShapeError } from '../gpu/errors';
import type { KernelSpec } from '../gpu/pipelines';
import type { DeviceProfile } from '../gpu/profile';
import { ceilDiv, chunksToFill, grid1d, splitK } from './grid';
import { elementsOf, storageMap, storageOf, vec4Range } from './storage';

/*
 * Launchers for shaders/matmul.wgsl and shaders/matmul_thin.wgsl:
 *   C[b] = epilogue(op(A[b]) · op(B[b])),  epilogue(z) = gelu?(z + bias?) or relu?(z + bias?), optionally added into C.
 *
 * How the program is chosen (selectMatmulProgram), from the output shape and the device profile's workgroup
 * targets (src/gpu/profile.ts: how many workgroups keep the device busy; emulators 32 tiled / 64 thin, the
 * numbers measured fastest there, integrated GPUs 128, discrete 512):
 *  1. One output side ≤ 16 (rank-r adapter shapes 197×192×8, 8×192×197, weight gradients Xᵀ·G):
 *     'thin'. A square register tile would spend most of its lanes on padding there, so the thin program
 *     gives a workgroup 64 rows of the wide side × the whole thin side and splits K across 4 threads per
 *     row, reducing their partial sums in workgroup memory.
 *     If that leaves the device short of workgroups (under thinGroups) and K is long (≥ 512), K is also
 *     split across workgroups in chunks of ≥ 256: 'thin_splitk' writes one partial product per chunk and a
 *     second pass sums them and applies the epilogue.
 *  2. Otherwise the register-blocked tiled program (vec4 loads where the operand's contiguous dimension
 *     is a multiple of 4, scalar loads at ragged edges):
 *     'tiled_64x64' (64 threads, 8×8 outputs each: every value read from workgroup memory feeds 8 FMAs)
 *     when that tiling already yields matmulGroups workgroups (on an emulator 32: one image's 197×192×576
 *     makes 36), else 'tiled_32x32' (64 threads, 4×4 outputs each), whose 4× more workgroups keep more of a
 *     device busy on small products such as one image's 197×192×192. Except when K is long (≥ 512, the
 *     backward of a 400×576×192 qkv product): 'tiled_64x64_splitk' then splits K across workgroups (chunks
 *     of ≥ 256) until there are matmulGroups of them, keeping the 8×8 register blocks; a second pass sums
 *     the partial tiles and applies the epilogue.
 * Operands and output may each be f16 tensors (mixed precision; the bias stays f32): each binding's storage
 * type follows its buffer, loads widen to f32 and accumulation stays f32; split-K partials are always f32.
 * Transposes, batching and the epilogue never change the choice; they are compile-time defines of the
 * chosen program (part of the pipeline cache key). Workgroup memory stays ≤ 16 KiB (tiled 64: ≤ 10 KiB,
 * tiled 32: ≤ 9.2 KiB, thin at THIN = 16: 14.2 KiB) and workgroups ≤ 256 invocations.
 */

export type MatmulProgram = 'tiled_64x64' | 'tiled_64x64_splitk' | 'tiled_32x32' | 'thin' | 'thin_splitk';

export interface MatmulGeometry {
  batch: number;
  m: number;
  k: number;
  n: number;
  /** A is stored [K, M] (default [M, K]). */
  transA?: boolean;
  /** B is stored [N, K] (default [K, N]). */
  transB?: boolean;
  /** false: one 2-D A shared by every batch entry (default true). */
  batchedA?: boolean;
  /** false: one 2-D B shared by every batch entry, the weight case (default true). */
  batchedB?: boolean;
}

export interface MatmulEpilogue {
  /** [N], added to every row. */
  bias?: BufferRange;
  /** Exact (erf) GELU after the bias. */
  gelu?: boolean;
  /** ReLU after the bias (not with GELU). */
  relu?: boolean;
  /** C += result instead of C = result (gradient accumulation). */
  accumulate?: boolean;
  /** Receives z = A·B + bias before GELU (what GELU's backward needs); [batch, M, N]. */
  preActivation?: BufferRange;
}

export interface MatmulPlan {
  program: MatmulProgram;
  /** Thin programs: the thin side padded to 4, 8 or 16, and whether it is N (else M). */
  thin?: number;
  thinIsN?: boolean;
  /** Thin programs: K per workgroup and the number of K chunks. */
  kChunk?: number;
  kChunks?: number;
}

/** The profile's workgroup targets: thinGroups for the thin programs, matmulGroups for the tiled ones. */
type Targets = Pick<DeviceProfile, 'matmulGroups' | 'thinGroups'>;
const THIN_MAX = 16;
const THIN_WIDE = 64; // wide rows per thin workgroup (matmul_thin.wgsl WIDE)
const THIN_KT = 32; // K staged per step (matmul_thin.wgsl KT)
const SPLIT_MIN_CHUNK = 256;
// K staged per barrier pair: 32 for the 32×32 tile (fewer barriers; 9 KiB of workgroup memory), 16 for the
// 64×64 tile (its 32-deep tiles would need 18 KiB, over the 16 KiB every device offers).
const TILED_K: Record<'tiled_64x64' | 'tiled_32x32', number> = { tiled_64x64: 16, tiled_32x32: 32 };
// 4×4 blocks per thread along M and N.
const TILED_BLOCKS: Record<'tiled_64x64' | 'tiled_32x32', number> = { tiled_64x64: 2, tiled_32x32: 1 };

function thinPlan(g: MatmulGeometry, t: Targets, forceSplit: boolean): MatmulPlan {
  const thinIsN = g.n <= g.m;
  const thinLen = thinIsN ? g.n : g.m;
  const wide = thinIsN ? g.m : g.n;
  const thin = thinLen <= 4 ? 4 : thinLen <= 8 ? 8 : 16;
  const groups = ceilDiv(wide, THIN_WIDE) * g.batch;
  // K is split only when it holds two chunks of SPLIT_MIN_CHUNK or more (K ≥ 512).
  const chunks = forceSplit ? 2 : chunksToFill(groups, t.thinGroups, Math.floor(g.k / SPLIT_MIN_CHUNK));
  const { chunkLength: kChunk, chunks: kChunks } = splitK(g.k, chunks, THIN_KT);
  return { program: forceSplit || kChunks > 1 ? 'thin_splitk' : 'thin', thin, thinIsN, kChunk, kChunks };
}

const TILED_SPLIT_MIN_K = 512;

function tiledSplitPlan(g: MatmulGeometry, t: Targets, forceSplit: boolean): MatmulPlan {
  const tiles64 = ceilDiv(g.m, 64) * ceilDiv(g.n, 64) * g.batch;
  let chunks = chunksToFill(tiles64, t.matmulGroups, Math.floor(g.k / SPLIT_MIN_CHUNK));
  if (forceSplit) chunks = Math.max(2, chunks);
  const { chunkLength: kChunk, chunks: kChunks } = splitK(g.k, Math.min(chunks, ceilDiv(g.k, 16)), 16);
  return { program: 'tiled_64x64_splitk', kChunk, kChunks };
}

/** The program (and its thin/split parameters) for a product of this shape on a device; see the note above. */
export function selectMatmulProgram(g: MatmulGeometry, t: Targets): MatmulPlan {
  if (Math.min(g.m, g.n) <= THIN_MAX) return thinPlan(g, t, false);
  const tiles64 = ceilDiv(g.m, 64) * ceilDiv(g.n, 64) * g.batch;
  if (tiles64 >= t.matmulGroups) return { program: 'tiled_64x64' };
  if (g.k >= TILED_SPLIT_MIN_K) return tiledSplitPlan(g, t, false);
  return { program: 'tiled_32x32' };
}

/** A plan for a given program regardless of the selector (tests and benchmarks compare programs). */
function planFor(g: MatmulGeometry, t: Targets, program: MatmulProgram): MatmulPlan {
  if (program === 'tiled_64x64_splitk') return tiledSplitPlan(g, t, true);
  if (program === 'thin' || program === 'thin_splitk') {
    if (Math.min(g.m, g.n) > THIN_MAX) throw new Error(`matmul: the ${program} program needs M or N ≤ ${THIN_MAX} (got ${g.m}×${g.n}).`);
    const plan = thinPlan(g, t, program === 'thin_splitk');
    return program === 'thin' ? { ...plan, program, kChunk: ceilDiv(g.k, THIN_KT) * THIN_KT, kChunks: 1 } : plan;
  }
  return { program };
}

function checkSizes(g: MatmulGeometry, a: BufferRange, b: BufferRange, out: BufferRange, e: MatmulEpilogue): void {
  const dims = `batch ${g.batch}, M ${g.m}, K ${g.k}, N ${g.n}`;
  const expect = (what: string, r: BufferRange, want: number): void => {
    if (elementsOf(r) !== want) throw new ShapeError(`matmul (${dims}): ${what} has ${elementsOf(r)} elements, expected ${want}.`);
  };
  if (g.k === 0) throw new ShapeError(`matmul (${dims}): the inner dimension K is 0.`);
  expect('A', a, (g.batchedA === false ? 1 : g.batch) * g.m * g.k);
  expect('B', b, (g.batchedB === false ? 1 : g.batch) * g.k * g.n);
  expect('C', out, g.batch * g.m * g.n);
  if (e.bias) expect('bias', e.bias, g.n);
  if (e.preActivation) expect('the pre-activation', e.preActivation, g.batch * g.m * g.n);
  if (e.bias && storageOf(e.bias) !== 'f32') throw new ShapeError(`matmul (${dims}): the bias must be f32 (parameters stay f32 in mixed precision).`);
  if (e.preActivation && storageOf(e.preActivation) !== storageOf(out)) throw new ShapeError(`matmul (${dims}): the pre-activation must have C's element type (${storageOf(out)}).`);
}

// Layout 'auto' drops bindings a kernel never names, so the epilogue's optional buffers are always named
// and, when unused, bound to stand-ins: a read-only input for the bias, this small buffer for `pre`.
const unusedOutputs = new WeakMap<GpuContext, BufferRange>();
/** A small writable buffer to bind where a kernel names an output it will not write (no aliasing with real ones). */
export function unusedOutput(ctx: GpuContext): BufferRange {
  let range = unusedOutputs.get(ctx);
  if (!range) {
    const buffer = ctx.device.createBuffer({ size: 256, usage: GPUBufferUsage.STORAGE, label: 'matmul-unused-output' });
    range = { buffer, byteOffset: 0, byteLength: 256 };
    unusedOutputs.set(ctx, range);
  }
  return range;
}

/**
 * Records C = epilogue(op(A)·op(B)) for every batch entry and returns the plan it used. `program` forces a
 * program instead of the selector's choice (to compare programs; the thin ones need M or N ≤ 16).
 */
export function matmulInto(
  ctx: GpuContext,
  a: BufferRange,
  b: BufferRange,
  out: BufferRange,
  g: MatmulGeometry,
  epilogue: MatmulEpilogue = {},
  program?: MatmulProgram,
): MatmulPlan {
  checkSizes(g, a, b, out, epilogue);
  if (epilogue.gelu && epilogue.relu) throw new Error('matmul: the epilogue applies GELU or ReLU, not both.');
  const plan = program ? planFor(g, ctx.profile, program) : selectMatmulProgram(g, ctx.profile);
  if (g.batch * g.m * g.n === 0) return plan;
  const transA = g.transA ?? false;
  const transB = g.transB ?? false;
  const strideA = g.batchedA === false ? 0 : g.m * g.k;
  const strideB = g.batchedB === false ? 0 : g.k * g.n;
  const flags = {
    TRANS_A: transA,
    TRANS_B: transB,
    HAS_BIAS: epilogue.bias !== undefined,
    GELU: epilogue.gelu ?? false,
    RELU: epilogue.relu ?? false,
    ACCUMULATE: epilogue.accumulate ?? false,
    STORE_PRE: epilogue.preActivation !== undefined,
  };
  const bias = epilogue.bias ?? a;
  const pre = epilogue.preActivation ?? unusedOutput(ctx);

  const total = g.batch * g.m * g.n;
  const cType = storageOf(out);
  const operandTypes = { a_t: storageOf(a), b_t: storageOf(b) };
  // Final pass: partials (f32) in through `a`, the real output type out.
  const reduceStorage = storageMap({ a_t: 'f32', c_t: cType });
  if (plan.program === 'tiled_64x64' || plan.program === 'tiled_32x32' || plan.program === 'tiled_64x64_splitk') {
    const split = plan.program === 'tiled_64x64_splitk';
    const shape: 'tiled_64x64' | 'tiled_32x32' = plan.program === 'tiled_32x32' ? 'tiled_32x32' : 'tiled_64x64';
    const tile = shape === 'tiled_64x64' ? 64 : 32;
    const chunks = split ? plan.kChunks! : 1;
    const noEpilogue = { HAS_BIAS: false, GELU: false, RELU: false, ACCUMULATE: false, STORE_PRE: false };
    const spec: KernelSpec = {
      shader: 'matmul',
      entry: 'matmul_tiled',
      defines: {
        TILE_M: tile,
        TILE_N: tile,
        TILE_K: TILED_K[shape],
        RM: TILED_BLOCKS[shape],
        RN: TILED_BLOCKS[shape],
        // vec4 loads need the contiguous dimension (hence every row start and batch stride) to be a multiple of 4.
        VEC_A: (transA ? g.m : g.k) % 4 === 0,
        VEC_B: (transB ? g.k : g.n) % 4 === 0,
        ...flags,
        ...(split ? noEpilogue : {}),
        SPLIT: split,
      },
      storage: storageMap({ ...operandTypes, c_t: split ? 'f32' : cType }),
    };
    const params = [g.m, g.k, g.n, strideA, strideB, plan.kChunk ?? g.k, g.batch, total, chunks];
    const grid: [number, number, number] = [ceilDiv(g.n, tile), ceilDiv(g.m, tile), g.batch * chunks];
    if (!split) {
      ctx.dispatch(spec, params, [vec4Range(a, 'matmul: A'), vec4Range(b, 'matmul: B'), out, bias, pre], grid);
      return plan;
    }
    // Partial tiles per K chunk, then matmul_thin's reduce (same partial layout) sums them and applies the
    // epilogue. The scratch goes back to the pool at once: later users are recorded after these dispatches.
    const partialBytes = chunks * total * 4;
    const scratch = ctx.pool.acquire(partialBytes, 'matmul split-K partial tiles');
    const partial: BufferRange = { buffer: scratch, byteOffset: 0, byteLength: partialBytes };
    ctx.dispatch(spec, params, [vec4Range(a, 'matmul: A'), vec4Range(b, 'matmul: B'), partial, a, unusedOutput(ctx)], grid);
    const reduceDefines = { THIN: 4, THIN_IS_N: true, ...flags, TRANS_A: false, TRANS_B: false, SPLIT: true };
    const reduceParams = [g.m, g.k, g.n, strideA, strideB, plan.kChunk!, g.batch, total, chunks];
    ctx.dispatch({ shader: 'matmul_thin', entry: 'thin_reduce', defines: reduceDefines, storage: reduceStorage }, reduceParams, [out, bias, pre, partial], grid1d(total, 256));
    ctx.pool.release(scratch);
    return plan;
  }

  const chunks = plan.kChunks!;
  const params = [g.m, g.k, g.n, strideA, strideB, plan.kChunk!, g.batch, total, chunks];
  const wide = plan.thinIsN ? g.m : g.n;
  const workgroups: [number, number, number] = [ceilDiv(wide, THIN_WIDE), chunks, g.batch];
  const thinDefines = { THIN: plan.thin!, THIN_IS_N: plan.thinIsN!, TRANS_A: transA, TRANS_B: transB };
  if (plan.program === 'thin') {
    const storage = storageMap({ ...operandTypes, c_t: cType });
    ctx.dispatch({ shader: 'matmul_thin', entry: 'thin_partial', defines: { ...thinDefines, ...flags, SPLIT: false }, storage }, params, [out, bias, pre, a, b], workgroups);
    return plan;
  }
  // Split K: partial products per chunk, then a reduce that applies the epilogue. The scratch buffer goes
  // back to the pool at once: later users of it are recorded after these dispatches and run after them.
  const partialBytes = chunks * total * 4;
  const scratch = ctx.pool.acquire(partialBytes, 'matmul split-K partial products');
  const partial: BufferRange = { buffer: scratch, byteOffset: 0, byteLength: partialBytes };
  const noEpilogue = { HAS_BIAS: false, GELU: false, RELU: false, ACCUMULATE: false, STORE_PRE: false };
  ctx.dispatch(
    { shader: 'matmul_thin', entry: 'thin_partial', defines: { ...thinDefines, ...noEpilogue, SPLIT: true }, storage: storageMap(operandTypes) },
    params,
    [partial, a, unusedOutput(ctx), a, b],
    workgroups,
  );
  // The reduce ignores the layout defines: fix them so every shape shares one reduce pipeline per epilogue.
  const reduceDefines = { THIN: 4, THIN_IS_N: true, ...flags, TRANS_A: false, TRANS_B: false, SPLIT: true };
  ctx.dispatch({ shader: 'matmul_thin', entry: 'thin_reduce', defines: reduceDefines, storage: reduceStorage }, params, [out, bias, pre, partial], grid1d(total, 256));
  ctx.pool.release(scratch);
  return plan;
}
