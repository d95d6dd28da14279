// Every finished run of the study as one JSON line, keyed by a hash of everything that decides its result
// (task, backbone file, method settings, budget, learning rate, seed, data split). A rerun reads the file and
// skips what is recorded, so a study of hours survives being stopped; change any input and the key changes.
import { createHash } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';

export interface RunRecord {
  key: string;
  /** 'tune': fitted on the training images minus the validation split, scored on the validation split; 'test': fitted on all training images, scored on the test set. */
  phase: 'tune' | 'test';
  task: string;
  method: string;
  lr: number;
  sadeWeight: number;
  seed: number;
  /** Top-1 accuracy in [0, 1]; null when training diverged. */
  accuracy: number | null;
  /** Why there is no accuracy (the trainer's sentence). */
  diverged?: string;
  trainable: number;
  trainImages: number;
  evalImages: number;
  /** Training plus evaluation, wall clock. */
  seconds: number;
  finished: string;
}

/** Stable JSON (keys sorted at every level), so equal inputs give equal keys. */
function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
    return `{${entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([k, v]) => `${JSON.stringify(k)}:${stableJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

export function runKey(inputs: Record<string, unknown>): string {
  return createHash('sha256').update(stableJson(inputs)).digest('hex').slice(0, 32);
}

export class RunLog {
  private readonly records = new Map<string, RunRecord>();

  /** Opens (or starts) the log at `path`; a line cut short by a stopped run is ignored. */
  constructor(readonly path: string) {
    if (!existsSync(path)) return;
    for (const line of readFileSync(path, 'utf8').split('\n')) {
      if (!line.trim()) continue;
      try {
        const record = JSON.parse(line) as RunRecord;
        if (typeof record.key === 'string') this.records.set(record.key, record);
      } catch {
        // the last line of a run stopped mid-write
      }
    }
  }

  get(key: string): RunRecord | undefined {
    return this.records.get(key);
  }

  get size(): number {
    return this.records.size;
  }

  add(record: RunRecord): void {
    mkdirSync(dirname(this.path), { recursive: true });
    // A line cut short by a stop is ignored on reading; start on a fresh line whatever came before.
    appendFileSync(this.path, `\n${JSON.stringify(record)}`);
    this.records.set(record.key, record);
  }
}
