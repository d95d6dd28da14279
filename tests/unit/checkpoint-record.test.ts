// Checkpoint records as IndexedDB hands them back (src/io/checkpoint-record.ts): a real record (from a run of
// the tiny ViT, tests/fixtures/idb-checkpoint, made by tools/make-idb-checkpoint-fixture.ts) is accepted; records
// with missing fields, a newer version or arrays of the wrong length are refused with a sentence naming
// what is wrong. (The fuzz pass tries thousands more; the page's side is tests/e2e/hostile.test.ts.)
import { readFileSync } from 'node:fs';
import { deserialize } from 'node:v8';
import { describe, expect, it } from 'vitest';
import { checkCheckpoint, checkCheckpointMeta, CheckpointError, type CheckpointData, type CheckpointMeta } from '../../src/io/checkpoint-record';
import { describeUnreadable } from '../../src/io/checkpoints';

const root = new URL('../../', import.meta.url).pathname;
const fixture = (): { meta: CheckpointMeta; data: CheckpointData } => deserialize(readFileSync(`${root}tests/fixtures/idb-checkpoint/tiny-clora-step3.v8`));

function refusal(change: (r: { meta: Record<string, unknown>; data: CheckpointData }) => void): string {
  const record = fixture() as unknown as { meta: Record<string, unknown>; data: CheckpointData };
  change(record);
  try {
    checkCheckpoint(record.meta, record.data);
  } catch (error) {
    expect(error).toBeInstanceOf(CheckpointError);
    return (error as Error).message;
  }
  throw new Error('the record was accepted');
}

describe('checkpoint records', () => {
  it('a record written by a real run is accepted, and so is one from before records had a version', () => {
    const { meta, data } = fixture();
    expect(checkCheckpoint(meta, data).meta.step).toBe(3);
    delete meta.version;
    expect(() => checkCheckpoint(meta, data)).not.toThrow();
  });

  it('a description with a missing or mistyped field cannot be listed, and says which field', () => {
    expect(refusal((r) => delete r.meta.settings)).toBe('A saved checkpoint cannot be used: the settings record is missing.');
    expect(refusal((r) => (r.meta.loss = 'low'))).toMatch(/^A saved checkpoint cannot be used: the loss is the text "low", not a finite number\.$/);
    expect(refusal((r) => (r.meta.step = 9))).toMatch(/the step is 9, not a whole number in \[0, 6\]/);
    expect(refusal((r) => (r.meta.classes = ['one']))).toMatch(/it names 1 class; a run has at least two/);
    expect(refusal((r) => ((r.meta.settings as { adapter: { rank: number } }).adapter.rank = 0))).toMatch(/the rank is 0, not a whole number in \[1, 4096\]/);
    expect(() => checkCheckpointMeta(null)).toThrow(/the record is null, not a record/);
  });

  it('a record from a newer version of the app is refused with what to do', () => {
    expect(refusal((r) => (r.meta.version = 2))).toMatch(/saved by a newer version of this app \(record version 2; this one reads version 1\): update the app \(reload the page\) to use it/);
  });

  it('saved state with arrays of the wrong length, repeats or non-finite values cannot be resumed', () => {
    const damaged = /^The checkpoint at step 3 cannot be resumed: its saved training state is damaged \((.+)\)\. Delete it, or start a new run with Train\.$/;
    const cases: [string, (r: { meta: Record<string, unknown>; data: CheckpointData }) => void, RegExp][] = [
      ['moments one float short', (r) => (r.data.state.optimizer.m = r.data.state.optimizer.m.slice(1)), /the optimizer moments have 895 and 896 values; they must match/],
      ['moments shorter than the weights', (r) => ((r.data.state.optimizer.m = new Float32Array(4)), (r.data.state.optimizer.v = new Float32Array(4))), /the optimizer moments hold 4 values for \d+ weights/],
      ['a head for 7 classes', (r) => r.data.state.trainable.set('head.bias', new Float32Array(7)), /the head has 7 outputs for 3 classes/],
      ['a repeated sample', (r) => (r.data.state.order[1] = r.data.state.order[0]!), /the sample order names sample \d+ twice/],
      ['a cursor past the order', (r) => (r.data.state.cursor = 99), /the position in the sample order is 99, not a whole number in \[0, 12\]/],
      ['another step', (r) => (r.data.state.step = 4), /it holds step 4 but is listed as step 3/],
      ['a NaN weight', (r) => (r.data.state.trainable.get('head.weight')![2] = NaN), /the weight array "head.weight" holds NaN at index 2/],
      ['weights as a plain object', (r) => ((r.data.state as { trainable: unknown }).trainable = {}), /the table of adapter weights is an object, not a Map/],
      ['moments as a list', (r) => ((r.data.state.optimizer as { v: unknown }).v = [1, 2]), /the optimizer's second-moment array is a list of 2, not a Float32Array/],
      ['a metrics entry without a loss', (r) => delete (r.data.state.history[0] as { loss?: number }).loss, /the loss of metrics entry 1 is missing/],
      ['an accuracy over 1', (r) => (r.data.accuracy[0]!.train = 3), /the training accuracy of entry 1 is 3, not a number in \[0, 1\]/],
    ];
    for (const [name, change, why] of cases) {
      const message = refusal(change);
      expect(message, name).toMatch(damaged);
      expect(damaged.exec(message)![1], name).toMatch(why);
    }
  });

  it('one sentence tells the page about descriptions it leaves out of the list', () => {
    expect(describeUnreadable([])).toBeUndefined();
    expect(describeUnreadable([{ key: 'a', reason: 'A saved checkpoint cannot be used: the step is missing.' }])).toBe('A saved checkpoint cannot be used: the step is missing. It is left out of the list.');
    expect(describeUnreadable([{ key: 'a', reason: 'R1.' }, { key: 'b', reason: 'R2.' }])).toBe('2 saved checkpoints cannot be used and are left out of the list. The first: R1.');
  });
});
