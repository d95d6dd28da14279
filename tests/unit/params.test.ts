import { describe, expect, it } from 'vitest';
import * as ops from '../../src/autodiff/ops/elementwise';
import { sum } from '../../src/autodiff/ops/reduce';
import { ParameterStore, SLOT_ALIGN_FLOATS, type ParameterSpec } from '../../src/autodiff/params';
import { Tape } from '../../src/autodiff/tape';
import { Tensor } from '../../src/autodiff/tensor';
import { GpuLimitError, ShapeError } from '../../src/gpu/errors';
import { mulberry32 } from '../reference/ops';
import { gpu } from '../helpers/gpu';

const SPECS: ParameterSpec[] = [
  { name: 'bias_a', shape: [7], decay: false },
  { name: 'w_a', shape: [33, 5], decay: true },
  { name: 'frozen_a', shape: [65], decay: true, requiresGrad: false },
  { name: 'scalar', shape: [1], decay: true },
  { name: 'bias_b', shape: [197], decay: false },
  { name: 'w_b', shape: [3, 65], decay: true },
  { name: 'frozen_b', shape: [7, 3], decay: false, requiresGrad: false },
];

function randomArray(n: number, seed: number): Float32Array<ArrayBuffer> {
  const rng = mulberry32(seed);
  return Float32Array.from({ length: n }, () => rng() * 2 - 1);
}

/** Flat indices that belong to no tensor. */
function paddingIndices(store: ParameterStore): number[] {
  const used = new Uint8Array(store.floats);
  for (const s of store.slots) if (s.trainable) used.fill(1, s.offset, s.offset + s.size);
  return [...used.keys()].filter((i) => used[i] === 0);
}

