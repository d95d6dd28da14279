import { describe, expect, it } from 'vitest';
import { ParameterStore, type ParameterSpec } from '../../src/autodiff/params';
import type { GpuContext } from '../../src/gpu/context';
import { AdamW, Sgd, type Optimizer } from '../../src/train/optimizer';
import { adamwStep, maxRelError, mulberry32, sgdStep } from '../reference/ops';
import { gpu } from '../helpers/gpu';

// Odd sizes, 1-D and 2-D, decayed and not, interleaved so the store has to reorder them.
const SPECS: ParameterSpec[] = [
  { name: 'w1', shape: [7, 33], decay: true },
  { name: 'b1', shape: [33], decay: false },
  { name: 'frozen', shape: [65], decay: true, requiresGrad: false },
  { name: 'w2', shape: [5, 13], decay: true },
  { name: 'gamma', shape: [197], decay: false },
  { name: 's', shape: [1], decay: true },
  { name: 'w3', shape: [7], decay: true },
  { name: 'beta', shape: [1], decay: false },
];
const TRAINABLE = SPECS.filter((s) => s.requiresGrad !== false);
const STEP_LRS = [1e-2, 2e-2, 5e-3, 1e-2];
const TOL = 1e-5;

function randomArray(n: number, seed: number, scale = 1): Float32Array<ArrayBuffer> {
  const rng = mulberry32(seed);
  return Float32Array.from({ length: n }, () => (rng() * 2 - 1) * scale);
}

/** Gradients for one step: one array per trainable tensor (some tiny, to exercise eps), and the flat buffer. */
function stepGradients(store: ParameterStore, step: number): { perTensor: Float32Array[]; flat: Float32Array<ArrayBuffer> } {
  const flat = new Float32Array(store.floats);
  const perTensor = TRAINABLE.map((spec, k) => {
    const slot = store.slotOf(spec.name);
    const g = randomArray(slot.size, 1000 * step + k, k % 3 === 2 ? 1e-4 : 1);
    flat.set(g, slot.offset);
    return g;
  });
  return { perTensor, flat };
}

