import { f32, type BufferRange, type GpuContext, type Param } from '../gpu/context';
import { ShapeError } from '../gpu/errors';
import type { Defines, KernelSpec } from '../gpu/pipelines';
import type { DeviceProfile } from '../gpu/profile';
import { ceilDiv, chunksToFill, grid1d, splitK } from './grid';
import { expectAtLeast, vec4Range } from './storage';

/*
 * Launchers for shaders/clora_*.wgsl: the shared-base low-rank branch of one adapted linear map
 * (P = p·r bottleneck columns; see clora_common.wgsl for layouts and each entry's file for its formula).
 *
 * Dispatches per adapted layer:
 *   forward   2: lowrank_in (Z = X·D_cat and W = dropout(Z_h·Q_h) in one pass over X), lowrank_out (s·W·U_cat
 *             added into the frozen output's columns).
 *   backward  at most 8, fewer for frozen inputs: lowrank_in (dY, dZ in one pass over dOut's columns),
 *             lowrank_out (dX), weight_grad for dD and dU (+1 sum_chunks each when T is split across
 *             workgroups), core_grad + sum_chunks (dQ, written into the whole cores-sized gradient).
 * Up to P = ROWS_MAX_BOTTLENECK, lowrank_out and weight_grad run as their barrier-free `*_rows` entries and
 * lowrank_in as `lowrank_in_rows` (emulators) or `lowrank_in_split` (GPUs: coalesced), same dispatch counts;
 * selectBranchPrograms is the choice.
 */

/** The widest bottleneck (p·r) the kernels take: lowrank_in keeps a row tile of all P columns in 16 KiB. */
export const MAX_BOTTLENECK = 128;

const THREADS = 256;
const KT = 16;
const WORKGROUP_FLOATS = 4096; // lowrank_in's workgroup array (16 KiB)
/**
 * Bottlenecks up to this width take the register-blocked entries (registers hold a thread's whole row of P,
 * or its P × 4 gradient block); wider ones the tiled entries, whose workgroup tiles then carry real reuse.
 */
export const ROWS_MAX_BOTTLENECK = 16;
const useRows = (P: number): boolean => P <= ROWS_MAX_BOTTLENECK;

/** The programs of the branch's three products at bottleneck P on a device (see DeviceProfile.branchIn). */
export interface BranchPrograms {
  /** X·D_cat and the core product: one thread per row, several lanes per row splitting K, or tiled. */
  lowrankIn: 'rows' | 'split' | 'tiled';
  /** W·U_cat (and dZ·D_catᵀ): register blocks along the output's columns (coalesced), or tiled. */
  lowrankOut: 'rows' | 'tiled';
  /** The bank gradients: register blocks along the wide operand's columns (coalesced), or tiled. */
  weightGrad: 'rows' | 'tiled';
}

export function selectBranchPrograms(P: number, profile: Pick<DeviceProfile, 'branchIn'>): BranchPrograms {
  if (!useRows(P)) return { lowrankIn: 'tiled', lowrankOut: 'tiled', weightGrad: 'tiled' };
  return { lowrankIn: profile.branchIn, lowrankOut: 'rows', weightGrad: 'rows' };
}

/** Rows per thread of lowrank_out_rows. */
const ROWS_OUT_RO = 4;

/** Each entry point has its own file, shaders/clora_<entry>.wgsl, and takes only the defines it declares. */
function spec(entry: string, defines: Defines = {}): KernelSpec {
  return { shader: `clora_${entry}`, entry, defines };
}

interface Fields {
  rows?: number;
  k?: number;
  stride?: number;
  offset?: number;
  p?: number;
  r?: number;
  coreBase?: number;
  threshold?: number;
  seed?: number;
  keepScale?: number;
  alpha?: number;
  chunkRows?: number;
  outSize?: number;
  outOffset?: number;
  chunks?: number;
}