describe('ParameterStore layout', () => {
  it('aligns every slot to 256 bytes, puts decayed tensors first and frozen ones apart', async () => {
    const ctx = await gpu();
    const store = await ParameterStore.create(ctx, SPECS);
    try {
      expect(store.names()).toEqual(SPECS.map((s) => s.name));
      const trainable = store.slots.filter((s) => s.trainable);
      expect(trainable.map((s) => s.name).sort()).toEqual(['bias_a', 'bias_b', 'scalar', 'w_a', 'w_b']);
      for (const s of store.slots) expect(s.offset % SLOT_ALIGN_FLOATS, s.name).toBe(0);
      // Decayed slots end at or before decayEnd; the others start at or after it.
      for (const s of trainable) {
        if (s.decay) expect(s.offset + s.size).toBeLessThanOrEqual(store.decayEnd);
        else expect(s.offset).toBeGreaterThanOrEqual(store.decayEnd);
      }
      // Slots never overlap.
      const sorted = [...trainable].sort((a, b) => a.offset - b.offset);
      for (let i = 1; i < sorted.length; i++) expect(sorted[i]!.offset).toBeGreaterThanOrEqual(sorted[i - 1]!.offset + sorted[i - 1]!.size);
      expect(store.decayEnd % SLOT_ALIGN_FLOATS).toBe(0);
      expect(store.floats % SLOT_ALIGN_FLOATS).toBe(0);
      // 165 + 1 + 195 decayed → slots of 192 + 64 + 256; then 7 + 197 → 64 + 256.
      expect(store.decayEnd).toBe(512);
      expect(store.floats).toBe(832);
      expect(store.trainableParameterCount).toBe(7 + 165 + 1 + 197 + 195);
      expect(store.frozenParameterCount).toBe(65 + 21);
      expect(store.trainableBytes).toBe(832 * 4);
      expect(store.gradBytes).toBe(832 * 4);
      expect(store.frozenBytes).toBeGreaterThanOrEqual((128 + 21) * 4);
      expect(store.frozenBuffers.length).toBe(1);

      const w = store.get('w_a');
      expect(store.get('w_a')).toBe(w);
      expect([...w.shape]).toEqual([33, 5]);
      expect(w.requiresGrad).toBe(true);
      expect(w.buffer).toBe(store.paramBuffer);
      expect(w.grad?.buffer).toBe(store.gradBuffer);
      expect(w.grad?.byteOffset).toBe(w.byteOffset);
      const frozen = store.get('frozen_a');
      expect(frozen.requiresGrad).toBe(false);
      expect(frozen.grad).toBeNull();
      expect(frozen.buffer).toBe(store.frozenBuffers[0]);
      await expect(store.readGrad('frozen_a')).rejects.toThrow(/frozen/);
      expect(() => store.get('nope')).toThrow(/no parameter named "nope"/);
    } finally {
      store.dispose();
    }
  });

  it('uploads and reads every tensor; padding stays zero', async () => {
    const ctx = await gpu();
    const store = await ParameterStore.create(ctx, SPECS);
    try {
      const data = new Map(store.slots.map((s, i) => [s.name, randomArray(s.size, 10 + i)]));
      for (const [name, values] of data) store.upload(name, values);
      expect(await store.read('w_b')).toEqual(data.get('w_b'));
      const all = await store.readAll();
      expect([...all.keys()]).toEqual(store.names());
      for (const [name, values] of data) expect(all.get(name), name).toEqual(values);
      const flat = await ctx.read(store.paramRange);
      for (const i of paddingIndices(store)) expect(flat[i], `padding ${i}`).toBe(0);
      expect(() => store.upload('bias_a', new Float32Array(8))).toThrow(ShapeError);
    } finally {
      store.dispose();
    }
  });

  it('zeroGrad clears the whole gradient buffer with one clear', async () => {
    const ctx = await gpu();
    const store = await ParameterStore.create(ctx, SPECS);
    try {
      ctx.write(store.gradRange, randomArray(store.floats, 3));
      expect(Math.max(...(await store.readGrad('bias_b')).map(Math.abs))).toBeGreaterThan(0);
      const dispatches = ctx.stats.dispatches;
      store.zeroGrad();
      expect(ctx.stats.dispatches).toBe(dispatches);
      expect((await ctx.read(store.gradRange)).every((x) => x === 0)).toBe(true);
    } finally {
      store.dispose();
    }
  });

  it('splits frozen tensors over several buffers when one would pass the chunk limit', async () => {
    const ctx = await gpu();
    const specs: ParameterSpec[] = [
      { name: 'f0', shape: [150], decay: false, requiresGrad: false },
      { name: 'f1', shape: [150], decay: false, requiresGrad: false },
      { name: 'f2', shape: [33], decay: false, requiresGrad: false },
      { name: 't', shape: [7], decay: true },
    ];
    const store = await ParameterStore.create(ctx, specs, { maxFrozenChunkBytes: 1024 });
    try {
      expect(store.frozenBuffers.length).toBe(2);
      expect(store.slotOf('f0').chunk).toBe(0);
      expect(store.slotOf('f1').chunk).toBe(1);
      expect(store.slotOf('f2').chunk).toBe(1);
      expect(store.slotOf('f2').offset).toBe(192);
      const values = specs.map((s, i) => randomArray(s.shape[0]!, 40 + i));
      specs.forEach((s, i) => store.upload(s.name, values[i]!));
      const all = await store.readAll();
      specs.forEach((s, i) => expect(all.get(s.name), s.name).toEqual(values[i]));
    } finally {
      store.dispose();
    }
  });

  it('fails before allocating anything when a buffer is over the binding limit, naming the limit', async () => {
    const ctx = await gpu();
    const allocations = ctx.pool.allocations;
    const huge = ctx.limits.maxStorageBufferBindingSize / 4 + 64;
    await expect(ParameterStore.create(ctx, [{ name: 'w', shape: [7], decay: true }, { name: 'huge', shape: [huge], decay: true }])).rejects.toThrow(GpuLimitError);
    await expect(ParameterStore.create(ctx, [{ name: 'huge', shape: [2, huge], decay: false }])).rejects.toThrow(/maxStorageBufferBindingSize/);
    await expect(ParameterStore.create(ctx, [{ name: 'frozen', shape: [huge], decay: false, requiresGrad: false }])).rejects.toThrow(/frozen.*maxStorageBufferBindingSize/);
    expect(ctx.pool.allocations).toBe(allocations);
    await expect(ParameterStore.create(ctx, [{ name: 'a', shape: [1], decay: true }, { name: 'a', shape: [2], decay: true }])).rejects.toThrow(/twice/);
    await expect(ParameterStore.create(ctx, [{ name: 'a', shape: [2.5], decay: true }])).rejects.toThrow(ShapeError);
  });
});

