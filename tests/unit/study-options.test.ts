// The study's command line (bench/study/options.ts): the protocol's defaults, learning-rate grids for every
// family or one family at a time (later ones winning), a warm-up that follows a reduced scale, and mistakes
// refused with a sentence.
import { describe, expect, it } from 'vitest';
import { DEFAULT_LR_GRID, StudyOptionError } from '../../bench/study/methods';
import { parseStudyOptions, USAGE, type StudyOptions } from '../../bench/study/options';

const parse = (...argv: string[]): StudyOptions => parseStudyOptions(argv) as StudyOptions;

describe('study options', () => {
  it('keeps the full protocol by default: 5 seeds, 100 per class, 10 epochs, batch 50, 20 warm-up steps', () => {
    const o = parse();
    expect([o.seeds, o.trainPerClass, o.epochs, o.batchSize, o.warmup, o.testLimit]).toEqual([5, 100, 10, 50, 20, undefined]);
  });

  it('keeps the per-family default grids when --lr-grid is not given', () => {
    expect(parse().lrGrid).toEqual(DEFAULT_LR_GRID);
  });

  it('sets every family with x,y and one family with FAMILY=x,y, later ones winning', () => {
    expect(parse('--lr-grid', '1e-3,1e-2').lrGrid).toEqual({ head: [1e-3, 1e-2], full: [1e-3, 1e-2], lora: [1e-3, 1e-2], clora: [1e-3, 1e-2], 'clora-sade': [1e-3, 1e-2] });
    expect(parse('--lr-grid', 'full=3e-4', '--lr-grid', 'clora-sade=0.01,0.03').lrGrid).toEqual({ ...DEFAULT_LR_GRID, full: [3e-4], 'clora-sade': [0.01, 0.03] });
    expect(parse('--lr-grid', 'head=0.03', '--lr-grid', '0.1').lrGrid.head).toEqual([0.1]);
    expect(parse('--lr-grid', '0.1', '--lr-grid', 'head=0.03').lrGrid).toMatchObject({ head: [0.03], full: [0.1] });
  });

  it('refuses an unknown family or a value that is not a positive number, naming it', () => {
    expect(() => parse('--lr-grid', 'adapter=1e-3')).toThrow(StudyOptionError);
    expect(() => parse('--lr-grid', 'adapter=1e-3')).toThrow('unknown family "adapter"; the families are head, full, lora, clora, clora-sade');
    expect(() => parse('--lr-grid', 'lora=0,1e-3')).toThrow('--lr-grid must be a comma list of numbers > 0, got "0,1e-3"');
    expect(() => parse('--lr-grid', 'lora=')).toThrow('--lr-grid must be a comma list of numbers > 0');
  });

  it('--warmup sets the warm-up steps of every run, 0 included (a constant learning rate)', () => {
    expect(parse('--warmup', '3', '--train-per-class', '30', '--epochs', '5').warmup).toBe(3);
    expect(parse('--warmup', '0').warmup).toBe(0);
    expect(USAGE).toContain('--warmup N');
  });

  it('refuses a warm-up that is not a whole number of steps, with a sentence', () => {
    for (const bad of ['-1', '2.5', 'x', '']) {
      expect(() => parse(`--warmup=${bad}`)).toThrow(StudyOptionError);
      expect(() => parse(`--warmup=${bad}`)).toThrow(/--warmup must be a whole number ≥ 0/);
    }
  });
});