// The order of shaders/clora_common.wgsl's Params.
function params(f: Fields): Param[] {
  return [
    f.rows ?? 0, f.k ?? 0, f.stride ?? 0, f.offset ?? 0, f.p ?? 0, f.r ?? 0, f.coreBase ?? 0, f.threshold ?? 0, (f.seed ?? 0) >>> 0,
    f32(f.keepScale ?? 1), f32(f.alpha ?? 1), f.chunkRows ?? 0, f.outSize ?? 0, f.outOffset ?? 0, f.chunks ?? 0,
  ];
}

/** P = p·r, the bottleneck width; refused past what the kernels take. */
function bottleneck(p: number, r: number): number {
  const P = p * r;
  if (P < 1 || P > MAX_BOTTLENECK) throw new ShapeError(`clora: the bottleneck p·r = ${P} must be between 1 and ${MAX_BOTTLENECK}.`);
  return P;
}

const expectElements = (what: string, r: BufferRange, want: number): void => expectAtLeast(`clora: ${what}`, r, want);

// ---- dropout ------------------------------------------------------------------------------------------------

/** Hash threshold: an element is dropped when its 32-bit hash is below it (probability `rate`). */
function dropoutThreshold(rate: number): number {
  if (!(rate >= 0 && rate < 1)) throw new RangeError(`Dropout must be in [0, 1), got ${rate}.`);
  return Math.min(0xffffffff, Math.round(rate * 2 ** 32));
}

function hashU32(x: number): number {
  let v = x >>> 0;
  v = (v ^ (v >>> 16)) >>> 0;
  v = Math.imul(v, 0x7feb352d) >>> 0;
  v = (v ^ (v >>> 15)) >>> 0;
  v = Math.imul(v, 0x846ca68b) >>> 0;
  return (v ^ (v >>> 16)) >>> 0;
}

/**
 * The shader's dropout decision on the CPU: whether element `index` (row·P + column of the [T, P] bottleneck)
 * survives under `seed` (tests and debugging; the engine never builds a mask).
 */
export function dropoutKept(seed: number, index: number, rate: number): boolean {
  const s = seed >>> 0;
  const h = hashU32((hashU32((index ^ hashU32(s)) >>> 0) + s) >>> 0);
  return h >= dropoutThreshold(rate);
}

export interface DropoutSettings {
  rate: number;
  seed: number;
}

// ---- launchers ----------------------------------------------------------------------------------------------

/**
 * lowrank_in's thread grid for a bottleneck of P columns (see the shader): TM rows per workgroup, KT_IN
 * columns staged per barrier pair. A 32-deep stage halves the barriers (the kernel does little arithmetic
 * between them) and is preferred at the largest row block that still fits 16 KiB with it.
 */
function lowRankInLayout(P: number): { TX: number; RM: number; CN: number; TM: number; KT_IN: number } {
  const TX = P <= 4 ? 4 : P <= 8 ? 8 : 16;
  const TY = THREADS / TX;
  const CN = Math.ceil(P / TX);
  for (const [RM, KT_IN] of [[4, 32], [2, 32], [4, KT], [2, KT], [1, KT]] as const) {
    const TM = TY * RM;
    if (TM * (KT_IN + 1) + KT_IN * TX * CN <= WORKGROUP_FLOATS && TM * P <= WORKGROUP_FLOATS) return { TX, RM, CN, TM, KT_IN };
  }
  throw new Error(`clora: no lowrank_in layout fits P = ${P}.`); // unreachable for P ≤ 128
}

export interface LowRankInArgs {
  /** X [rows, k] (forward) or dOut (backward), read at [t, offset + i] with row stride `stride`. */
  wide: BufferRange;
  stride: number;
  offset: number;
  /** Inner length: a (forward) or b (backward); also the bank's long dimension. */
  k: number;
  /** Down bank [p, k, r] (forward) or up bank [p, r, k] (backward). */
  bank: BufferRange;
  cores: BufferRange;
  /** Module j's first element in `cores`. */
  coreBase: number;
  /** [rows, P]: Z (forward) or dY (backward). */
  stage1: BufferRange;
  /** [rows, P]: W (forward) or dZ (backward). */
  stage2: BufferRange;
  rows: number;
  p: number;
  r: number;
  backward: boolean;
  /** Backward: the branch scale s (forward: 1). */
  alpha: number;
  dropout: DropoutSettings;
}

