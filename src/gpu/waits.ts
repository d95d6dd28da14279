// How the engine waits for work it submitted to the GPU (GpuContext.readMany and sync). Dawn's Node binding
// busy-polls while a map or work-done promise is pending: the JavaScript thread spins on a whole core, and on a
// CPU-emulated adapter that core is taken from the emulator (a 2.0 s training step became 1.6 s when the wait
// slept first). Browsers do not spin. So the wait is a choice:
//   'poll'     await the promise at once (browsers; real GPUs, where the spinning core is not the GPU's);
//   'sleep'    sleep until the work is expected to be done (85% of the measured time per submission times the
//              submissions pending), then await it;
//   'measure'  try both and keep the one that gives the shorter time per submission on this adapter, now and
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
/** After the trials, one wait in this many tries the scheme not chosen. */
const RETRY_EVERY = 10;
/** The part of the expected time a 'sleep' wait sleeps before polling. */
const SLEEP_SHARE = 0.85;

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

export class GpuWaits {
  /** Milliseconds per submission over recent waits, per scheme (the last few). */
  private samples: Record<'poll' | 'sleep', number[]> = { poll: [], sleep: [] };
  private pendingSince: number | undefined;
  private pendingSubmissions = 0;
  private msPerSubmission = 0;
  private waits = 0;
  /** The scheme the wait in progress uses. */
  private current: 'poll' | 'sleep' = 'poll';

  constructor(public scheme: WaitScheme) {}

  /** Notes one queue submission. */
  submitted(): void {
    this.pendingSince ??= performance.now();
    this.pendingSubmissions++;
  }

  /** The scheme the next wait uses: fixed, or under 'measure' the faster one so far (trying each at first). */
  get next(): 'poll' | 'sleep' {
    if (this.scheme !== 'measure') return this.scheme;
    const { poll, sleep } = this.samples;
    if (poll.length < TRIALS || sleep.length < TRIALS) return poll.length <= sleep.length ? 'poll' : 'sleep';
    const best = median(poll) <= median(sleep) ? 'poll' : 'sleep';
    const other = best === 'poll' ? 'sleep' : 'poll';
    return this.waits % RETRY_EVERY === RETRY_EVERY - 1 ? other : best;
  }

  /** What 'measure' has found so far: milliseconds per submission by scheme (medians of recent waits). */
  get measured(): { poll?: number; sleep?: number } {
    const out: { poll?: number; sleep?: number } = {};
    if (this.samples.poll.length) out.poll = median(this.samples.poll);
    if (this.samples.sleep.length) out.sleep = median(this.samples.sleep);
    return out;
  }

  /** Before awaiting the GPU: with 'sleep', sleeps until the pending work is expected to be done. */
  async beforeWait(): Promise<void> {
    this.current = this.next;
    if (this.current !== 'sleep' || this.pendingSince === undefined || this.msPerSubmission === 0) return;
    const delay = this.pendingSince + SLEEP_SHARE * this.msPerSubmission * this.pendingSubmissions - performance.now();
    if (delay > 1) await new Promise((resolve) => setTimeout(resolve, delay));
  }

  /** Once everything submitted so far has finished: updates the time per submission and the scheme's record. */
  done(): void {
    if (this.pendingSince === undefined || this.pendingSubmissions === 0) return;
    const perSubmission = (performance.now() - this.pendingSince) / this.pendingSubmissions;
    this.msPerSubmission = this.msPerSubmission === 0 ? perSubmission : 0.5 * this.msPerSubmission + 0.5 * perSubmission;
    const record = this.samples[this.current];
    record.push(perSubmission);
    if (record.length > 2 * TRIALS) record.shift();
    this.waits++;
    this.pendingSince = undefined;
    this.pendingSubmissions = 0;
  }
}
