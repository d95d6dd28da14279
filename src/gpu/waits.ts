// How the engine waits for work it submitted to the GPU (GpuContext.readMany and sync). Dawn's Node binding
// busy-polls while a map or work-done promise is pending: the JavaScript thread spins on a whole core, and on a
// CPU-emulated adapter that core is taken from the emulator (a 2.0 s training step became 1.6 s when the wait
// slept first). Browsers do not spin. So the wait is a choice:
//   'poll'     await the promise at once (browsers; real GPUs, where the spinning core is not the GPU's);
//   'sleep'    sleep for most of the time until the submission waited for is expected to be done (from the
//              measured time per submission), then await it. The GPU runs
//              submissions in order, so that is when everything queued before it is done too: a training loop
//              that reads a step's metrics while ten later steps are queued sleeps through all of them;
//   'measure'  start from the scheme expected to suit the adapter (sleep on an emulator, poll on a GPU), try
//              the other, and keep whichever gives the shorter time per submission on this adapter, now and
//              then trying the other again in case the load changed.
import { GpuSettingError } from './errors';

export type WaitScheme = 'poll' | 'sleep' | 'measure';

const SCHEMES: readonly WaitScheme[] = ['poll', 'sleep', 'measure'];

/** The scheme a setting names (CLORA_WAIT), or a sentence saying which names exist. */
export function parseWaitScheme(name: string): WaitScheme {
  if ((SCHEMES as readonly string[]).includes(name)) return name as WaitScheme;
  throw new GpuSettingError(`Unknown wait scheme "${name}": use ${SCHEMES.join(', ')}.`);
}

/** Samples of each scheme 'measure' takes before it trusts a comparison. */
const TRIALS = 3;
/** The first waits (compilation, first allocations) are not samples. */
const WARMUP_WAITS = 2;
/** 'measure' leaves the expected scheme only for one at least this much faster. */
const SWITCH_MARGIN = 0.95;
/** After the trials, one wait in this many tries the scheme not chosen. */
const RETRY_EVERY = 25;
/**
 * A 'sleep' wait sleeps this share of the time until the expected end, then polls: an estimate that is up to
 * 10% too long still wakes in time, and a shorter one only spins for the rest.
 */
const SLEEP_SHARE = 0.9;
/** A wait that ends within this many milliseconds of waking found the work already done: it overslept. */
const OVERSLEPT_MS = 1;
/** After an oversleep the time per submission is taken as this share of the smaller of estimate and sample. */
const OVERSLEEP_SHRINK = 0.8;

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

export class GpuWaits {
  /** Milliseconds per submission over recent waits, per scheme (the last few). */
  private samples: Record<'poll' | 'sleep', number[]> = { poll: [], sleep: [] };
  /** Submissions so far; each has an index from 1. */
  private submissions = 0;
  /** When each submission not yet known to be done was made. */
  private submittedAt = new Map<number, number>();
  /** The latest submission known to be done, and when that was seen. */
  private doneIndex = 0;
  private doneAt = 0;
  private msPerSubmission = 0;
  private waits = 0;

  constructor(
    public scheme: WaitScheme,
    /** The scheme 'measure' starts from and keeps unless the other measures clearly faster. */
    public expected: 'poll' | 'sleep' = 'poll',
  ) {}

  /** Notes one queue submission and returns its index. */
  submitted(): number {
    this.submissions++;
    this.submittedAt.set(this.submissions, performance.now());
    return this.submissions;
  }

  /** The index of the latest submission. */
  get latest(): number {
    return this.submissions;
  }

  /** The scheme the next wait uses: fixed, or under 'measure' the faster one so far (trying each at first). */
  get next(): 'poll' | 'sleep' {
    if (this.scheme !== 'measure') return this.scheme;
    const expected = this.expected;
    const other = expected === 'poll' ? 'sleep' : 'poll';
    if (this.waits < WARMUP_WAITS || this.samples[expected].length < TRIALS) return expected;
    if (this.samples[other].length < TRIALS) return other;
    const best = median(this.samples[other]) < SWITCH_MARGIN * median(this.samples[expected]) ? other : expected;
    const worse = best === expected ? other : expected;
    return this.waits % RETRY_EVERY === RETRY_EVERY - 1 ? worse : best;
  }

  /** What 'measure' has found so far: milliseconds per submission by scheme (medians of recent waits). */
  get measured(): { poll?: number; sleep?: number } {
    const out: { poll?: number; sleep?: number } = {};
    if (this.samples.poll.length) out.poll = median(this.samples.poll);
    if (this.samples.sleep.length) out.sleep = median(this.samples.sleep);
    return out;
  }

  /** When submission `index` is expected to be done: the queue since the last known completion, in order. */
  private expectedEnd(index: number): number {
    let end = this.doneAt;
    for (let i = this.doneIndex + 1; i <= index; i++) end = Math.max(end, this.submittedAt.get(i) ?? end) + this.msPerSubmission;
    return end;
  }

  /**
   * Waits for submission `index` (and everything before it) with `work` (a map or work-done promise, created
   * only after any sleep, so that nothing spins meanwhile), then notes its completion.
   */
  async wait<T>(index: number, work: () => Promise<T>): Promise<T> {
    const scheme = this.next;
    let slept = false;
    if (scheme === 'sleep' && this.msPerSubmission > 0 && index > this.doneIndex) {
      const delay = SLEEP_SHARE * (this.expectedEnd(index) - performance.now());
      if (delay > 1) {
        await new Promise((resolve) => setTimeout(resolve, delay));
        slept = true;
      }
    }
    const woke = performance.now();
    const result = await work();
    // Done at once on waking: the work ended some time during the sleep, so the estimate was too long.
    this.done(index, scheme, slept && performance.now() - woke < OVERSLEPT_MS);
    return result;
  }

  /** Submission `index` is done: updates the time per submission and the scheme's record. */
  private done(index: number, scheme: 'poll' | 'sleep', overslept: boolean): void {
    if (index <= this.doneIndex) return;
    const now = performance.now();
    // The GPU worked through submissions doneIndex+1..index from when the first of them was made (or the
    // previous one finished, if later) until now.
    const start = Math.max(this.doneAt, this.submittedAt.get(this.doneIndex + 1) ?? now);
    const perSubmission = (now - start) / (index - this.doneIndex);
    // An oversleep only bounds the time from above: shrink the estimate instead of averaging it in.
    if (overslept) this.msPerSubmission = OVERSLEEP_SHRINK * Math.min(this.msPerSubmission, perSubmission);
    else this.msPerSubmission = this.msPerSubmission === 0 ? perSubmission : 0.5 * this.msPerSubmission + 0.5 * perSubmission;
    if (this.waits >= WARMUP_WAITS) {
      const record = this.samples[scheme];
      record.push(perSubmission);
      if (record.length > 2 * TRIALS) record.shift();
    }
    this.waits++;
    for (let i = this.doneIndex + 1; i <= index; i++) this.submittedAt.delete(i);
    this.doneIndex = index;
    this.doneAt = now;
  }
}
