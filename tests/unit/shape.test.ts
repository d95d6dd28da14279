import { describe, expect, it } from 'vitest';
import { reshape } from '../../src/autodiff/ops/elementwise';
import { linear } from '../../src/autodiff/ops/matmul';
import { clsPos, concatLast, mergeHeads, patchify, selectToken, sliceLast, splitHeads } from '../../src/autodiff/ops/shape';
import { Tape } from '../../src/autodiff/tape';
import { Tensor } from '../../src/autodiff/tensor';
import { maxRelError, refOps, tensor, type RefOp, type RefTensor } from '../reference/ops';
import { gpu } from '../helpers/gpu';
import { checkOp, rand } from '../helpers/oracle';

interface PatchOpts {
  patch: number;
}

/** The im2col of a stride-P, kernel-P convolution, written directly from its definition. */
const im2col: RefOp<PatchOpts> = {
  name: 'im2col',
  forward([img], { patch: P }) {
    const [B, C, H, W] = img!.shape as [number, number, number, number];
    const gh = H / P;
    const gw = W / P;
    const K = C * P * P;
    const out = tensor([B, gh * gw, K]);
    for (let b = 0; b < B; b++)
      for (let py = 0; py < gh; py++)
        for (let px = 0; px < gw; px++)
          for (let c = 0; c < C; c++)
            for (let ky = 0; ky < P; ky++)
              for (let kx = 0; kx < P; kx++) {
                const row = b * gh * gw + py * gw + px;
                out.data[row * K + (c * P + ky) * P + kx] = img!.data[((b * C + c) * H + py * P + ky) * W + px * P + kx]!;
              }
    return [out];
  },
  backward([img], opts, [g]) {
    // A permutation: its adjoint puts every patch entry back where it came from.
    const index = tensor(img!.shape, Array.from({ length: img!.data.length }, (_, i) => i));
    const where = im2col.forward([index], opts)[0]!.data;
    const d = tensor(img!.shape);
    where.forEach((src, i) => (d.data[src] = g!.data[i]!));
    return [d];
  },
};

/** out[r, :] = a[r, :] · w[o, :]ᵀ + bias, in f64. */
function linearCpu(a: Float32Array | Float64Array, rows: number, K: number, w: Float64Array, bias: Float64Array, D: number): Float64Array {
  const out = new Float64Array(rows * D);
  for (let r = 0; r < rows; r++)
    for (let o = 0; o < D; o++) {
      let s = bias[o]!;
      for (let k = 0; k < K; k++) s += a[r * K + k]! * w[o * K + k]!;
      out[r * D + o] = s;
    }
  return out;
}

const upload = (ctx: Awaited<ReturnType<typeof gpu>>, t: RefTensor): Tensor => Tensor.fromData(ctx, t.shape, Float32Array.from(t.data));

describe('patchify (im2col of the patch convolution)', () => {
  const cases: [number[], number][] = [[[1, 1, 1, 1], 1], [[2, 3, 8, 8], 4], [[1, 3, 14, 21], 7], [[2, 1, 5, 3], 1], [[1, 3, 32, 32], 16]];
  for (const [shape, patch] of cases) {
    it(`${JSON.stringify(shape)} with patch ${patch}: values and the scatter-back gradient`, async () => {
      const ctx = await gpu();
      await checkOp(ctx, { ref: im2col, opts: { patch }, inputs: [rand(shape, 3)], grad: [0], engine: ([x]) => patchify(x!, patch) });
    });
  }

  it('with timm\'s weight reshaped to [D, C·P·P] it is the patch embedding (refOps.patchEmbed), forward and image gradient', async () => {
    const ctx = await gpu();
    const [B, C, H, W, P, D] = [2, 3, 12, 8, 4, 7];
    const image = rand([B, C, H, W], 51);
    const weight = rand([D, C, P, P], 52); // row-major [D, C, P, P] is already [D, C·P·P]
    const bias = rand([D], 53);
    const n = (H / P) * (W / P);
    const K = C * P * P;
    const expected = refOps.patchEmbed.forward([image, weight, bias], { patch: P })[0]!;
    const gOut = rand([B, n, D], 54);
    const expectedImageGrad = refOps.patchEmbed.backward([image, weight, bias], { patch: P }, [gOut])[0]!;
    // d patches = gOut · W (what the matmul's backward would hand to patchify).
    const gPatches = new Float64Array(B * n * K);
    for (let r = 0; r < B * n; r++)
      for (let k = 0; k < K; k++) {
        let s = 0;
        for (let o = 0; o < D; o++) s += gOut.data[r * D + o]! * weight.data[o * K + k]!;
        gPatches[r * K + k] = s;
      }
    const tape = new Tape(ctx);
    try {
      const x = upload(ctx, image);
      x.requiresGrad = true;
      const patches = patchify(x, P);
      expect(patches.shape).toEqual([B, n, K]);
      tape.backward(patches, Tensor.fromData(ctx, [B, n, K], Float32Array.from(gPatches)));
      const [got, gotGrad] = await ctx.readMany([patches, x.grad!]);
      expect(maxRelError(linearCpu(got!, B * n, K, weight.data, bias.data, D), expected.data)).toBeLessThanOrEqual(1e-6);
      expect(maxRelError(gotGrad!, expectedImageGrad.data)).toBeLessThanOrEqual(1e-5);
    } finally {
      tape.dispose();
    }
  });

  const embeds: [number[], number, number][] = [[[1, 1, 1, 1], 1, 1], [[2, 3, 8, 12], 4, 7], [[1, 3, 14, 7], 7, 33]];
  for (const [shape, P, D] of embeds) {
    it(`linear(patchify(x), weight.reshape([D, C·P·P]), bias) is refOps.patchEmbed on ${JSON.stringify(shape)}, P ${P}, D ${D}, with all gradients`, async () => {
      const ctx = await gpu();
      const C = shape[1]!;
      await checkOp(ctx, {
        ref: refOps.patchEmbed,
        opts: { patch: P },
        inputs: [rand(shape, 55), rand([D, C, P, P], 56), rand([D], 57)],
        grad: [0, 1, 2],
        engine: ([x, w, b]) => linear(patchify(x!, P), reshape(w!, [D, C * P * P]), b!),
      });
    });
  }

  it('rejects images whose sides are not multiples of the patch, naming the shape', async () => {
    const ctx = await gpu();
    const x = Tensor.zeros(ctx, [1, 3, 14, 16]);
    expect(() => patchify(x, 4)).toThrow(/image \[1, 3, 14, 16\].*patch size 4/);
    expect(() => patchify(Tensor.zeros(ctx, [3, 16, 16]), 4)).toThrow(/\[3, 16, 16\] must be \[B, C, H, W\]/);
    x.dispose();
  });
});

