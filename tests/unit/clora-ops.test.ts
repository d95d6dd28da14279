import { describe, expect, it } from 'vitest';
import { Tape } from '../../src/autodiff/tape';
import { Tensor } from '../../src/autodiff/tensor';
import { cloraBranch, gram, sadeSum } from '../../src/clora/ops';
import type { GpuContext } from '../../src/gpu/context';
import { ShapeError } from '../../src/gpu/errors';
import type { DeviceKind } from '../../src/gpu/profile';
import { dropoutKept, selectBranchPrograms } from '../../src/kernels/clora';
import * as ref from '../reference/clora';
import { maxRelError, tensor, type RefOp, type RefTensor } from '../reference/ops';
import { gpu, gpuWithProfile } from '../helpers/gpu';
import { checkOp, rand } from '../helpers/oracle';

interface BranchCase {
  lead: number[];
  a: number;
  b: number;
  p: number;
  r: number;
  m: number;
  module: number;
  width: number;
  colStart: number;
  scale: number;
  grad: number[];
}

/** [x, down, cores, up, base], scaled so that every stage of the branch is O(1). */
function branchInputs(c: BranchCase, seed: number): RefTensor[] {
  return [
    rand([...c.lead, c.a], seed),
    rand([c.p, c.a, c.r], seed + 1, 1 / Math.sqrt(c.a)),
    rand([c.m, c.p, c.r, c.r], seed + 2, 1 / Math.sqrt(c.r)),
    rand([c.p, c.r, c.b], seed + 3, 1 / Math.sqrt(c.p * c.r)),
    rand([...c.lead, c.width], seed + 4),
  ];
}

/** cloraBranch against the reference on case `c` (inputs from `seed`), with dropout at `rate` under `dropSeed`. */
function checkBranch(ctx: GpuContext, c: BranchCase, seed: number, rate = 0, dropSeed = 5) {
  const keep = rate > 0 ? Float64Array.from({ length: c.lead.reduce((a, b) => a * b, 1) * c.p * c.r }, (_, e) => (dropoutKept(dropSeed, e, rate) ? 1 / (1 - rate) : 0)) : undefined;
  return checkOp(ctx, {
    ref: ref.cloraBranch,
    opts: { module: c.module, colStart: c.colStart, scale: c.scale, ...(keep ? { keep } : {}) },
    inputs: branchInputs(c, seed),
    grad: c.grad,
    engine: ([x, d, q, u, base]) => cloraBranch(x!, d!, q!, c.module, u!, base!, { colStart: c.colStart, scale: c.scale, dropout: rate, seed: dropSeed }),
  });
}

const describeCase = (c: BranchCase): string =>
  `x ${JSON.stringify([...c.lead, c.a])}, p=${c.p}, r=${c.r}, b=${c.b} into columns ${c.colStart}.. of ${c.width}, module ${c.module}/${c.m}`;