/**
 * Forward: stage1 = X·D_cat, stage2 = dropout(stage1_h·Q_h). Backward: stage1 = dropout-mask·alpha·dOut[:, cols]·U_catᵀ,
 * stage2 = stage1_h·Q_hᵀ. The mask is recomputed from (seed, row·P + column), identical in both directions.
 */
export function lowRankIn(ctx: GpuContext, a: LowRankInArgs): void {
  const P = bottleneck(a.p, a.r);
  expectElements('the bank', a.bank, P * a.k);
  expectElements('the cores', a.cores, a.coreBase + P * a.r);
  expectElements('stage 1', a.stage1, a.rows * P);
  expectElements('stage 2', a.stage2, a.rows * P);
  expectElements('the wide operand', a.wide, a.rows === 0 ? 0 : (a.rows - 1) * a.stride + a.offset + a.k);
  if (a.rows === 0) return;
  const rate = a.dropout.rate;
  const vecWide = a.stride % 4 === 0 && a.offset % 4 === 0 && a.k % 4 === 0;
  const p = params({
    rows: a.rows, k: a.k, stride: a.stride, offset: a.offset, p: a.p, r: a.r, coreBase: a.coreBase,
    threshold: rate > 0 ? dropoutThreshold(rate) : 0, seed: a.dropout.seed, keepScale: 1 / (1 - rate), alpha: a.alpha,
  });
  const buffers = [vec4Range(a.wide, 'clora: the wide operand'), a.bank, a.cores, a.stage1, a.stage2];
  const program = selectBranchPrograms(P, ctx.profile).lowrankIn;
  if (program !== 'tiled') {
    const defines: Defines = { QV: Math.ceil(P / 4), BACKWARD: a.backward, DROPOUT: rate > 0, VEC_WIDE: vecWide };
    // lowrank_in_rows: 64 rows a workgroup, one a thread; lowrank_in_split: 8 rows of 8 lanes.
    ctx.dispatch(spec(`lowrank_in_${program}`, defines), p, buffers, grid1d(a.rows, program === 'rows' ? 64 : 8));
    return;
  }
  const layout = lowRankInLayout(P);
  const defines: Defines = {
    TX: layout.TX,
    RM: layout.RM,
    CN: layout.CN,
    KT_IN: layout.KT_IN,
    BACKWARD: a.backward,
    DROPOUT: rate > 0,
    VEC_WIDE: vecWide,
  };
  ctx.dispatch(spec('lowrank_in', defines), p, buffers, grid1d(a.rows, layout.TM));
}

/** T rows through a bottleneck of p spaces of rank r, against n columns [offset, offset + n) of a row-major matrix of `stride` floats a row. */
interface BranchWindow {
  rows: number;
  p: number;
  r: number;
  n: number;
  stride: number;
  offset: number;
}

export interface LowRankOutArgs extends BranchWindow {
  /** [rows, P]: W (forward) or dZ (backward). */
  lhs: BufferRange;
  /** Up bank [p, r, n] (U_cat [P, n]) or, with bankDown, down bank [p, n, r] used as D_catᵀ. */
  bank: BufferRange;
  bankDown: boolean;
  /** Written at [t, offset + n]. */
  out: BufferRange;
  alpha: number;
  /** Add into `out` (the frozen output) instead of overwriting it. */
  accumulate: boolean;
}

