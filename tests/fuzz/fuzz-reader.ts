// What the fuzz harness needs to know about a reader, and how one case runs: the input is built from the
// reader's seeds (hand-made hostile inputs first, then seeded mutations of real files), read the way the
// app reads it, and the outcome classified. The property every case must keep: it ends in a result or in
// the module's own error with a sentence; no other exception, no hang (the driver's per-case time bound),
// no allocation far beyond what the input can justify (the reader's budget).
import { Rng } from '../../src/train/rng';

export type ErrorClass = abstract new (...args: never[]) => Error;

export interface FuzzSeed<T> {
  name: string;
  value: T;
}

export interface FuzzReader<T = Uint8Array<ArrayBuffer>> {
  /** Shown in reports, e.g. "safetensors". */
  name: string;
  /** Real files (or values) the mutations start from. */
  seeds(): Promise<FuzzSeed<T>[]>;
  /** Hand-made hostile inputs, each tried once before the mutations. */
  hostile(): Promise<FuzzSeed<T>[]>;
  mutate(value: T, rng: Rng): { value: T; steps: string[] };
  /** The input's size in bytes (for the budget and the report). */
  size(value: T): number;
  /**
   * Reads the input fully, the way the app does, and checks what came out (throw InvariantError when a
   * result breaks a promise the reader makes). Resolves with a refusal reason when the reader refuses by
   * returning one (the image precheck) rather than by throwing.
   */
  open(value: T): Promise<string | undefined>;
  /** The module's own error classes: a rejection with one of these and a sentence is a refusal. */
  errors: ErrorClass[];
  /** The most bytes reading this input may allocate (and hold until it returns). */
  budget(value: T): number;
}

/** A result that breaks a promise the reader makes (a path that climbs out, an image of the wrong size). */
export class InvariantError extends Error {
  override name = 'InvariantError';
}

export interface FuzzCase<T> {
  index: number;
  value: T;
  /** Which seed, and what was done to it. */
  description: string;
}

function hash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

/** Case `index` of a reader: deterministic from the reader's name, its seeds and `runSeed`. */
export function fuzzCase<T>(reader: FuzzReader<T>, seeds: FuzzSeed<T>[], hostile: FuzzSeed<T>[], index: number, runSeed = 0): FuzzCase<T> {
  if (index < hostile.length) return { index, value: hostile[index]!.value, description: `hostile: ${hostile[index]!.name}` };
  const rng = new Rng((hash(reader.name) ^ Math.imul(index + 1, 0x9e3779b9) ^ Math.imul(runSeed, 0x85ebca6b)) >>> 0);
  const seed = seeds[rng.int(seeds.length)]!;
  const { value, steps } = reader.mutate(seed.value, rng);
  return { index, value, description: `${seed.name}: ${steps.join('; ') || 'unchanged'}` };
}

export type Outcome =
  | { kind: 'opened' }
  | { kind: 'refused'; message: string }
  | { kind: 'failed'; why: string };

/** A refusal a user will read: a real sentence, not a fragment of code. */
export function sentenceProblem(message: string): string | undefined {
  if (message.trim().length < 12) return 'the message is too short to say what happened';
  if (/\bundefined\b|\[object /.test(message)) return 'the message shows a program value instead of words';
  return undefined;
}

/** Runs one case and classifies how it ended. */
export async function runCase<T>(reader: FuzzReader<T>, value: T): Promise<Outcome> {
  try {
    const refusal = await reader.open(value);
    if (refusal === undefined) return { kind: 'opened' };
    const problem = sentenceProblem(refusal);
    return problem ? { kind: 'failed', why: `refused with "${refusal}": ${problem}` } : { kind: 'refused', message: refusal };
  } catch (error) {
    const own = reader.errors.some((c) => error instanceof c);
    const text = error instanceof Error ? `${error.name}: ${error.message}` : `a thrown ${typeof error}: ${String(error)}`;
    if (!own) return { kind: 'failed', why: `${text}${error instanceof Error && error.stack ? `\n${error.stack.split('\n').slice(1, 6).join('\n')}` : ''}` };
    const problem = sentenceProblem((error as Error).message);
    return problem ? { kind: 'failed', why: `${text}: ${problem}` } : { kind: 'refused', message: (error as Error).message };
  }
}
