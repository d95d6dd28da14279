import { f32, type BufferRange, type GpuContext, type Param } from '../gpu/context';
import { ShapeError } from '../gpu/errors';
import type { KernelSpec } from '../gpu/pipelines';
import { sumChunks, viaPartialSums } from './clora';
import { ceilDiv, grid1d } from './grid';
import { expectAtLeast } from './storage';

/*
 * Launchers for shaders/sade.wgsl: Gram tensors of the shared banks and the SADE sum over a range of modules.
 *
 * Dispatches per training step: gram 1 per bank (+1 sum when the bank is longer than GRAM_CHUNK), its backward
 * 1 per bank; sadeSum forward 1 (+1 sum over modules when count > 1), backward 1 (+2 sums when count > 1).
 */

/** SADE's workgroup-memory bounds: r×r products of up to 32×32, p(p+1)/2 pairs of up to 8 spaces. */
export const SADE_MAX_RANK = 32;
export const SADE_MAX_SPACES = 8;

const THREADS = 256;
/** L per gram workgroup (a multiple of the shader's KT = 16). */
const GRAM_CHUNK = 64;
const GRAM_OUTPUTS_PER_GROUP = 4 * THREADS;

function spec(entry: string, up = false, split = false): KernelSpec {
  return { shader: 'sade', entry, defines: { UP: up, SPLIT: split } };
}

interface Fields {
  p: number;
  r: number;
  len?: number;
  chunkLen?: number;
  first?: number;
  count?: number;
  eps?: number;
}

// The order of shaders/sade.wgsl's Params.
function params(f: Fields): Param[] {
  return [f.p, f.r, f.len ?? 0, f.chunkLen ?? 0, f.first ?? 0, f.count ?? 0, f32(f.eps ?? 0)];
}

const expectElements = (what: string, r: BufferRange, want: number): void => expectAtLeast(`sade: ${what}`, r, want);

export interface BankGeometry {
  p: number;
  r: number;
  /** The long dimension: a for a down bank [p, a, r], b for an up bank [p, r, b]. */
  len: number;
  up: boolean;
}

/** out [p, p, r, r] = the bank's Gram tensor (see the shader); long banks sum L chunks in a second pass. */
export function gramInto(ctx: GpuContext, bank: BufferRange, out: BufferRange, g: BankGeometry): void {
  const P = g.p * g.r;
  if (P > 128) throw new ShapeError(`sade: p·r = ${P} is over 128.`);
  expectElements('the bank', bank, P * g.len);
  expectElements('the Gram tensor', out, P * P);
  const chunks = Math.max(1, ceilDiv(g.len, GRAM_CHUNK));
  const p = params({ p: g.p, r: g.r, len: g.len, chunkLen: GRAM_CHUNK });
  const grid: [number, number] = [chunks, ceilDiv(P * P, GRAM_OUTPUTS_PER_GROUP)];
  if (chunks === 1) {
    ctx.dispatch(spec('gram_partial', g.up, false), p, [bank, out], grid);
    return;
  }
  viaPartialSums(ctx, 'Gram partial sums', out, { n: P * P, chunks, outSize: P * P, outOffset: 0, alpha: 1 }, (part) => {
    ctx.dispatch(spec('gram_partial', g.up, true), p, [bank, part], grid);
  });
}

/** dBank from dGram (G = AᵀA over the bank's P vectors, so dA = A·(dG + dGᵀ)). */
export function gramBackwardInto(ctx: GpuContext, bank: BufferRange, dGram: BufferRange, dBank: BufferRange, g: BankGeometry): void {
  const P = g.p * g.r;
  expectElements('the bank', bank, P * g.len);
  expectElements('the Gram gradient', dGram, P * P);
  expectElements('the bank gradient', dBank, P * g.len);
  if (P * g.len === 0) return;
  ctx.dispatch(spec('gram_backward', g.up), params({ p: g.p, r: g.r, len: g.len }), [bank, dGram, dBank], grid1d(P * g.len, THREADS));
}