/** out[t, offset + n] (+)= alpha · Σ_q lhs[t, q] · bank(q, n). */
export function lowRankOut(ctx: GpuContext, a: LowRankOutArgs): void {
  const P = a.p * a.r;
  expectElements('the bottleneck', a.lhs, a.rows * P);
  expectElements('the bank', a.bank, P * a.n);
  expectElements('the output', a.out, a.rows === 0 ? 0 : (a.rows - 1) * a.stride + a.offset + a.n);
  if (a.rows === 0 || a.n === 0) return;
  const p = params({ rows: a.rows, k: a.n, stride: a.stride, offset: a.offset, p: a.p, r: a.r, alpha: a.alpha });
  if (selectBranchPrograms(P, ctx.profile).lowrankOut === 'rows') {
    const defines = { RO: ROWS_OUT_RO, BANK_DOWN: a.bankDown, ACCUMULATE: a.accumulate };
    ctx.dispatch(spec('lowrank_out_rows', defines), p, [a.lhs, a.bank, a.out], [ceilDiv(a.n, 64), ceilDiv(a.rows, 4 * ROWS_OUT_RO)]); // 64 columns × 4 row groups of RO
    return;
  }
  ctx.dispatch(spec('lowrank_out', { BANK_DOWN: a.bankDown, ACCUMULATE: a.accumulate }), p, [a.lhs, a.bank, a.out], [ceilDiv(a.n, 64), ceilDiv(a.rows, 64)]);
}

/**
 * How T rows split into chunks for a reduction over T with `tiles` output tiles per chunk (chunks of about 64
 * rows or more), so that the device's profile.reductionGroups workgroups are busy.
 */
function splitRows(ctx: GpuContext, rows: number, tiles: number, step: number): { chunks: number; chunkRows: number } {
  const { chunkLength, chunks } = splitK(rows, chunksToFill(tiles, ctx.profile.reductionGroups, ceilDiv(rows, 64)), step);
  return { chunks, chunkRows: chunkLength };
}

export interface WeightGradArgs extends BranchWindow {
  /** [rows, P]: W (for dU) or dZ (for dD). */
  lhs: BufferRange;
  /** dOut (for dU) or X (for dD), read at [t, offset + n]. */
  wide: BufferRange;
  /** Write in the down bank's layout [p, n, r] (else the up bank's [p, r, n]). */
  bankDown: boolean;
  out: BufferRange;
  alpha: number;
}

/**
 * out(q, n) = alpha · Σ_t lhs[t, q] · wide[t, offset + n] in a bank's layout: the reduction over T runs in
 * chunks on separate workgroups (partial sums in a pooled scratch buffer, then sum_chunks) once T is long.
 */
export function weightGrad(ctx: GpuContext, a: WeightGradArgs): void {
  const P = bottleneck(a.p, a.r);
  expectElements('the bottleneck', a.lhs, a.rows * P);
  expectElements('the wide operand', a.wide, a.rows === 0 ? 0 : (a.rows - 1) * a.stride + a.offset + a.n);
  expectElements('the gradient', a.out, P * a.n);
  const size = P * a.n;
  if (size === 0) return;
  if (a.rows === 0) {
    ctx.clear({ buffer: a.out.buffer, byteOffset: a.out.byteOffset, byteLength: size * 4 });
    return;
  }
  const rows = selectBranchPrograms(P, ctx.profile).weightGrad === 'rows';
  const qv = Math.min(2, Math.ceil(P / 4));
  const qBlocks = rows ? ceilDiv(P, 4 * qv) : 1;
  const tiles = rows ? ceilDiv(a.n, 256) : ceilDiv(a.n, 64);
  const { chunks, chunkRows } = splitRows(ctx, a.rows, tiles * qBlocks, rows ? 1 : KT);
  const entry = rows ? 'weight_grad_rows' : 'weight_grad';
  const defines: Defines = {
    ...(rows ? { QV: qv } : { CN: Math.ceil(P / 16) }),
    BANK_DOWN: a.bankDown,
    VEC_WIDE: a.stride % 4 === 0 && a.offset % 4 === 0 && a.n % 4 === 0,
    SPLIT: chunks > 1,
  };
  const p = params({ rows: a.rows, k: a.n, stride: a.stride, offset: a.offset, p: a.p, r: a.r, alpha: a.alpha, chunkRows, outSize: size, chunks });
  const wide = vec4Range(a.wide, 'clora: the wide operand');
  if (chunks === 1) {
    ctx.dispatch(spec(entry, defines), p, [wide, a.lhs, a.out], [tiles, 1, qBlocks]);
    return;
  }
  viaPartialSums(ctx, 'clora weight-gradient partial sums', a.out, { n: size, chunks, outSize: size, outOffset: 0, alpha: 1 }, (part) => {
    ctx.dispatch(spec(entry, defines), p, [wide, a.lhs, part], [tiles, chunks, qBlocks]);
  });
}