describe('cloraBranch against the f64 reference', () => {
  // Odd widths and row counts; P = p·r covers every lowrank_in thread layout (P ≤ 4, ≤ 8, ≤ 64, > 64); T = 197
  // splits the weight-gradient reductions over T across workgroups; a = b = 32 into a 96-wide base at 32 takes
  // the vec4 loads (the q/k/v case). Gradient sets are trimmed where finite differences would be slow (x at
  // T = 197; base, whose gradient is the identity, wherever it is wide).
  const all = [0, 1, 2, 3, 4];
  const cases: BranchCase[] = [
    { lead: [1], a: 7, b: 7, p: 1, r: 1, m: 1, module: 0, width: 7, colStart: 0, scale: 1, grad: all },
    { lead: [7], a: 33, b: 33, p: 2, r: 3, m: 3, module: 1, width: 40, colStart: 5, scale: 0.5, grad: all },
    { lead: [1, 7], a: 65, b: 7, p: 4, r: 8, m: 2, module: 1, width: 21, colStart: 14, scale: 2, grad: all },
    { lead: [197], a: 33, b: 65, p: 2, r: 3, m: 2, module: 0, width: 65, colStart: 0, scale: 1, grad: [1, 2, 3] },
    { lead: [197], a: 32, b: 32, p: 2, r: 4, m: 2, module: 1, width: 96, colStart: 32, scale: 1, grad: [1, 2, 3] },
    { lead: [33], a: 7, b: 7, p: 8, r: 9, m: 2, module: 1, width: 7, colStart: 0, scale: 1, grad: [0, 1, 2, 3] },
    { lead: [7], a: 7, b: 33, p: 1, r: 8, m: 1, module: 0, width: 40, colStart: 7, scale: 1, grad: all },
    { lead: [7], a: 7, b: 7, p: 4, r: 32, m: 1, module: 0, width: 7, colStart: 0, scale: 1, grad: [1, 2, 3] },
    // Around ROWS_MAX_BOTTLENECK = 16, where the barrier-free *_rows entries give way to the tiled ones: P = 8 at
    // the q/v shape (a = b = 192 into a 576-wide base at 384, vec4 loads), P = 12 over T = 1031 (weight
    // gradients split into many chunks), P = 16 (the widest rows case: two q blocks in weight_grad_rows),
    // P = 17 and P = 64 (tiled).
    { lead: [2, 7], a: 192, b: 192, p: 1, r: 8, m: 2, module: 1, width: 576, colStart: 384, scale: 0.5, grad: [0, 3] },
    { lead: [1031], a: 33, b: 65, p: 3, r: 4, m: 1, module: 0, width: 65, colStart: 0, scale: 1, grad: [1] },
    { lead: [1000], a: 32, b: 32, p: 1, r: 8, m: 1, module: 0, width: 96, colStart: 64, scale: 1, grad: [1, 3] },
    { lead: [197], a: 65, b: 33, p: 4, r: 4, m: 1, module: 0, width: 40, colStart: 7, scale: 1, grad: [1, 3] },
    { lead: [7], a: 65, b: 192, p: 1, r: 17, m: 1, module: 0, width: 192, colStart: 0, scale: 1, grad: [0, 1, 2, 3] },
    { lead: [33], a: 65, b: 33, p: 8, r: 8, m: 1, module: 0, width: 33, colStart: 0, scale: 1, grad: [3] },
  ];
  for (const c of cases) {
    it(describeCase(c), async () => {
      const ctx = await gpu();
      await checkBranch(ctx, c, 10 + c.a + c.p);
    });
  }

  it('costs 2 dispatches forward and at most 8 backward, and its result is base’s own buffer', async () => {
    const ctx = await gpu();
    const c = cases[4]!;
    const [x, d, q, u, base] = branchInputs(c, 3).map((t) => Tensor.fromData(ctx, t.shape, Float32Array.from(t.data)));
    const tape = new Tape(ctx);
    try {
      for (const t of [x, d, q, u]) t!.requiresGrad = true;
      const before = ctx.stats.dispatches;
      const out = cloraBranch(x!, d!, q!, 1, u!, base!, { colStart: 32, scale: 1, dropout: 0.1, seed: 9 });
      expect(ctx.stats.dispatches - before).toBe(2);
      expect(out.buffer).toBe(base!.buffer);
      expect(out.byteOffset).toBe(base!.byteOffset);
      const seed = Tensor.fromData(ctx, out.shape, new Float32Array(out.size).fill(1));
      const beforeBackward = ctx.stats.dispatches;
      tape.backward(out, seed);
      expect(ctx.stats.dispatches - beforeBackward).toBe(8);
      expect(x!.grad && d!.grad && q!.grad && u!.grad).toBeTruthy();
    } finally {
      tape.dispose();
      for (const t of [x, d, q, u, base]) t!.dispose();
    }
  });
});