describe('class token and position embedding', () => {
  const shapes: number[][] = [[1, 1, 1], [2, 7, 5], [3, 4, 33], [1, 16, 7], [2, 196, 3]];
  for (const [B, n, D] of shapes as [number, number, number][]) {
    it(`clsPos on x [${B}, ${n}, ${D}] with gradients for x, cls and pos`, async () => {
      const ctx = await gpu();
      await checkOp(ctx, {
        ref: refOps.clsPos,
        opts: undefined,
        inputs: [rand([B, n, D], 61), rand([1, 1, D], 62), rand([1, n + 1, D], 63)],
        grad: [0, 1, 2],
        engine: ([x, cls, pos]) => clsPos(x!, cls!, pos!),
      });
    });
  }

  it('trains the class token with frozen positions, and positions alone', async () => {
    const ctx = await gpu();
    const inputs = [rand([3, 5, 7], 64), rand([1, 1, 7], 65), rand([1, 6, 7], 66)];
    await checkOp(ctx, { ref: refOps.clsPos, opts: undefined, inputs, grad: [1], engine: ([x, c, p]) => clsPos(x!, c!, p!) });
    await checkOp(ctx, { ref: refOps.clsPos, opts: undefined, inputs, grad: [0, 2], engine: ([x, c, p]) => clsPos(x!, c!, p!) });
  });

  it('rejects mismatched class token or positions, naming the shapes', async () => {
    const ctx = await gpu();
    const x = Tensor.zeros(ctx, [2, 4, 6]);
    const cls = Tensor.zeros(ctx, [1, 1, 6]);
    const pos = Tensor.zeros(ctx, [1, 5, 6]);
    expect(() => clsPos(x, Tensor.zeros(ctx, [1, 1, 5]), pos)).toThrow(/class token \[1, 1, 5\] must be \[1, 1, 6\] for tokens \[2, 4, 6\]/);
    expect(() => clsPos(x, cls, Tensor.zeros(ctx, [1, 4, 6]))).toThrow(/position embedding \[1, 4, 6\] must be \[1, 5, 6\] for tokens \[2, 4, 6\]/);
    for (const t of [x, cls, pos]) t.dispose();
  });
});

