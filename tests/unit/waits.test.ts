// How the engine waits for the GPU (src/gpu/waits.ts), with stand-in work that takes known times on a fake
// clock (so a loaded machine's late timers change nothing): a 'sleep' wait starts its (spinning, in Dawn)
// promise only near the expected end of everything queued before the submission it waits for; 'measure' tries
// both schemes and keeps the faster.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { GpuWaits, parseWaitScheme } from '../../src/gpu/waits';

const after = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs a wait to its end on the fake clock. */
async function settle<T>(p: Promise<T>): Promise<T> {
  await vi.runAllTimersAsync();
  return p;
}

/** A stand-in GPU that runs submissions in order, `ms` each: resolves when submission `index` is done. */
function fakeGpu(ms: number) {
  const ends: number[] = [];
  return {
    submit(waits: GpuWaits): number {
      const now = performance.now();
      ends.push(Math.max(now, ends.at(-1) ?? now) + ms);
      return waits.submitted();
    },
    done(index: number): Promise<void> {
      return after(Math.max(0, ends[index - 1]! - performance.now()));
    },
  };
}

describe('waiting for the GPU', () => {
  beforeEach(() => vi.useFakeTimers({ toFake: ['setTimeout', 'performance'] }));
  afterEach(() => vi.useRealTimers());

  it("'sleep' starts the wait only near the end of everything queued before the submission waited for", async () => {
    const waits = new GpuWaits('sleep');
    const gpu = fakeGpu(40);
    const first = gpu.submit(waits);
    await settle(waits.wait(first, () => gpu.done(first))); // learns 40 ms per submission
    for (let i = 0; i < 5; i++) gpu.submit(waits);
    const target = waits.latest;
    const start = performance.now();
    let startedAt = 0;
    await settle(
      waits.wait(target, () => {
        startedAt = performance.now() - start;
        return gpu.done(target);
      }),
    );
    const total = performance.now() - start;
    // Five submissions of 40 ms are queued: the promise starts after 0.9 × 200 ms, and the wait ends with them.
    expect(startedAt).toBeCloseTo(180, 0);
    expect(total).toBeCloseTo(200, 0);
  });

  it("'poll' starts the wait at once", async () => {
    const waits = new GpuWaits('poll');
    const gpu = fakeGpu(30);
    const first = gpu.submit(waits);
    await settle(waits.wait(first, () => gpu.done(first)));
    const second = gpu.submit(waits);
    const start = performance.now();
    let startedAt = -1;
    await settle(
      waits.wait(second, () => {
        startedAt = performance.now() - start;
        return gpu.done(second);
      }),
    );
    expect(startedAt).toBe(0);
  });

  it("'measure' tries both schemes, then keeps the one with the shorter time per submission", async () => {
    const waits = new GpuWaits('measure');
    // Polling makes this GPU slower (as a spinning thread does an emulator): a submission takes 40 ms, else 20.
    for (let i = 0; i < 8; i++) {
      const cost = waits.next === 'poll' ? 40 : 20;
      const submittedAt = performance.now();
      const index = waits.submitted();
      await settle(waits.wait(index, () => after(Math.max(0, submittedAt + cost - performance.now()))));
    }
    const measured = waits.measured;
    expect(measured.poll).toBeGreaterThan(measured.sleep!);
    expect(waits.next).toBe('sleep');
  });

  it("'measure' keeps the scheme expected for the adapter unless the other is clearly faster", async () => {
    const run = async (expected: 'poll' | 'sleep', cost: Record<'poll' | 'sleep', number>): Promise<'poll' | 'sleep'> => {
      const waits = new GpuWaits('measure', expected);
      for (let i = 0; i < 8; i++) {
        const c = cost[waits.next];
        const submittedAt = performance.now();
        const index = waits.submitted();
        await settle(waits.wait(index, () => after(Math.max(0, submittedAt + c - performance.now()))));
      }
      return waits.next;
    };
    expect(await run('sleep', { poll: 20, sleep: 40 })).toBe('poll');
    expect(await run('sleep', { poll: 39, sleep: 40 })).toBe('sleep');
  });

  it('refuses an unknown scheme in a sentence', () => {
    expect(parseWaitScheme('measure')).toBe('measure');
    expect(() => parseWaitScheme('spin')).toThrow(/Unknown wait scheme "spin": use poll, sleep, measure/);
  });
});