describe('cloraBranch with the programs GPU profiles pick (forced on the emulator)', () => {
  // At P ≤ 16 GPUs take lowrank_in_split (8 lanes per row splitting K, partial sums in workgroup memory) and,
  // on discrete GPUs, split the bank and core gradients over T into 4× more chunks. Odd widths and row counts,
  // vec4 and scalar loads, T over several chunks; P = 17 stays tiled.
  const cases: BranchCase[] = [
    { lead: [1], a: 7, b: 7, p: 1, r: 1, m: 1, module: 0, width: 7, colStart: 0, scale: 1, grad: [0, 1, 2, 3, 4] },
    { lead: [7], a: 33, b: 33, p: 2, r: 3, m: 3, module: 1, width: 40, colStart: 5, scale: 0.5, grad: [0, 2, 3] },
    { lead: [2, 7], a: 64, b: 64, p: 1, r: 8, m: 2, module: 1, width: 192, colStart: 128, scale: 0.5, grad: [0] },
    { lead: [600], a: 33, b: 17, p: 3, r: 4, m: 1, module: 0, width: 17, colStart: 0, scale: 1, grad: [1, 3] },
    { lead: [9], a: 36, b: 20, p: 1, r: 17, m: 1, module: 0, width: 20, colStart: 0, scale: 1, grad: [0] },
  ];
  const runs: [DeviceKind, BranchCase][] = [...cases.map((c): [DeviceKind, BranchCase] => ['discrete', c]), ['integrated', cases[2]!]];
  for (const [kind, c] of runs) {
    it(`${kind}: ${describeCase(c)}`, async () => {
      const ctx = await gpuWithProfile(kind);
      expect(selectBranchPrograms(c.p * c.r, ctx.profile).lowrankIn).toBe(c.p * c.r <= 16 ? 'split' : 'tiled');
      await checkBranch(ctx, c, 20 + c.a + c.p);
    });
  }

  it('discrete: dropout in the split kernel matches the reference given the shader’s own mask, forward and backward', async () => {
    const ctx = await gpuWithProfile('discrete');
    const c: BranchCase = { lead: [33], a: 7, b: 33, p: 2, r: 3, m: 2, module: 1, width: 40, colStart: 3, scale: 0.7, grad: [0, 2] };
    await checkBranch(ctx, c, 78, 0.3, 99);
  });
});

