// The study itself: for every task and row, choose the learning rate (and the SADE weight) on the validation
// split, then train with that choice once per seed and score on the test set. Every run is looked up in the
// run log first and recorded there when it finishes, so a stopped study resumes where it was.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { openBackbone, type Backbone } from '../../src/cli/model-source';
import { inferenceFlops, trainingFlopsPerSample } from '../../src/clora/flops';
import { trainableParameterCount } from '../../src/clora/model';
import { inputPixels, type Dataset } from '../../src/data/dataset';
import { adapterName, type GpuContext } from '../../src/gpu/context';
import type { TrainOptions } from '../../src/train/trainer';
import { BASELINE_METHOD, selectMethods, type Family, type StudyMethod } from './methods';
import type { StudyOptions } from './options';
import { RunLog, runKey, type RunRecord } from './records';
import { trainAndEvaluate } from './runner';
import { carveValidation, testSample, trainingSample } from './splits';
import { mean, pairedComparison, sampleStd, type PairedComparison } from './statistics';
import { selectTasks, type StudyTask, type TaskPools } from './tasks';

/** Bumped when the protocol changes in a way the run keys do not capture, so old records are not reused. */
export const STUDY_PROTOCOL = 1;

export interface TuningPoint {
  lr: number;
  sadeWeight: number;
  /** Mean validation accuracy over the tuning seeds; null when a run diverged. */
  valAccuracy: number | null;
}

export interface RowSummary {
  method: string;
  family: Family;
  label: string;
  tag: string;
  trainable: number;
  /** Training FLOPs per sample (src/clora/flops.ts) at the study's batch size, with the chosen SADE weight. */
  trainingFlops: number;
  /** Every grid point's validation score; empty when the grid had one point (taken untuned). */
  tuning: TuningPoint[];
  chosen: TuningPoint & { atGridEdge: boolean };
  seeds: number[];
  /** Test accuracy per seed (null: diverged). */
  accuracies: (number | null)[];
  mean: number;
  std: number;
  /** Seed-by-seed comparison with LoRA r8 (CLoRA rows, when both ran). */
  vsBaseline?: PairedComparison;
}

export interface TaskSummary {
  id: string;
  title: string;
  about: string;
  backbone: { path: string; kind: string; sha256: string; parameters: number; depth: number; width: number };
  classes: number;
  /** FLOPs of one sample's inference after merging (src/clora/flops.ts): the same for every method. */
  inferenceFlops: number;
  /** Training samples (images or point clouds) per seed. */
  trainImages: number;
  fitImages: number;
  validationImages: number;
  testImages: number;
  rows: RowSummary[];
  seconds: number;
}

export interface StudyResult {
  protocol: number;
  adapter: string;
  options: StudyOptions;
  budget: { optimizer: string; epochs: number; batchSize: number; warmup: number; weightDecay: number; schedule: string };
  tasks: TaskSummary[];
  runs: RunRecord[];
  ranRuns: number;
  reusedRuns: number;
  seconds: number;
}

type Log = (line: string) => void;