export interface CoreGradArgs {
  z: BufferRange;
  dy: BufferRange;
  rows: number;
  p: number;
  r: number;
  /** The whole cores-sized gradient [modules, p, r, r]: module `module` gets Z_hᵀ·dY_h, the rest zeros. */
  out: BufferRange;
  modules: number;
  module: number;
}

/**
 * dQ for one module, written into a gradient the size of the whole cores tensor. The tape adds a gradient
 * into a parameter only as a whole tensor of that parameter's size, so the zeros around module j are written
 * by the same reduction that sums the T chunks: no separate clear, and one dispatch more than a bare product.
 */
export function coreGrad(ctx: GpuContext, a: CoreGradArgs): void {
  const P = bottleneck(a.p, a.r);
  const block = P * a.r;
  const total = a.modules * block;
  expectElements('Z', a.z, a.rows * P);
  expectElements('dY', a.dy, a.rows * P);
  expectElements('the cores gradient', a.out, total);
  const { chunks, chunkRows } = splitRows(ctx, Math.max(a.rows, 1), ceilDiv(block, THREADS), 8);
  const p = params({ rows: a.rows, p: a.p, r: a.r, chunkRows, chunks });
  viaPartialSums(ctx, 'clora core-gradient partial sums', a.out, { n: block, chunks, outSize: total, outOffset: a.module * block, alpha: 1 }, (part) => {
    ctx.dispatch(spec('core_grad'), p, [a.z, a.dy, part], [chunks, ceilDiv(block, THREADS)]);
  });
}

export interface SumChunksArgs {
  /** Elements per chunk. */
  n: number;
  chunks: number;
  /** Elements written to `out`: the summed block at outOffset, zeros around it. */
  outSize: number;
  outOffset: number;
  alpha: number;
}

/**
 * Records `produce` writing `chunks` partial sums of `n` floats each into a pooled scratch buffer, then
 * sum_chunks adding them into `out`. The scratch goes back to the pool at once: its next user is recorded,
 * hence runs, after the sum.
 */
export function viaPartialSums(ctx: GpuContext, label: string, out: BufferRange, sum: SumChunksArgs, produce: (part: BufferRange) => void): void {
  const bytes = sum.chunks * sum.n * 4;
  const scratch = ctx.pool.acquire(bytes, label);
  const part: BufferRange = { buffer: scratch, byteOffset: 0, byteLength: bytes };
  produce(part);
  sumChunks(ctx, part, out, sum);
  ctx.pool.release(scratch);
}

/** out[outOffset + e] = alpha · Σ_c part[c·n + e] for e < n, and 0 in the rest of out[0, outSize). */
export function sumChunks(ctx: GpuContext, part: BufferRange, out: BufferRange, a: SumChunksArgs): void {
  expectElements('the partial sums', part, a.chunks * a.n);
  expectElements('the output', out, a.outSize);
  if (a.outOffset + a.n > a.outSize) throw new ShapeError(`clora: a block of ${a.n} at ${a.outOffset} does not fit in ${a.outSize} elements.`);
  if (a.outSize === 0) return;
  const p = params({ k: a.n, chunks: a.chunks, outSize: a.outSize, outOffset: a.outOffset, alpha: a.alpha });
  ctx.dispatch(spec('sum_chunks'), p, [part, out], grid1d(a.outSize, THREADS));
}
