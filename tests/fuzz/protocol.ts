// Messages between the fuzz driver (parent) and the fuzz runner (child process).
import type { Outcome } from './fuzz-reader';

/** Run cases [from, to) of one reader, stopping early once the clock passes `stopAt` (ms since the epoch). */
export interface ToRunner {
  reader: string;
  from: number;
  to: number;
  stopAt: number;
  runSeed: number;
}

export type FromRunner =
  | { kind: 'ready' }
  | { kind: 'start'; index: number; description: string }
  | { kind: 'end'; index: number; outcome: Outcome; cpuMs: number; allocated: number; size: number; budget: number; hostile: boolean }
  | { kind: 'done'; next: number; hostileCount: number; maxRssMB: number };