function sha256(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

/** The learning rates (× SADE weights) a row is tuned over, in grid order. */
function gridOf(method: StudyMethod, o: StudyOptions): { lr: number; sadeWeight: number }[] {
  const sade = method.tuneSade ? o.sadeGrid : [method.settings.sadeWeight];
  return o.lrGrid[method.family].flatMap((lr) => sade.map((sadeWeight) => ({ lr, sadeWeight })));
}

/** The validation runs a row's grid needs: none for a grid of one point, which is taken as it is. */
function tuningRuns(method: StudyMethod, o: StudyOptions): number {
  const points = gridOf(method, o).length;
  return points > 1 ? points * o.tuneSeeds : 0;
}

/** Runs a study counts before it starts (for progress lines). */
function plannedRuns(methods: StudyMethod[], o: StudyOptions): number {
  return methods.reduce((n, m) => n + tuningRuns(m, o) + o.seeds, 0);
}

function trainOptions(o: StudyOptions, lr: number, seed: number): TrainOptions {
  return { optimizer: 'adamw', lr, weightDecay: o.weightDecay, epochs: o.epochs, batchSize: o.batchSize, warmup: o.warmup, labelSmoothing: 0, seed, shuffle: true, logEvery: 50 };
}

/** Test data once per task, as f32 model input (each run would otherwise normalise the whole set again). */
function asModelInput(data: Dataset): Dataset {
  return { ...data, inputs: inputPixels(data), normalize: undefined };
}

class TaskRunner {
  private done = 0;

  constructor(
    private readonly ctx: GpuContext,
    private readonly log: Log,
    private readonly runs: RunLog,
    private readonly o: StudyOptions,
    private readonly total: number,
    private readonly counters: { ran: number; reused: number; records: RunRecord[] },
  ) {}

  async runTask(task: StudyTask, methods: StudyMethod[], progressStart: number): Promise<{ summary: TaskSummary; finished: number }> {
    const started = performance.now();
    const o = this.o;
    this.done = progressStart;
    const path = await task.backbone(this.log, o);
    const backboneHash = sha256(path);
    const backbone = await openBackbone(path);
    try {
      const pools = await task.load(backbone);
      const valPerClass = o.valPerClass ?? task.valPerClass ?? Math.max(1, Math.round(o.trainPerClass / 5));
      const test = asModelInput(pools.dataset('test', testSample(pools.labels.test, o.testLimit)));
      const samples = Array.from({ length: o.seeds }, (_, seed) => trainingSample(pools.labels.train, o.trainPerClass, seed));
      const splits = samples.slice(0, o.tuneSeeds).map((sample) => carveValidation(pools.labels.train, sample, valPerClass));
      const context = { task, backbone, backboneHash, pools, valPerClass };
      const rows: RowSummary[] = [];
      for (const method of methods) {
        const grid = gridOf(method, o);
        const tuning: TuningPoint[] = [];
        if (tuningRuns(method, o) > 0) for (const point of grid) {
          const scores: (number | null)[] = [];
          for (let seed = 0; seed < o.tuneSeeds; seed++) {
            const split = splits[seed]!;
            const record = await this.run(context, method, point, seed, 'tune', pools.dataset('train', split.fit), asModelInput(pools.dataset('train', split.validation)));
            scores.push(record.accuracy);
          }
          tuning.push({ ...point, valAccuracy: scores.some((s) => s === null) ? null : mean(scores as number[]) });
        }
        const chosen = tuning.length ? choose(tuning, o.lrGrid[method.family]) : { ...grid[0]!, valAccuracy: null, atGridEdge: false };
        const accuracies: (number | null)[] = [];
        for (let seed = 0; seed < o.seeds; seed++) {
          const record = await this.run(context, method, chosen, seed, 'test', pools.dataset('train', samples[seed]!), test);
          accuracies.push(record.accuracy);
        }
        const finished = accuracies.filter((a): a is number => a !== null);
        rows.push({
          method: method.id,
          family: method.family,
          label: method.label,
          tag: method.tag,
          trainable: trainableParameterCount(backbone.cfg, method.settings, pools.classes.length),
          trainingFlops: trainingFlopsPerSample(backbone.cfg, { ...method.settings, sadeWeight: chosen.sadeWeight }, pools.classes.length, o.batchSize),
          tuning,
          chosen,
          seeds: Array.from({ length: o.seeds }, (_, s) => s),
          accuracies,
          mean: mean(finished),
          std: sampleStd(finished),
        });
      }
      compareWithBaseline(rows);
      const fit = splits[0]?.fit.length ?? 0;
      return {
        summary: {
          id: task.id,
          title: task.title,
          about: task.about,
          backbone: { path, kind: backbone.kind, sha256: backboneHash, parameters: backbone.parameters, depth: backbone.cfg.depth, width: backbone.cfg.dim },
          classes: pools.classes.length,
          inferenceFlops: inferenceFlops(backbone.cfg, pools.classes.length),
          trainImages: samples[0]!.length,
          fitImages: fit,
          validationImages: (splits[0]?.validation.length ?? 0),
          testImages: test.count,
          rows,
          seconds: (performance.now() - started) / 1000,
        },
        finished: this.done,
      };
    } finally {
      await backbone.close();
    }
  }

  private async run(
    context: { task: StudyTask; backbone: Backbone; backboneHash: string; pools: TaskPools; valPerClass: number },
    method: StudyMethod,
    point: { lr: number; sadeWeight: number },
    seed: number,
    phase: 'tune' | 'test',
    train: Dataset,
    evaluation: Dataset,
  ): Promise<RunRecord> {
    const o = this.o;
    const settings = { ...method.settings, sadeWeight: point.sadeWeight };
    const options = trainOptions(o, point.lr, seed);
    const { logEvery: _, ...budget } = options;
    const key = runKey({
      protocol: STUDY_PROTOCOL,
      task: context.task.id,
      backbone: context.backboneHash,
      phase,
      settings,
      budget,
      trainPerClass: o.trainPerClass,
      valPerClass: phase === 'tune' ? context.valPerClass : undefined,
      testLimit: phase === 'test' ? (o.testLimit ?? null) : undefined,
    });
    this.done++;
    const where = `[${this.done}/${this.total}] ${context.task.id} ${phase} ${method.id} lr ${point.lr}${method.tuneSade ? ` SADE ${point.sadeWeight}` : ''} seed ${seed}`;
    const known = this.runs.get(key);
    if (known) {
      this.counters.reused++;
      this.counters.records.push(known);
      this.log(`${where}: ${describe(known)} (recorded)`);
      return known;
    }
    const outcome = await trainAndEvaluate(this.ctx, context.backbone, { settings, options, train, evaluation });
    const record: RunRecord = {
      key,
      phase,
      task: context.task.id,
      method: method.id,
      lr: point.lr,
      sadeWeight: point.sadeWeight,
      seed,
      accuracy: 'accuracy' in outcome ? outcome.accuracy : null,
      ...('diverged' in outcome ? { diverged: outcome.diverged } : {}),
      trainable: outcome.trainable,
      trainImages: train.count,
      evalImages: evaluation.count,
      seconds: Math.round(outcome.seconds * 10) / 10,
      finished: new Date().toISOString(),
    };
    this.runs.add(record);
    this.counters.ran++;
    this.counters.records.push(record);
    this.log(`${where}: ${describe(record)} (${record.seconds.toFixed(0)} s)`);
    return record;
  }
}

function describe(r: RunRecord): string {
  return r.accuracy === null ? 'diverged' : `${r.phase === 'tune' ? 'validation' : 'test'} ${(100 * r.accuracy).toFixed(2)}%`;
}

/** The grid point with the best validation accuracy (the first of equals); diverged points never win. */
function choose(tuning: TuningPoint[], lrGrid: number[]): RowSummary['chosen'] {
  let best = tuning[0]!;
  for (const t of tuning) if ((t.valAccuracy ?? -1) > (best.valAccuracy ?? -1)) best = t;
  const atGridEdge = lrGrid.length > 1 && (best.lr === Math.min(...lrGrid) || best.lr === Math.max(...lrGrid));
  return { ...best, atGridEdge };
}

/** CLoRA rows against LoRA r8, seed by seed (both saw the same training images for each seed). */
function compareWithBaseline(rows: RowSummary[]): void {
  const baseline = rows.find((r) => r.method === BASELINE_METHOD);
  if (!baseline) return;
  const values = (r: RowSummary): (number | undefined)[] => r.accuracies.map((a) => a ?? undefined);
  for (const row of rows) {
    if (row.family !== 'clora' && row.family !== 'clora-sade') continue;
    row.vsBaseline = pairedComparison(values(row), values(baseline));
  }
}

export async function runStudy(ctx: GpuContext, o: StudyOptions, log: Log): Promise<StudyResult> {
  const started = performance.now();
  const tasks = selectTasks(o.tasks, o);
  const methods = selectMethods(o.only);
  const perTask = plannedRuns(methods, o);
  const total = perTask * tasks.length;
  const runs = new RunLog(join(o.outDir, 'accuracy-runs.jsonl'));
  log(`${tasks.length} task(s) × ${methods.length} row(s): ${total} runs (${runs.size} already recorded in ${runs.path})`);
  const counters = { ran: 0, reused: 0, records: [] as RunRecord[] };
  const runner = new TaskRunner(ctx, log, runs, o, total, counters);
  const summaries: TaskSummary[] = [];
  let done = 0;
  for (const task of tasks) {
    const { summary, finished } = await runner.runTask(task, methods, done);
    summaries.push(summary);
    done = finished;
  }
  return {
    protocol: STUDY_PROTOCOL,
    adapter: adapterName(ctx.adapter),
    options: o,
    budget: { optimizer: 'adamw', epochs: o.epochs, batchSize: o.batchSize, warmup: o.warmup, weightDecay: o.weightDecay, schedule: o.warmup > 0 ? `${o.warmup} warm-up steps, then cosine to 0` : 'constant' },
    tasks: summaries,
    runs: counters.records,
    ranRuns: counters.ran,
    reusedRuns: counters.reused,
    seconds: (performance.now() - started) / 1000,
  };
}