describe('cloraBranch dropout', () => {
  it('matches the reference given the shader’s own mask, forward and backward', async () => {
    const ctx = await gpu();
    const c: BranchCase = { lead: [33], a: 7, b: 33, p: 2, r: 3, m: 2, module: 1, width: 40, colStart: 3, scale: 0.7, grad: [0, 1, 2, 3, 4] };
    const rate = 0.3;
    const seed = 1234;
    const P = c.p * c.r;
    const keep = Float64Array.from({ length: 33 * P }, (_, e) => (dropoutKept(seed, e, rate) ? 1 / (1 - rate) : 0));
    expect(keep.some((v) => v === 0) && keep.some((v) => v > 0)).toBe(true);
    await checkOp(ctx, {
      ref: ref.cloraBranch,
      opts: { module: c.module, colStart: c.colStart, scale: c.scale, keep },
      inputs: branchInputs(c, 77),
      grad: c.grad,
      engine: ([x, d, q, u, base]) => cloraBranch(x!, d!, q!, c.module, u!, base!, { colStart: c.colStart, scale: c.scale, dropout: rate, seed }),
    });
  });

  // x = 1, D = 1, Q = I and U = the identity from the bottleneck onto b = P columns: the output is the mask
  // itself, 0 or 1/(1−p) per element.
  async function maskOutput(rows: number, p: number, r: number, rate: number, seed: number): Promise<Float32Array> {
    const ctx = await gpu();
    const P = p * r;
    const x = Tensor.fromData(ctx, [rows, 1], new Float32Array(rows).fill(1));
    const d = Tensor.fromData(ctx, [p, 1, r], new Float32Array(P).fill(1));
    const eye = new Float32Array(p * r * r);
    for (let h = 0; h < p; h++) for (let c = 0; c < r; c++) eye[(h * r + c) * r + c] = 1;
    const q = Tensor.fromData(ctx, [1, p, r, r], eye);
    const ident = new Float32Array(P * P);
    for (let i = 0; i < P; i++) ident[i * P + i] = 1;
    const u = Tensor.fromData(ctx, [p, r, P], ident);
    const base = Tensor.zeros(ctx, [rows, P]);
    const out = cloraBranch(x, d, q, 0, u, base, { colStart: 0, scale: 1, dropout: rate, seed });
    const data = await out.read();
    for (const t of [x, d, q, u, base]) t.dispose();
    return data;
  }

  it('drops at the requested rate, scales survivors by 1/(1−p), keeps the mean, and equals the CPU mirror', async () => {
    const rate = 0.25;
    const rows = 1024;
    const P = 64;
    const out = await maskOutput(rows, 4, 16, rate, 42);
    let dropped = 0;
    let sum = 0;
    let mirrorMismatches = 0;
    for (let e = 0; e < out.length; e++) {
      const v = out[e]!;
      if (v === 0) dropped++;
      else expect(Math.abs(v - 1 / (1 - rate))).toBeLessThan(1e-6);
      sum += v;
      if ((v !== 0) !== dropoutKept(42, e, rate)) mirrorMismatches++;
    }
    const n = rows * P;
    expect(Math.abs(dropped / n - rate)).toBeLessThan(0.01); // ~6σ at n = 65,536
    expect(Math.abs(sum / n - 1)).toBeLessThan(0.02); // inverted dropout preserves E[out]
    expect(mirrorMismatches).toBe(0);
  });

  it('is a function of the seed: the same seed repeats the mask, another seed changes it', async () => {
    const a = await maskOutput(197, 2, 8, 0.5, 7);
    const b = await maskOutput(197, 2, 8, 0.5, 7);
    const c = await maskOutput(197, 2, 8, 0.5, 8);
    expect(maxRelError(a, b)).toBe(0);
    let differ = 0;
    for (let i = 0; i < a.length; i++) if (a[i] !== c[i]) differ++;
    expect(differ / a.length).toBeGreaterThan(0.3); // independent masks differ in half the places
  });

  it('without dropout the seed changes nothing', async () => {
    const a = await maskOutput(7, 2, 3, 0, 1);
    const b = await maskOutput(7, 2, 3, 0, 2);
    expect(maxRelError(a, b)).toBe(0);
    expect([...a].every((v) => v === 1 || v === 0)).toBe(true);
  });
});

describe('gram against the f64 reference', () => {
  const cases: [number, number, number][] = [
    [1, 7, 1],
    [4, 33, 3],
    [2, 65, 8], // L = 65: two L chunks, summed in a second pass
  ];
  for (const [p, len, r] of cases) {
    for (const kind of ['down', 'up'] as const) {
      it(`${kind} bank ${JSON.stringify(kind === 'down' ? [p, len, r] : [p, r, len])}`, async () => {
        const ctx = await gpu();
        await checkOp(ctx, {
          ref: ref.gram,
          opts: { kind },
          inputs: [rand(kind === 'down' ? [p, len, r] : [p, r, len], 3 + p + len)],
          grad: [0],
          engine: ([bank]) => gram(bank!, kind),
        });
      });
    }
  }
});

/** Random cores and Gram tensors of random banks (PSD, as in training). */
function sadeInputs(m: number, p: number, r: number, a: number, b: number, seed: number): { cores: RefTensor; down: RefTensor; up: RefTensor; gd: RefTensor; gu: RefTensor } {
  const cores = rand([m, p, r, r], seed);
  const down = rand([p, a, r], seed + 1, 1 / Math.sqrt(a));
  const up = rand([p, r, b], seed + 2, 0.5);
  const [gd] = ref.gram.forward([down], { kind: 'down' });
  const [gu] = ref.gram.forward([up], { kind: 'up' });
  return { cores, down, up, gd: gd!, gu: gu! };
}

