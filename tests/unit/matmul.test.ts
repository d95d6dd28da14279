import { describe, expect, it } from 'vitest';
import { linear, matmul } from '../../src/autodiff/ops/matmul';
import { Tape } from '../../src/autodiff/tape';
import { Tensor } from '../../src/autodiff/tensor';
import { profileFor, type DeviceKind } from '../../src/gpu/profile';
import { matmulInto, selectMatmulProgram, type MatmulGeometry, type MatmulProgram } from '../../src/kernels/matmul';
import { maxRelError, refOps, type MatmulOpts, type RefTensor } from '../reference/ops';
import { gpu, gpuWithProfile } from '../helpers/gpu';
import { checkOp, rand } from '../helpers/oracle';

/** The choices measured fastest on emulators (what the tests' device picks unless a profile is forced). */
const EMULATED = profileFor('emulated', 16384);

const TRANSPOSES: [boolean, boolean][] = [[false, false], [true, false], [false, true], [true, true]];
const tag = (transA: boolean, transB: boolean): string => `${transA ? 'Aᵀ' : 'A'}·${transB ? 'Bᵀ' : 'B'}`;

/** Operand shapes for op(A) [batch.., M, K] · op(B) [K, N] (sharedB) or [batch.., K, N]. */
function operands(batch: number[], m: number, k: number, n: number, transA: boolean, transB: boolean, sharedB: boolean, seed: number): [RefTensor, RefTensor] {
  const a = rand([...batch, ...(transA ? [k, m] : [m, k])], seed);
  const b = rand([...(sharedB ? [] : batch), ...(transB ? [n, k] : [k, n])], seed + 1);
  return [a, b];
}

describe('matmul program selection', () => {
  const pick = (g: MatmulGeometry): MatmulProgram => selectMatmulProgram(g, EMULATED).program;

  it('picks tiled programs for wide outputs, by how many 64×64 tiles there are', () => {
    expect(pick({ batch: 1, m: 197, k: 192, n: 576 })).toBe('tiled_64x64');
    expect(pick({ batch: 1, m: 197, k: 192, n: 192 })).toBe('tiled_32x32');
    expect(pick({ batch: 8, m: 197, k: 192, n: 576 })).toBe('tiled_64x64');
    expect(pick({ batch: 1, m: 197, k: 768, n: 2304 })).toBe('tiled_64x64');
    expect(pick({ batch: 1, m: 197, k: 3072, n: 768 })).toBe('tiled_64x64');
    // Few 64×64 tiles but a long K: split K across workgroups instead of shrinking the tiles.
    expect(selectMatmulProgram({ batch: 1, m: 400, k: 576, n: 192 }, EMULATED)).toMatchObject({ program: 'tiled_64x64_splitk', kChunks: 2 });
    expect(selectMatmulProgram({ batch: 1, m: 197, k: 3072, n: 192 }, EMULATED)).toMatchObject({ program: 'tiled_64x64_splitk', kChunks: 3 });
    expect(pick({ batch: 1, m: 197, k: 256, n: 192 })).toBe('tiled_32x32');
    expect(pick({ batch: 64, m: 17, k: 3, n: 17 })).toBe('tiled_64x64');
  });

  it('picks the thin program for rank-8 shapes and splits K only when it is long', () => {
    expect(selectMatmulProgram({ batch: 1, m: 197, k: 192, n: 8 }, EMULATED)).toMatchObject({ program: 'thin', thinIsN: true, thin: 8, kChunks: 1 });
    expect(selectMatmulProgram({ batch: 1, m: 8, k: 192, n: 197 }, EMULATED)).toMatchObject({ program: 'thin', thinIsN: false, thin: 8, kChunks: 1 });
    expect(selectMatmulProgram({ batch: 1, m: 192, k: 8 * 197, n: 8, transA: true }, EMULATED)).toMatchObject({ program: 'thin_splitk', kChunks: 6 });
    expect(pick({ batch: 1, m: 8, k: 8 * 197, n: 192, transA: true })).toBe('thin_splitk');
    expect(pick({ batch: 1, m: 8 * 197, k: 192, n: 8 })).toBe('thin');
    expect(pick({ batch: 1, m: 1, k: 1, n: 1 })).toBe('thin');
    expect(selectMatmulProgram({ batch: 1, m: 33, k: 40, n: 13 }, EMULATED)).toMatchObject({ program: 'thin', thin: 16 });
  });
});