describe('ParameterStore with the tape', () => {
  it('backward accumulates into the flat gradient buffer over micro-batches until zeroGrad', async () => {
    const ctx = await gpu();
    const specs: ParameterSpec[] = [
      { name: 'w', shape: [5, 33], decay: true },
      { name: 'b', shape: [33], decay: false },
      { name: 'scale', shape: [5, 33], decay: false, requiresGrad: false },
    ];
    const store = await ParameterStore.create(ctx, specs);
    const wData = randomArray(165, 1);
    const sData = randomArray(165, 2);
    const xData = [randomArray(165, 3), randomArray(165, 4), randomArray(165, 5)];
    store.upload('w', wData);
    store.upload('b', randomArray(33, 6));
    store.upload('scale', sData);

    // loss[r] = Σ_c (w·scale·x + b)[r, c]  →  dL/dw = scale·x, dL/db = 5 (one per row), no grad for scale.
    const microBatch = (x: Float32Array<ArrayBuffer>): void => {
      const tape = new Tape(ctx);
      try {
        const input = Tensor.fromData(ctx, [5, 33], x);
        const y = ops.add(ops.mul(ops.mul(store.get('w'), store.get('scale')), input), store.get('b'));
        tape.backward(sum(y, 1));
      } finally {
        tape.dispose();
      }
    };
    const expectedW = (xs: Float32Array[]): number[] => Array.from({ length: 165 }, (_, i) => xs.reduce((t, x) => t + sData[i]! * x[i]!, 0));
    const wSlot = store.slotOf('w');
    const bSlot = store.slotOf('b');
    const gradsFromFlat = async (): Promise<[Float32Array, Float32Array]> => {
      const flat = await ctx.read(store.gradRange);
      return [flat.slice(wSlot.offset, wSlot.offset + wSlot.size), flat.slice(bSlot.offset, bSlot.offset + bSlot.size)];
    };
    try {
      store.zeroGrad();
      microBatch(xData[0]!);
      let [gw, gb] = await gradsFromFlat();
      expectClose(gw, expectedW([xData[0]!]));
      expectClose(gb, new Array(33).fill(5));
      expect(store.get('w').grad?.buffer).toBe(store.gradBuffer);

      microBatch(xData[1]!);
      [gw, gb] = await gradsFromFlat();
      expectClose(gw, expectedW([xData[0]!, xData[1]!]));
      expectClose(gb, new Array(33).fill(10));
      expect(store.get('scale').grad).toBeNull();
      expect(await store.read('scale')).toEqual(sData);
      expect(await store.read('w')).toEqual(wData);

      store.zeroGrad();
      microBatch(xData[2]!);
      [gw, gb] = await gradsFromFlat();
      expectClose(gw, expectedW([xData[2]!]));
      expectClose(gb, new Array(33).fill(5));
      const flat = await ctx.read(store.gradRange);
      for (const i of paddingIndices(store)) expect(flat[i], `padding ${i}`).toBe(0);
    } finally {
      store.dispose();
    }
  });
});

function expectClose(got: ArrayLike<number>, want: ArrayLike<number>, tol = 1e-5): void {
  expect(got.length).toBe(want.length);
  let maxDiff = 0;
  let maxWant = 0;
  for (let i = 0; i < got.length; i++) {
    maxDiff = Math.max(maxDiff, Math.abs(got[i]! - want[i]!));
    maxWant = Math.max(maxWant, Math.abs(want[i]!));
  }
  expect(maxDiff / Math.max(maxWant, 1e-30)).toBeLessThanOrEqual(tol);
}