/** The trainable tensors as one f64 vector (no padding) with its decay flags, in TRAINABLE order. */
function concat(parts: Float32Array[]): Float64Array {
  const out = new Float64Array(parts.reduce((t, p) => t + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
const DECAY_MASK = TRAINABLE.flatMap((s) => new Array<boolean>(s.shape.reduce((a, b) => a * b, 1)).fill(s.decay));

/** Splits a flat store buffer into per-tensor arrays, and checks the padding is exactly zero. */
function unflatten(store: ParameterStore, flat: Float32Array, what: string): Float32Array[] {
  const used = new Uint8Array(store.floats);
  const parts = TRAINABLE.map((spec) => {
    const slot = store.slotOf(spec.name);
    used.fill(1, slot.offset, slot.offset + slot.size);
    return flat.slice(slot.offset, slot.offset + slot.size);
  });
  for (let i = 0; i < store.floats; i++) if (!used[i] && flat[i] !== 0) throw new Error(`${what}: padding element ${i} is ${flat[i]}, not 0.`);
  return parts;
}

function expectPerTensor(got: Float32Array[], want: Float64Array, what: string): void {
  let at = 0;
  got.forEach((g, k) => {
    const err = maxRelError(g, want.subarray(at, at + g.length));
    expect(err, `${what} of ${TRAINABLE[k]!.name}`).toBeLessThanOrEqual(TOL);
    at += g.length;
  });
}

async function makeStore(ctx: GpuContext): Promise<{ store: ParameterStore; initial: Float32Array[]; frozen: Float32Array }> {
  const store = await ParameterStore.create(ctx, SPECS);
  const initial = TRAINABLE.map((s, k) => randomArray(store.slotOf(s.name).size, 50 + k));
  TRAINABLE.forEach((s, k) => store.upload(s.name, initial[k]!));
  const frozen = randomArray(65, 99);
  store.upload('frozen', frozen);
  return { store, initial, frozen };
}

async function expectFrozenUntouched(store: ParameterStore, frozen: Float32Array): Promise<void> {
  expect(await store.read('frozen')).toEqual(frozen);
}

describe('AdamW over the flat parameter buffer', () => {
  it('matches torch.optim.AdamW (f64 reference) step by step, with a per-step lr', async () => {
    const ctx = await gpu();
    const { store, initial, frozen } = await makeStore(ctx);
    const hyper = { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.1 };
    const opt = await AdamW.create(store, { lr: 1, ...hyper });
    try {
      const p = concat(initial);
      const m = new Float64Array(p.length);
      const v = new Float64Array(p.length);
      for (const [i, lr] of STEP_LRS.entries()) {
        const { perTensor, flat } = stepGradients(store, i);
        ctx.write(store.gradRange, flat);
        const dispatches = ctx.stats.dispatches;
        opt.step(lr);
        expect(ctx.stats.dispatches - dispatches, 'one dispatch per step').toBe(1);
        adamwStep(p, concat(perTensor), m, v, i + 1, { lr, ...hyper, decay: DECAY_MASK });

        const [params] = await ctx.readMany([store.paramRange]);
        const state = await opt.state();
        expect(state.step).toBe(i + 1);
        expectPerTensor(unflatten(store, params!, 'params'), p, `step ${i + 1}: params`);
        expectPerTensor(unflatten(store, state.m, 'm'), m, `step ${i + 1}: m`);
        expectPerTensor(unflatten(store, state.v, 'v'), v, `step ${i + 1}: v`);
      }
      await expectFrozenUntouched(store, frozen);
      // The gradients were read, never written.
      expect(await ctx.read(store.gradRange)).toEqual(stepGradients(store, STEP_LRS.length - 1).flat);
    } finally {
      opt.dispose();
      store.dispose();
    }
  });

  it('applies weight decay only to the decayed tensors, and the default lr when step() gets none', async () => {
    const ctx = await gpu();
    const { store, initial } = await makeStore(ctx);
    const opt = await AdamW.create(store, { lr: 0.05, weightDecay: 0.5 });
    try {
      store.zeroGrad(); // zero gradients: only decoupled decay moves the parameters
      opt.step();
      const after = await store.readAll();
      TRAINABLE.forEach((spec, k) => {
        const factor = spec.decay ? 1 - 0.05 * 0.5 : 1;
        const want = Float64Array.from(initial[k]!, (x) => x * factor);
        expect(maxRelError(after.get(spec.name)!, want), spec.name).toBeLessThanOrEqual(TOL);
      });
    } finally {
      opt.dispose();
      store.dispose();
    }
  });

  it('saves and restores its state: a resumed step equals the uninterrupted one', async () => {
    const ctx = await gpu();
    const { store } = await makeStore(ctx);
    const first = await AdamW.create(store, { lr: 1e-2, weightDecay: 0.1 });
    const resumed = await AdamW.create(store, { lr: 1e-2, weightDecay: 0.1 });
    try {
      for (let i = 0; i < 2; i++) {
        ctx.write(store.gradRange, stepGradients(store, i).flat);
        first.step();
      }
      const savedParams = await store.readAll();
      const saved = await first.state();
      const lastGrads = stepGradients(store, 2).flat;
      ctx.write(store.gradRange, lastGrads);
      first.step();
      const straight = await ctx.read(store.paramRange);
      const straightState = await first.state();

      for (const [name, data] of savedParams) store.upload(name, data);
      resumed.loadState(saved);
      expect(resumed.stepCount).toBe(2);
      resumed.step();
      expect(await ctx.read(store.paramRange)).toEqual(straight);
      const resumedState = await resumed.state();
      expect(resumedState.step).toBe(3);
      expect(resumedState.m).toEqual(straightState.m);
      expect(resumedState.v).toEqual(straightState.v);

      expect(() => resumed.loadState({ step: 1, m: new Float32Array(3), v: new Float32Array(3) })).toThrow(/layout has/);
      expect(() => resumed.loadState({ ...saved, step: -1 })).toThrow(/step/);
    } finally {
      first.dispose();
      resumed.dispose();
      store.dispose();
    }
  });

  it('rejects invalid hyper-parameters', async () => {
    const ctx = await gpu();
    const store = await ParameterStore.create(ctx, [{ name: 'w', shape: [7], decay: true }]);
    try {
      await expect(AdamW.create(store, { lr: -1 })).rejects.toThrow(/learning rate/);
      await expect(AdamW.create(store, { lr: 1e-3, beta1: 1 })).rejects.toThrow(/beta1/);
      await expect(AdamW.create(store, { lr: 1e-3, beta2: -0.1 })).rejects.toThrow(/beta2/);
      await expect(AdamW.create(store, { lr: 1e-3, eps: 0 })).rejects.toThrow(/eps/);
      await expect(AdamW.create(store, { lr: 1e-3, weightDecay: Number.NaN })).rejects.toThrow(/weight decay/);
      const opt = await AdamW.create(store, { lr: 1e-3 });
      expect(() => opt.step(Number.POSITIVE_INFINITY)).toThrow(/learning rate/);
      opt.dispose();
      expect(() => opt.step()).toThrow(/disposed/);
    } finally {
      store.dispose();
    }
  });
});

describe('SGD over the flat parameter buffer', () => {
  it('matches the contract (p -= lr·(g + wd·p) on decayed tensors, p -= lr·g elsewhere) step by step', async () => {
    const ctx = await gpu();
    const { store, initial, frozen } = await makeStore(ctx);
    const opt: Optimizer = await Sgd.create(store, { lr: 1, weightDecay: 0.05 });
    try {
      const p = concat(initial);
      for (const [i, lr] of STEP_LRS.entries()) {
        const { perTensor, flat } = stepGradients(store, i);
        ctx.write(store.gradRange, flat);
        const dispatches = ctx.stats.dispatches;
        opt.step(lr);
        expect(ctx.stats.dispatches - dispatches, 'one dispatch per step').toBe(1);
        sgdStep(p, concat(perTensor), { lr, weightDecay: 0.05, decay: DECAY_MASK });
        expectPerTensor(unflatten(store, await ctx.read(store.paramRange), 'params'), p, `step ${i + 1}: params`);
      }
      expect(opt.stepCount).toBe(STEP_LRS.length);
      await expectFrozenUntouched(store, frozen);
      const state = await opt.state();
      expect(state.m.length + state.v.length).toBe(0);
      expect(() => opt.loadState({ step: 1, m: new Float32Array(1), v: new Float32Array(1) })).toThrow(/moments/);
    } finally {
      opt.dispose();
      store.dispose();
    }
  });

  it('does nothing (and dispatches nothing) when every tensor is frozen', async () => {
    const ctx = await gpu();
    const store = await ParameterStore.create(ctx, [{ name: 'f', shape: [7], decay: true, requiresGrad: false }]);
    const sgd = new Sgd(store, { lr: 1 });
    const adamw = await AdamW.create(store, { lr: 1 });
    try {
      expect(store.floats).toBe(0);
      const dispatches = ctx.stats.dispatches;
      sgd.step();
      adamw.step();
      store.zeroGrad();
      expect(ctx.stats.dispatches).toBe(dispatches);
      expect((await adamw.state()).m.length).toBe(0);
    } finally {
      adamw.dispose();
      store.dispose();
    }
  });
});