describe('sadeSum against the f64 reference', () => {
  const cases: [number, number, number, number, number, number[]][] = [
    // p, r, m, first, count, gradients
    [2, 3, 1, 0, 1, [0, 1, 2]],
    [4, 8, 3, 1, 2, [0, 1, 2]],
    [3, 2, 4, 0, 4, [0, 1, 2]],
    [8, 3, 2, 1, 1, [0, 1, 2]],
    // r = 1: each c_hk is a cosine of scalar multiples, blind to the cores but for eps, so their gradient is
    // ~1e-8-sized noise for finite differences; the Gram gradients are well conditioned.
    [4, 1, 3, 0, 3, [1, 2]],
  ];
  for (const [p, r, m, first, count, grad] of cases) {
    it(`p=${p}, r=${r}, modules [${first}, ${first + count}) of ${m}`, async () => {
      const ctx = await gpu();
      const { cores, gd, gu } = sadeInputs(m, p, r, 33, 17, 20 + p * r);
      const opts = { first, count, eps: 1e-8 };
      await checkOp(ctx, { ref: ref.sadeSum, opts, inputs: [cores, gd, gu], grad, engine: ([c, d, u]) => sadeSum(c!, first, count, d!, u!) });
    });
  }

  it('is zero with zero gradients for p = 1 (no pairs)', async () => {
    const ctx = await gpu();
    const { cores, gd, gu } = sadeInputs(2, 1, 3, 7, 7, 5);
    const result = await checkOp(ctx, { ref: ref.sadeSum, opts: { first: 0, count: 2, eps: 1e-8 }, inputs: [cores, gd, gu], grad: [0, 1, 2], engine: ([c, d, u]) => sadeSum(c!, 0, 2, d!, u!) });
    expect(result.outputError[0]).toBe(0);
    expect(result.gradError).toEqual([0, 0, 0]);
  });

  it('equals the Frobenius cosines of the explicit a×b components M_h = D_h·Q_h·U_h (the trace identity)', () => {
    for (const [p, r, a, b] of [[3, 3, 7, 33], [2, 1, 5, 4], [4, 2, 9, 6]] as const) {
      const { cores, down, up, gd, gu } = sadeInputs(2, p, r, a, b, 31 + p);
      const o = { first: 0, count: 2, eps: 1e-8 };
      const viaTrace = ref.sadeSum.forward([cores, gd, gu], o)[0]!.data[0]!;
      const explicit = ref.sadeExplicit(down, up, cores, o);
      expect(viaTrace).toBeGreaterThan(1e-6);
      expect(Math.abs(viaTrace - explicit) / explicit).toBeLessThan(1e-10);
    }
  });

  it('flows through gram() into the banks: d/d(down, cores, up) of sadeSum(cores, gram(down), gram(up))', async () => {
    const ctx = await gpu();
    const first = 1;
    const count = 2;
    const o = { first, count, eps: 1e-8 };
    const chain: RefOp<void> = {
      name: 'sade∘gram',
      forward: ([down, cores, up]) => {
        const [gd] = ref.gram.forward([down!], { kind: 'down' });
        const [gu] = ref.gram.forward([up!], { kind: 'up' });
        return ref.sadeSum.forward([cores!, gd!, gu!], o);
      },
      backward: ([down, cores, up], _opts, gOut) => {
        const [gd] = ref.gram.forward([down!], { kind: 'down' });
        const [gu] = ref.gram.forward([up!], { kind: 'up' });
        const [dCores, dGd, dGu] = ref.sadeSum.backward([cores!, gd!, gu!], o, gOut);
        const [dDown] = ref.gram.backward([down!], { kind: 'down' }, [dGd!]);
        const [dUp] = ref.gram.backward([up!], { kind: 'up' }, [dGu!]);
        return [dDown!, dCores!, dUp!];
      },
    };
    const { cores, down, up } = sadeInputs(3, 4, 3, 33, 65, 8);
    await checkOp(ctx, {
      ref: chain,
      opts: undefined,
      inputs: [down, cores, up],
      grad: [0, 1, 2],
      engine: ([d, c, u]) => sadeSum(c!, first, count, gram(d!, 'down'), gram(u!, 'up')),
    });
  });

  it('is zero with finite zero gradients at initialisation (U = 0, Q = I)', async () => {
    const ctx = await gpu();
    const p = 4;
    const r = 2;
    const eye = tensor([2, p, r, r]);
    for (let i = 0; i < 2 * p; i++) for (let c = 0; c < r; c++) eye.data[(i * r + c) * r + c] = 1;
    const down = rand([p, 7, r], 1);
    const [gd] = ref.gram.forward([down], { kind: 'down' });
    const result = await checkOp(ctx, {
      ref: ref.sadeSum,
      opts: { first: 0, count: 2, eps: 1e-8 },
      inputs: [eye, gd!, tensor([p, p, r, r])],
      // Not G^U itself: at G^U = 0 a finite-difference step of 1e-5 dwarfs eps and makes c = O(1).
      grad: [0, 1],
      engine: ([c, d, u]) => sadeSum(c!, 0, 2, d!, u!),
    });
    expect(result.gradError).toEqual([0, 0]);
  });
});