describe('attention heads', () => {
  const splits: [number[], number][] = [[[1, 1, 3], 1], [[2, 7, 18], 3], [[2, 33, 24], 4], [[1, 197, 36], 3], [[3, 5, 21], 7]];
  for (const [shape, heads] of splits) {
    it(`splitHeads ${JSON.stringify(shape)} into ${heads} heads, and its gradient`, async () => {
      const ctx = await gpu();
      await checkOp(ctx, { ref: refOps.splitHeads, opts: { heads }, inputs: [rand(shape, 71)], grad: [0], engine: ([x]) => splitHeads(x!, heads) });
    });
  }

  it('splitHeads treats a missing output gradient as zeros', async () => {
    const ctx = await gpu();
    const qkv = rand([2, 7, 18], 72);
    const gq = rand([2, 3, 7, 2], 73);
    const gv = rand([2, 3, 7, 2], 74);
    for (const used of [[0, 2], [1], [2]]) {
      const tape = new Tape(ctx);
      try {
        const x = upload(ctx, qkv);
        x.requiresGrad = true;
        const outs = splitHeads(x, 3);
        const seeds = [gq, gq, gv];
        tape.backward(used.map((i) => outs[i]!), used.map((i) => upload(ctx, seeds[i]!)));
        const grads = [0, 1, 2].map((i) => (used.includes(i) ? seeds[i]! : undefined)) as RefTensor[];
        const want = refOps.splitHeads.backward([qkv], { heads: 3 }, grads)[0]!;
        expect(maxRelError(await x.grad!.read(), want.data), `outputs ${used.join(',')}`).toBeLessThanOrEqual(1e-7);
      } finally {
        tape.dispose();
      }
    }
  });

  const merges: number[][] = [[1, 1, 1, 1], [2, 3, 7, 4], [2, 4, 33, 5], [1, 12, 197, 2]];
  for (const shape of merges) {
    it(`mergeHeads ${JSON.stringify(shape)} and its gradient`, async () => {
      const ctx = await gpu();
      await checkOp(ctx, { ref: refOps.mergeHeads, opts: undefined, inputs: [rand(shape, 75)], grad: [0], engine: ([x]) => mergeHeads(x!) });
    });
  }

  it('mergeHeads undoes splitHeads', async () => {
    const ctx = await gpu();
    const qkv = rand([2, 9, 30], 76);
    const x = upload(ctx, qkv);
    const [q, k, v] = splitHeads(x, 5);
    const merged = await ctx.readMany([mergeHeads(q), mergeHeads(k), mergeHeads(v)]);
    for (let r = 0; r < 18; r++)
      merged.forEach((m, part) => {
        for (let c = 0; c < 10; c++) expect(m[r * 10 + c]).toBe(Math.fround(qkv.data[r * 30 + part * 10 + c]!));
      });
  });

  it('rejects widths that do not split into 3 × heads, naming the shape', async () => {
    const ctx = await gpu();
    const x = Tensor.zeros(ctx, [2, 5, 20]);
    expect(() => splitHeads(x, 3)).toThrow(/qkv \[2, 5, 20\] is not divisible by 3 × 3 heads/);
    expect(() => mergeHeads(x)).toThrow(/\[2, 5, 20\] must be \[B, H, N, Dh\]/);
    x.dispose();
  });
});

describe('token selection, slices and concatenation', () => {
  const selects: [number[], number][] = [[[1, 1, 1], 0], [[2, 7, 5], 0], [[3, 197, 7], -1], [[2, 65, 33], 13]];
  for (const [shape, index] of selects) {
    it(`selectToken ${index} of ${JSON.stringify(shape)}`, async () => {
      const ctx = await gpu();
      await checkOp(ctx, { ref: refOps.selectToken, opts: { index }, inputs: [rand(shape, 81)], grad: [0], engine: ([x]) => selectToken(x!, index) });
    });
  }

  const slices: [number[], number, number][] = [[[1], 0, 1], [[7, 33], 3, 10], [[2, 3, 65], 0, 65], [[197], 196, 197], [[5, 2, 9], 4, 8]];
  for (const [shape, start, end] of slices) {
    it(`sliceLast [${start}, ${end}) of ${JSON.stringify(shape)}`, async () => {
      const ctx = await gpu();
      await checkOp(ctx, { ref: refOps.sliceLast, opts: { start, end }, inputs: [rand(shape, 82)], grad: [0], engine: ([x]) => sliceLast(x!, start, end) });
    });
  }

  const concats: number[][][] = [[[1]], [[7, 3], [7, 5], [7, 1]], [[2, 33, 4], [2, 33, 65]], [[3, 2, 1], [3, 2, 1], [3, 2, 7], [3, 2, 2]]];
  for (const shapes of concats) {
    it(`concatLast of ${JSON.stringify(shapes)}`, async () => {
      const ctx = await gpu();
      const inputs = shapes.map((s, i) => rand(s, 83 + i));
      await checkOp(ctx, { ref: refOps.concatLast, opts: undefined, inputs, grad: inputs.map((_, i) => i), engine: (xs) => concatLast(xs) });
    });
  }

  it('concatLast gives gradients only to the inputs that need them', async () => {
    const ctx = await gpu();
    const inputs = [rand([4, 3], 91), rand([4, 6], 92), rand([4, 2], 93)];
    await checkOp(ctx, { ref: refOps.concatLast, opts: undefined, inputs, grad: [1], engine: (xs) => concatLast(xs) });
  });

  it('rejects bad indices, ranges and shapes, naming them', async () => {
    const ctx = await gpu();
    const x = Tensor.zeros(ctx, [2, 3, 4]);
    const y = Tensor.zeros(ctx, [2, 4, 4]);
    expect(() => selectToken(x, 3)).toThrow(/token 3 is out of range for input \[2, 3, 4\]/);
    expect(() => selectToken(x, -4)).toThrow(/token -4/);
    expect(() => sliceLast(x, 2, 5)).toThrow(/\[2, 5\) .*\[2, 3, 4\]/);
    expect(() => sliceLast(x, 2, 2)).toThrow(/non-empty/);
    expect(() => concatLast([x, y])).toThrow(/input 1 \[2, 4, 4\] does not fit input 0 \[2, 3, 4\]/);
    expect(() => concatLast([])).toThrow(/nothing to concatenate/);
    for (const t of [x, y]) t.dispose();
  });
});