export interface SadeGeometry {
  p: number;
  r: number;
  /** Modules in the cores tensor [modules, p, r, r]. */
  modules: number;
  first: number;
  count: number;
  eps: number;
}

function checkSade(g: SadeGeometry, cores: BufferRange, gd: BufferRange, gu: BufferRange): void {
  if (g.r > SADE_MAX_RANK || g.p > SADE_MAX_SPACES) throw new ShapeError(`sade: rank ${g.r} and ${g.p} spaces exceed the kernel's ${SADE_MAX_RANK} and ${SADE_MAX_SPACES}.`);
  if (g.count < 1 || g.first < 0 || g.first + g.count > g.modules) throw new ShapeError(`sade: modules [${g.first}, ${g.first + g.count}) are outside the ${g.modules} cores.`);
  expectElements('the cores', cores, g.modules * g.p * g.r * g.r);
  expectElements('G^D', gd, (g.p * g.r) ** 2);
  expectElements('G^U', gu, (g.p * g.r) ** 2);
}

/** out[0] = Σ over modules [first, first + count) of Σ_{h<k} c_hk²; one workgroup per module. */
export function sadeForwardInto(ctx: GpuContext, cores: BufferRange, gd: BufferRange, gu: BufferRange, out: BufferRange, g: SadeGeometry): void {
  checkSade(g, cores, gd, gu);
  expectElements('the output', out, 1);
  const p = params({ p: g.p, r: g.r, first: g.first, count: g.count, eps: g.eps });
  if (g.count === 1) {
    ctx.dispatch(spec('sade_forward'), p, [cores, gd, gu, out], [1]);
    return;
  }
  viaPartialSums(ctx, 'SADE per-module sums', out, { n: 1, chunks: g.count, outSize: 1, outOffset: 0, alpha: 1 }, (part) => {
    ctx.dispatch(spec('sade_forward'), p, [cores, gd, gu, part], [g.count]);
  });
}

/**
 * Gradients of the SADE sum times the upstream scalar gOut[0]: dCores over the whole cores tensor (zeros
 * outside the range), dGd and dGu [p, p, r, r]. A null Gram gradient is computed into scratch and dropped.
 */
export function sadeBackwardInto(
  ctx: GpuContext,
  cores: BufferRange,
  gd: BufferRange,
  gu: BufferRange,
  gOut: BufferRange,
  dCores: BufferRange,
  dGd: BufferRange | null,
  dGu: BufferRange | null,
  g: SadeGeometry,
): void {
  checkSade(g, cores, gd, gu);
  const block = (g.p * g.r) ** 2;
  expectElements('the cores gradient', dCores, g.modules * g.p * g.r * g.r);
  // One [p, p, r, r] block per module, summed afterwards; a single module writes the gradient directly.
  const bytes = g.count * block * 4;
  const scratchD = g.count > 1 || !dGd ? ctx.pool.acquire(bytes, 'SADE Gram-gradient partials') : undefined;
  const scratchU = g.count > 1 || !dGu ? ctx.pool.acquire(bytes, 'SADE Gram-gradient partials') : undefined;
  const range = (b: GPUBuffer): BufferRange => ({ buffer: b, byteOffset: 0, byteLength: bytes });
  const partD = scratchD ? range(scratchD) : dGd!;
  const partU = scratchU ? range(scratchU) : dGu!;
  const p = params({ p: g.p, r: g.r, first: g.first, count: g.count, eps: g.eps });
  ctx.dispatch(spec('sade_backward'), p, [cores, gd, gu, gOut, dCores, partD, partU], [g.modules]);
  if (g.count > 1) {
    if (dGd) sumChunks(ctx, partD, dGd, { n: block, chunks: g.count, outSize: block, outOffset: 0, alpha: 1 });
    if (dGu) sumChunks(ctx, partU, dGu, { n: block, chunks: g.count, outSize: block, outOffset: 0, alpha: 1 });
  }
  if (scratchD) ctx.pool.release(scratchD);
  if (scratchU) ctx.pool.release(scratchU);
}