describe('shape errors name the operands', () => {
  it('cloraBranch, gram and sadeSum reject mismatched shapes when the op is built', async () => {
    const ctx = await gpu();
    const t = (shape: number[]): Tensor => Tensor.zeros(ctx, shape);
    const x = t([5, 7]);
    const down = t([2, 7, 3]);
    const cores = t([2, 2, 3, 3]);
    const up = t([2, 3, 9]);
    const base = t([5, 12]);
    const opts = { colStart: 0, scale: 1, dropout: 0, seed: 0 };
    const made: Tensor[] = [x, down, cores, up, base];
    try {
      const wideX = t([5, 8]);
      made.push(wideX);
      expect(() => cloraBranch(wideX, down, cores, 0, up, base, opts)).toThrow(ShapeError);
      expect(() => cloraBranch(wideX, down, cores, 0, up, base, opts)).toThrow(/input \[5, 8\].*down bank \[2, 7, 3\]/);
      const upR = t([2, 4, 9]);
      made.push(upR);
      expect(() => cloraBranch(x, down, cores, 0, upR, base, opts)).toThrow(/down \[2, 7, 3\].*up \[2, 4, 9\]/);
      const coresP = t([2, 3, 3, 3]);
      made.push(coresP);
      expect(() => cloraBranch(x, down, coresP, 0, up, base, opts)).toThrow(/cores \[2, 3, 3, 3\]/);
      const baseRows = t([6, 12]);
      made.push(baseRows);
      expect(() => cloraBranch(x, down, cores, 0, up, baseRows, opts)).toThrow(/base \[6, 12\].*input \[5, 7\]/);
      expect(() => cloraBranch(x, down, cores, 0, up, base, { ...opts, colStart: 4 })).toThrow(/\[4, 13\).*up bank \[2, 3, 9\].*base \[5, 12\]/);
      expect(() => cloraBranch(x, down, cores, 2, up, base, opts)).toThrow(/module 2.*cores \[2, 2, 3, 3\]/);
      expect(() => cloraBranch(x, down, cores, 0, up, base, { ...opts, dropout: 1 })).toThrow(RangeError);
      const bigDown = t([5, 7, 32]);
      const bigCores = t([1, 5, 32, 32]);
      const bigUp = t([5, 32, 9]);
      made.push(bigDown, bigCores, bigUp);
      expect(() => cloraBranch(x, bigDown, bigCores, 0, bigUp, base, opts)).toThrow(/p·r = 160/);

      expect(() => gram(t([3, 4]), 'down')).toThrow(/\[p, a, r\], got \[3, 4\]/);
      const gd = t([2, 2, 3, 3]);
      const gBad = t([2, 2, 3, 2]);
      made.push(gd, gBad);
      expect(() => sadeSum(cores, 0, 2, gd, gBad)).toThrow(/cores \[2, 2, 3, 3\].*up \[2, 2, 3, 2\]/);
      expect(() => sadeSum(cores, 1, 2, gd, gd)).toThrow(/\[1, 3\).*cores \[2, 2, 3, 3\]/);
      expect(() => sadeSum(cores, 0, 0, gd, gd)).toThrow(ShapeError);
    } finally {
      for (const m of made) m.dispose();
    }
  });
});
