// Readers that break the property on purpose, so the fuzz pass shows it can fail: one hangs in a synchronous
// loop, one throws a foreign exception, one refuses without a sentence, one allocates far past its budget,
// and one takes the whole process down. Each one's first case misbehaves; the rest open normally.
import type { FuzzReader } from './fuzz-reader';

class FaultyError extends Error {
  override name = 'FaultyError';
}

function faulty(name: string, misbehave: () => Promise<string | undefined>): FuzzReader<number> {
  return {
    name,
    seeds: async () => [{ name: 'a number', value: 1 }],
    hostile: async () => [{ name: 'the bad input', value: 0 }],
    mutate: (value) => ({ value, steps: [] }),
    size: () => 8,
    open: (value) => (value === 0 ? misbehave() : Promise.resolve(undefined)),
    errors: [FaultyError],
    budget: () => 1 << 20,
  };
}

let kept: Uint8Array | undefined;

export const FAULTY_READERS: FuzzReader<number>[] = [
  faulty('faulty: hangs', async () => {
    for (;;) kept = new Uint8Array(1); // never ends, never yields
  }),
  faulty('faulty: foreign exception', async () => {
    throw new TypeError("Cannot read properties of undefined (reading 'length')");
  }),
  faulty('faulty: no sentence', async () => {
    throw new FaultyError('undefined');
  }),
  faulty('faulty: over budget', async () => {
    kept = new Uint8Array(64 << 20).fill(1);
    return undefined;
  }),
  faulty('faulty: kills the process', async () => {
    process.exit(3);
  }),
];
