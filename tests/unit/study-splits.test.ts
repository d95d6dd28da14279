// Which samples the study's runs see (bench/study/splits.ts) and its resumable run log (records.ts).
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RunLog, runKey, type RunRecord } from '../../bench/study/records';
import { carveValidation, testSample, trainingSample } from '../../bench/study/splits';

// 7 classes of uneven size, in a scrambled order.
const labels = Array.from({ length: 3001 }, (_, i) => (i * 5 + (i % 11)) % 7);
const perClass = (indices: number[]): number[] => Array.from({ length: 7 }, (_, c) => indices.filter((i) => labels[i] === c).length);

describe('study splits', () => {
  it('each seed draws its own training images, the same number per class', () => {
    const a = trainingSample(labels, 30, 0);
    const b = trainingSample(labels, 30, 1);
    expect(perClass(a)).toEqual(new Array(7).fill(30));
    expect(new Set(a).size).toBe(210);
    expect(trainingSample(labels, 30, 0)).toEqual(a);
    const shared = a.filter((i) => b.includes(i)).length;
    expect(shared).toBeLessThan(60); // two random draws of 30 from ~430 per class share about 2 each
  });

  it('the validation split is carved from the training images, disjoint from what the tuning run fits', () => {
    const sample = trainingSample(labels, 30, 3);
    const { fit, validation } = carveValidation(labels, sample, 6);
    expect(perClass(validation)).toEqual(new Array(7).fill(6));
    expect(perClass(fit)).toEqual(new Array(7).fill(24));
    expect(fit.filter((i) => validation.includes(i))).toEqual([]);
    expect([...fit, ...validation].sort((x, y) => x - y)).toEqual([...sample].sort((x, y) => x - y));
    expect(() => carveValidation(labels, sample, 30)).toThrow(/too few/);
  });

  it('the test set is all of it, or a fixed subset spread over the classes', () => {
    expect(testSample(labels, undefined)).toHaveLength(3001);
    const some = testSample(labels, 70);
    expect(some).toHaveLength(70);
    expect(perClass(some)).toEqual(new Array(7).fill(10));
    expect(testSample(labels, 70)).toEqual(some);
  });
});

describe('study run log', () => {
  const record = (key: string, accuracy: number | null): RunRecord => ({ key, phase: 'test', task: 't', method: 'lora-r8', lr: 1e-3, sadeWeight: 0, seed: 0, accuracy, trainable: 10, trainImages: 40, evalImages: 20, seconds: 1, finished: 'now' });

  it('keys change with any input and not with the order of fields', () => {
    const k = runKey({ a: 1, b: { c: [1, 2], d: 'x' } });
    expect(runKey({ b: { d: 'x', c: [1, 2] }, a: 1 })).toBe(k);
    expect(runKey({ a: 1, b: { c: [2, 1], d: 'x' } })).not.toBe(k);
    expect(runKey({ a: 1, b: { c: [1, 2], d: 'x' }, e: 0 })).not.toBe(k);
  });

  it('records survive a reopen, and a line cut short by a stop is ignored', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'study-log-')), 'runs.jsonl');
    const log = new RunLog(path);
    log.add(record('a', 0.5));
    log.add(record('b', null));
    // A stop in the middle of a write leaves half a line; the next record starts on a fresh line.
    writeFileSync(path, `${readFileSync(path, 'utf8')}\n{"key":"c","phase":"te`);
    const reopened = new RunLog(path);
    reopened.add(record('d', 0.75));
    const again = new RunLog(path);
    expect(again.size).toBe(3);
    expect(again.get('a')?.accuracy).toBe(0.5);
    expect(again.get('b')?.accuracy).toBeNull();
    expect(again.get('c')).toBeUndefined();
    expect(again.get('d')?.accuracy).toBe(0.75);
  });
});
