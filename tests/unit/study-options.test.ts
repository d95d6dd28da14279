// The options of `npm run bench:accuracy` (bench/study/options.ts): the warm-up follows the scale a reduced
// run chooses, while the protocol's defaults stay as the full study runs them.
import { describe, expect, it } from 'vitest';
import { StudyOptionError } from '../../bench/study/methods';
import { parseStudyOptions, USAGE, type StudyOptions } from '../../bench/study/options';

const parse = (argv: string[]): StudyOptions => {
  const o = parseStudyOptions(argv);
  if (o === 'help') throw new Error('unexpected help');
  return o;
};

describe('study options', () => {
  it('keeps the full protocol by default: 5 seeds, 100 per class, 10 epochs, batch 50, 20 warm-up steps', () => {
    const o = parse([]);
    expect([o.seeds, o.trainPerClass, o.epochs, o.batchSize, o.warmup, o.testLimit]).toEqual([5, 100, 10, 50, 20, undefined]);
  });

  it('--warmup sets the warm-up steps of every run, 0 included (a constant learning rate)', () => {
    expect(parse(['--warmup', '3', '--train-per-class', '30', '--epochs', '5']).warmup).toBe(3);
    expect(parse(['--warmup', '0']).warmup).toBe(0);
    expect(USAGE).toContain('--warmup N');
  });

  it('refuses a warm-up that is not a whole number of steps, with a sentence', () => {
    for (const bad of ['-1', '2.5', 'x', '']) {
      expect(() => parse([`--warmup=${bad}`])).toThrow(StudyOptionError);
      expect(() => parse([`--warmup=${bad}`])).toThrow(/--warmup must be a whole number ≥ 0/);
    }
  });
});