describe('matmul kernels against the f64 reference', () => {
  // Each program forced on odd shapes, all transposes, with the full epilogue in accumulate mode:
  // C = C0 + gelu(op(A)·op(B) + bias).
  // The two tiled programs share their staging code, so between them they cover every transpose (each
  // tiled variant costs a second or more of shader compilation on a CPU emulator). 68×36×72 takes the vec4
  // loads (contiguous dimensions multiples of 4, ragged 64-tiles); 33×65×17 the scalar ones.
  const cases: [MatmulProgram, number, number, number, number, [boolean, boolean][]][] = [
    ['tiled_64x64', 2, 68, 36, 72, [[false, false], [true, true]]],
    ['tiled_32x32', 1, 33, 65, 17, [[true, false], [false, true]]],
    ['tiled_64x64_splitk', 2, 33, 300, 70, [[false, true], [true, false]]],
    ['thin', 2, 37, 20, 5, TRANSPOSES],
    ['thin_splitk', 1, 7, 600, 13, TRANSPOSES],
  ];
  for (const [program, batch, m, k, n, transposes] of cases) {
    it(`${program} on ${batch}×${m}×${k}×${n}, ${transposes.map(([x, y]) => tag(x, y)).join(' ')}, bias + GELU, accumulating`, async () => {
      const ctx = await gpu();
      for (const [transA, transB] of transposes) {
        const [a, b] = operands([batch], m, k, n, transA, transB, transA, 11);
        const bias = rand([n], 13);
        const c0 = rand([batch, m, n], 14);
        const product = refOps.matmul.forward([a, b, bias], { transA, transB, gelu: true })[0]!;
        const expected = product.data.map((v, i) => v + c0.data[i]!);
        const [ta, tb, tbias, out] = [a, b, bias, c0].map((t) => Tensor.fromData(ctx, t.shape, Float32Array.from(t.data))) as [Tensor, Tensor, Tensor, Tensor];
        const plan = matmulInto(ctx, ta, tb, out, { batch, m, k, n, transA, transB, batchedB: !transA }, { bias: tbias, gelu: true, accumulate: true }, program);
        expect(plan.program).toBe(program);
        const got = await out.read();
        expect(maxRelError(got, expected), `${program} ${tag(transA, transB)}`).toBeLessThanOrEqual(1e-4);
        for (const t of [ta, tb, tbias, out]) t.dispose();
      }
    });
  }
});

describe('matmul with the workgroup targets GPU profiles pick (forced on the emulator)', () => {
  // GPUs want more workgroups in flight than an emulator: K split into more chunks (11 where an emulator takes
  // 8), 32×32 tiles where an emulator takes 64×64 ones. The chosen plan, with the full epilogue, accumulating.
  const cases: [DeviceKind, MatmulGeometry, string, number][] = [
    ['discrete', { batch: 1, m: 65, k: 3001, n: 70 }, 'tiled_64x64_splitk', 11],
    ['integrated', { batch: 1, m: 65, k: 3001, n: 70, transB: true, batchedB: false }, 'tiled_64x64_splitk', 11],
    ['discrete', { batch: 1, m: 197, k: 40, n: 576 }, 'tiled_32x32', 1],
  ];
  for (const [kind, g, program, chunks] of cases) {
    it(`${kind}: ${g.m}×${g.k}×${g.n}${g.transA ? ', Aᵀ' : ''}${g.transB ? ', Bᵀ' : ''} takes ${program}${chunks > 1 ? ` in ${chunks} K chunks` : ''}`, async () => {
      const ctx = await gpuWithProfile(kind);
      expect(selectMatmulProgram(g, EMULATED).program === program && (selectMatmulProgram(g, EMULATED).kChunks ?? 1) === chunks, 'differs from the emulator').toBe(false);
      const [a, b] = operands([], g.m, g.k, g.n, g.transA ?? false, g.transB ?? false, true, 17);
      const bias = rand([g.n], 18);
      const c0 = rand([g.m, g.n], 19);
      const product = refOps.matmul.forward([a, b, bias], { transA: g.transA, transB: g.transB, gelu: true })[0]!;
      const expected = product.data.map((v, i) => v + c0.data[i]!);
      const [ta, tb, tbias, out] = [a, b, bias, c0].map((t) => Tensor.fromData(ctx, t.shape, Float32Array.from(t.data))) as [Tensor, Tensor, Tensor, Tensor];
      const plan = matmulInto(ctx, ta, tb, out, g, { bias: tbias, gelu: true, accumulate: true });
      expect([plan.program, plan.kChunks ?? 1]).toEqual([program, chunks]);
      expect(maxRelError(await out.read(), expected)).toBeLessThanOrEqual(1e-4);
      for (const t of [ta, tb, tbias, out]) t.dispose();
    });
  }
});

