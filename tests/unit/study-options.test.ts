// The study's command line (bench/study/options.ts): learning-rate grids for every family or one family at a
// time, later ones winning, and mistakes refused with a sentence.
import { describe, expect, it } from 'vitest';
import { DEFAULT_LR_GRID, StudyOptionError } from '../../bench/study/methods';
import { parseStudyOptions, type StudyOptions } from '../../bench/study/options';

const parse = (...argv: string[]): StudyOptions => parseStudyOptions(argv) as StudyOptions;

describe('study options', () => {
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
});