describe('the ReLU epilogue (the mini-PointNet\'s Conv1d → BatchNorm → ReLU) in every program', () => {
  const cases: [MatmulProgram, number, number, number, number, boolean, boolean][] = [
    ['tiled_64x64', 1, 68, 36, 72, false, true],
    ['tiled_32x32', 1, 33, 65, 17, false, true],
    ['tiled_64x64_splitk', 1, 33, 300, 70, false, true],
    ['thin', 1, 37, 20, 5, false, true],
    ['thin_splitk', 1, 7, 600, 13, true, false],
  ];
  for (const [program, batch, m, k, n, transA, transB] of cases) {
    it(`${program} on ${batch}×${m}×${k}×${n}, ${tag(transA, transB)}, bias + ReLU`, async () => {
      const ctx = await gpu();
      const [a, b] = operands([batch], m, k, n, transA, transB, true, 21);
      const bias = rand([n], 23);
      const expected = refOps.matmul.forward([a, b, bias], { transA, transB, relu: true })[0]!;
      const [ta, tb, tbias] = [a, b, bias].map((t) => Tensor.fromData(ctx, t.shape, Float32Array.from(t.data))) as [Tensor, Tensor, Tensor];
      const out = Tensor.empty(ctx, [batch, m, n]);
      expect(matmulInto(ctx, ta, tb, out, { batch, m, k, n, transA, transB, batchedB: false }, { bias: tbias, relu: true }, program).program).toBe(program);
      const got = await out.read();
      expect(got.some((v) => v === 0) && got.some((v) => v > 0), 'both sides of the ReLU are exercised').toBe(true);
      expect(maxRelError(got, expected.data), program).toBeLessThanOrEqual(1e-4);
      for (const t of [ta, tb, tbias, out]) t.dispose();
    });
  }

  it('linear with ReLU: values and gradients (the mask comes from the output)', async () => {
    const ctx = await gpu();
    await checkOp(ctx, {
      ref: refOps.matmul,
      opts: { transB: true, relu: true },
      inputs: [rand([37, 9], 61), rand([13, 9], 62), rand([13], 63)],
      grad: [0, 1, 2],
      engine: ([x, w, c]) => linear(x!, w!, c, { relu: true }),
    });
    const tape = new Tape(ctx);
    try {
      expect(() => matmul(Tensor.zeros(ctx, [2, 2]), Tensor.zeros(ctx, [2, 2]), { gelu: true, relu: true })).toThrow(/GELU or ReLU, not both/);
    } finally {
      tape.dispose();
    }
  });
});

describe('matmul op: values and gradients against the f64 reference', () => {
  const oddShapes: [number, number, number][] = [[1, 1, 1], [1, 7, 33], [7, 33, 1], [17, 65, 5], [65, 4, 33]];
  for (const [m, k, n] of oddShapes) {
    it(`${m}×${k}×${n} with bias`, async () => {
      const ctx = await gpu();
      const [a, b] = operands([], m, k, n, false, false, true, 31);
      await checkOp(ctx, {
        ref: refOps.matmul,
        opts: {},
        inputs: [a, b, rand([n], 33)],
        grad: [0, 1, 2],
        engine: ([x, y, c]) => matmul(x!, y!, { bias: c }),
      });
    });
  }

  for (const [transA, transB] of TRANSPOSES) {
    it(`${tag(transA, transB)}, batched with a shared 2-D B, bias + GELU`, async () => {
      const ctx = await gpu();
      const [a, b] = operands([2], 17, 9, 18, transA, transB, true, 41);
      const opts: MatmulOpts = { transA, transB, gelu: true };
      expect(selectMatmulProgram({ batch: 2, m: 17, k: 9, n: 18 }, EMULATED).program).toBe('tiled_32x32');
      await checkOp(ctx, {
        ref: refOps.matmul,
        opts,
        inputs: [a, b, rand([18], 43)],
        grad: [0, 1, 2],
        engine: ([x, y, c]) => matmul(x!, y!, { transA, transB, bias: c, gelu: true }),
      });
    });

    it(`${tag(transA, transB)}, batched B, thin output`, async () => {
      const ctx = await gpu();
      const [a, b] = operands([2, 1], 5, 9, 19, transA, transB, false, 51);
      await checkOp(ctx, {
        ref: refOps.matmul,
        opts: { transA, transB },
        inputs: [a, b],
        grad: [0, 1],
        engine: ([x, y]) => matmul(x!, y!, { transA, transB }),
      });
    });
  }

  it('the rank-8 shapes 197×192×8 and 8×192×197 (thin), with bias', async () => {
    const ctx = await gpu();
    for (const [m, k, n] of [[197, 192, 8], [8, 192, 197]] as const) {
      expect(selectMatmulProgram({ batch: 1, m, k, n }, EMULATED).program).toBe('thin');
      const [a, b] = operands([], m, k, n, false, false, true, 61);
      await checkOp(ctx, { ref: refOps.matmul, opts: {}, inputs: [a, b, rand([n], 63)], engine: ([x, y, c]) => matmul(x!, y!, { bias: c }) });
    }
  });

  it('the weight-gradient shape Xᵀ·G 192×(8·197)×8 (split K)', async () => {
    const ctx = await gpu();
    const g: MatmulGeometry = { batch: 1, m: 192, k: 8 * 197, n: 8, transA: true };
    expect(selectMatmulProgram(g, EMULATED).program).toBe('thin_splitk');
    const x = rand([8 * 197, 192], 71);
    const grad = rand([8 * 197, 8], 72);
    await checkOp(ctx, { ref: refOps.matmul, opts: { transA: true }, inputs: [x, grad], engine: ([p, q]) => matmul(p!, q!, { transA: true }) });
  });

  it('weight and bias gradients of a long token batch go through split K (tiled forward)', async () => {
    const ctx = await gpu();
    // Forward: 64 batches of 17×3·3×17 → tiled_64x64; dB = Aᵀ·G over 64·17 rows → thin_splitk.
    expect(selectMatmulProgram({ batch: 64, m: 17, k: 3, n: 17 }, EMULATED).program).toBe('tiled_64x64');
    expect(selectMatmulProgram({ batch: 1, m: 3, k: 64 * 17, n: 17, transA: true }, EMULATED).program).toBe('thin_splitk');
    await checkOp(ctx, {
      ref: refOps.matmul,
      opts: {},
      inputs: [rand([64, 17, 3], 81), rand([3, 17], 82), rand([17], 83)],
      grad: [1, 2],
      engine: ([x, w, c]) => matmul(x!, w!, { bias: c }),
    });
  });

  it('linear: PyTorch-layout weight [out, in] over x [..., in], with GELU', async () => {
    const ctx = await gpu();
    await checkOp(ctx, {
      ref: refOps.matmul,
      opts: { transB: true, gelu: true },
      inputs: [rand([2, 3, 10], 91), rand([6, 10], 92), rand([6], 93)],
      grad: [0, 1, 2],
      engine: ([x, w, c]) => linear(x!, w!, c, { gelu: true }),
    });
  });

  it('a frozen weight gets no gradient and costs no backward product', async () => {
    const ctx = await gpu();
    const dispatchesFor = async (trainWeight: boolean): Promise<number> => {
      const tape = new Tape(ctx);
      try {
        const x = Tensor.fromData(ctx, [4, 10], rand([4, 10], 101).data);
        const w = Tensor.fromData(ctx, [6, 10], rand([6, 10], 102).data);
        x.requiresGrad = true;
        w.requiresGrad = trainWeight;
        const y = linear(x, w);
        const before = ctx.stats.dispatches;
        tape.backward(y);
        const count = ctx.stats.dispatches - before;
        expect(x.grad).not.toBeNull();
        expect(w.grad === null).toBe(!trainWeight);
        await ctx.sync();
        return count;
      } finally {
        tape.dispose();
      }
    };
    expect(await dispatchesFor(false)).toBe((await dispatchesFor(true)) - 1);
  });

  it('rejects mismatched shapes when the op is built, naming both', async () => {
    const ctx = await gpu();
    const a = Tensor.zeros(ctx, [3, 4]);
    const b = Tensor.zeros(ctx, [5, 6]);
    const w = Tensor.zeros(ctx, [4, 6]);
    const a3 = Tensor.zeros(ctx, [3, 3, 4]);
    const batched = Tensor.zeros(ctx, [2, 4, 6]);
    const bias = Tensor.zeros(ctx, [5]);
    try {
      expect(() => matmul(a, b)).toThrow(/\[3, 4\].*\[5, 6\]/);
      expect(() => matmul(a3, batched)).toThrow(/\[3, 3, 4\].*\[2, 4, 6\]/);
      expect(() => matmul(a, w, { bias })).toThrow(/bias \[5\].*6 elements/);
      expect(() => linear(a, b)).toThrow(/\[3, 4\].*\[5, 6\]/);
    } finally {
      for (const t of [a, b, w, a3, batched, bias]) t.dispose();
    }
  });
});
