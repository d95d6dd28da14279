// A training session in the worker: the model being trained, its trainer and data, and the loop that runs
// it — metrics out as they come, accuracy at each epoch end, a checkpoint every N steps and on pause and
// stop, the final evaluation — with one wait for Resume, whether the user paused or training diverged.
import { FeatureHeadModel } from '../clora/feature-head';
import { createFineTuneModel, initialTensors, trainableParameterCount, type FineTuneModel } from '../clora/model';
import { SettingsError, validateAdapterSettings } from '../clora/settings';
import { DatasetError, type Dataset } from '../data/dataset';
import { sampleNoun } from '../data/sample-kind';
import { featureWidth } from '../nn/backbone';
import { evaluate, evaluatedSamples } from '../train/evaluate';
import { featureDataset } from '../train/features';
import { datasetLogits } from '../train/predict';
import { Rng } from '../train/rng';
import { Trainer, TrainingDiverged } from '../train/trainer';
import { requireBackbone } from './backbone';
import { device } from './device';
import { errorKind } from './errors';
import { cachedFeatures } from './feature-cache';
import { gpuUsage } from './gpu-usage';
import { heldModel, heldSession, hold, release } from './model-slot';
import { isPackedClouds, transferablesOf, type AccuracyPoint, type ErrorKind, type ReplyValue, type RunState, type TrainStart } from './protocol';
import { emit, messageOf } from './scope';
import { kindMismatch, unpack } from './training-data';

/** Training samples scored for the "train accuracy" curve at each epoch end. */
const TRAIN_ACCURACY_SAMPLES = 128;

type CheckpointReason = 'interval' | 'pause' | 'stop' | 'done';

/** The head of the model in the slot (a quick run's), to start a fine-tuning run from: --init for the head. */
async function heldHead(classes: string[]): Promise<Map<string, Float32Array>> {
  const held = heldModel();
  if (!held || held.source === 'backbone head') throw new SettingsError('There is no trained head to start from: run quick mode (or use a saved checkpoint) first.');
  const from = held.model.parts.classes;
  if (from.length !== classes.length || from.some((c, i) => c !== classes[i])) {
    throw new SettingsError(`The head to start from was trained on other classes (${from.join(', ')}); the data set now has ${classes.join(', ')}. Run quick mode again first.`);
  }
  const all = await held.model.parts.trainable.readAll();
  return new Map([
    ['head.weight', all.get('head.weight')!],
    ['head.bias', all.get('head.bias')!],
  ]);
}

export class TrainingSession {
  state: RunState = 'training';
  readonly accuracy: AccuracyPoint[];
  /** Set by end(): the slot let go of this session (a new model, a new backbone, a lost device). */
  private ended = false;
  /** A pause the user asked for (the trainer also pauses briefly at checkpoint steps and epoch ends). */
  private userPause = false;
  private wake: (() => void) | undefined;
  private lastSavedStep: number;

  private constructor(
    readonly runId: string,
    readonly model: FineTuneModel,
    readonly trainer: Trainer,
    readonly train: Dataset,
    readonly validation: Dataset | undefined,
    private readonly checkpointEvery: number,
    resume: TrainStart['resume'],
  ) {
    this.accuracy = resume ? [...resume.accuracy] : [];
    this.lastSavedStep = resume ? trainer.currentStep : -1;
  }

  /**
   * Builds the run's model and trainer (from the method's initialisation, a checkpoint, or the held model's
   * head), puts them in the slot and starts the loop. A quick run trains the head on cached features.
   */
  static async start(start: TrainStart): Promise<ReplyValue['train']> {
    const b = requireBackbone();
    if (heldSession()?.state === 'training') throw new SettingsError('A run is already training: pause or stop it first.');
    const { adapter, train: trainOptions, checkpointEvery, quick } = start.settings;
    validateAdapterSettings(adapter);
    if (quick && adapter.method !== 'head') throw new SettingsError(`Quick mode trains the head only (method "head"), not "${adapter.method}".`);
    if (!Number.isInteger(checkpointEvery) || checkpointEvery < 1) throw new SettingsError(`Checkpoints every ${checkpointEvery} steps: use a whole number ≥ 1.`);
    const samples = start.samples;
    const noun = sampleNoun(isPackedClouds(samples) ? 'points' : 'images');
    if (samples.classes.length < 2) throw new DatasetError(`Training needs at least two classes with ${noun} (there ${samples.classes.length === 1 ? 'is one' : 'are none'}).`);
    const trainIdx: number[] = [];
    const valIdx: number[] = [];
    for (let i = 0; i < samples.count; i++) (samples.validation[i] ? valIdx : trainIdx).push(i);
    if (trainIdx.length === 0) throw new DatasetError(`Every sample is in the validation split: lower the validation share or add ${noun}.`);
    const mismatch = kindMismatch(samples);
    if (mismatch) throw mismatch;
    const cfg = b.meta.cfg;
    const resume = start.resume;
    const initial = resume ? resume.state.trainable : initialTensors(cfg, adapter, samples.classes.length, new Rng(trainOptions.seed ^ 0x5eed));
    if (!resume && start.initHeadFromHeld) for (const [name, data] of await heldHead(samples.classes)) initial.set(name, data);
    release();
    const gpu = await device();
    let model = await createFineTuneModel(gpu, cfg, adapter, samples.classes, b.read, initial);
    let trainData: Dataset;
    let validation: Dataset | undefined;
    try {
      if (quick) {
        model = new FeatureHeadModel(model.parts);
        const { features } = await cachedFeatures(model, b.info.spec, samples, (done, total, cached) => emit({ kind: 'features', runId: start.runId, done, total, cached }));
        const split = (pick: number[]): Dataset => {
          const width = featureWidth(cfg);
          const rows = new Float32Array(pick.length * width);
          pick.forEach((index, k) => rows.set(features.subarray(index * width, (index + 1) * width), k * width));
          return featureDataset(rows, width, Int32Array.from(pick, (index) => samples.labels[index]!), samples.classes);
        };
        trainData = split(trainIdx);
        validation = valIdx.length ? split(valIdx) : undefined;
      } else {
        trainData = await unpack(samples, trainIdx);
        validation = valIdx.length ? await unpack(samples, valIdx) : undefined;
      }
    } catch (error) {
      model.dispose();
      throw error;
    }
    const batchSize = Math.min(trainOptions.batchSize, trainData.count);
    const stepsPerEpoch = Math.ceil(trainData.count / batchSize);
    // Metrics come back a few times per epoch; reads never happen inside a step.
    const logEvery = Math.max(1, Math.min(trainOptions.logEvery, checkpointEvery, Math.ceil(stepsPerEpoch / 4)));
    const options = { ...trainOptions, batchSize, logEvery };
    let trainer: Trainer;
    try {
      trainer = await Trainer.create(model, trainData, options);
      if (resume) trainer.loadState({ ...resume.state, history: [...resume.state.history] });
    } catch (error) {
      model.dispose();
      throw error;
    }
    const session = new TrainingSession(start.runId, model, trainer, trainData, validation, checkpointEvery, resume);
    hold(model, 'trained', start.label, session);
    void session.loop();
    return {
      totalSteps: trainer.totalSteps,
      stepsPerEpoch: trainer.stepsPerEpoch,
      trainableParameters: trainableParameterCount(cfg, adapter, samples.classes.length),
      trainCount: trainData.count,
      validationCount: validation?.count ?? 0,
    };
  }

  pause(): void {
    if (this.state !== 'training') return;
    this.userPause = true;
    this.trainer.pause();
  }

  resume(): void {
    if (this.state !== 'paused' || !this.wake) throw new SettingsError('Nothing is paused in this tab: resume from a checkpoint instead.');
    this.wake();
  }

  stop(): void {
    if (this.state !== 'training' && this.state !== 'paused') return;
    this.trainer.stop();
    this.userPause = false;
    this.wake?.();
  }

  /** The slot let go of this session: the loop returns at its next turn (a paused one is woken to see it). */
  end(): void {
    this.ended = true;
    this.trainer.stop();
    this.wake?.();
  }

  private setState(state: RunState, message?: string, kind?: ErrorKind): void {
    this.state = state;
    emit({ kind: 'runState', runId: this.runId, state, step: this.trainer.currentStep, totalSteps: this.trainer.totalSteps, message, errorKind: kind });
  }

  /** Waits, paused, for Resume or Stop; false when the session ended meanwhile. */
  private async waitForResume(message?: string, kind?: ErrorKind): Promise<boolean> {
    this.setState('paused', message, kind);
    await new Promise<void>((resolve) => (this.wake = resolve));
    this.wake = undefined;
    if (this.ended) return false;
    this.userPause = false;
    this.setState('training');
    return true;
  }

  /** Steps after which the run stops briefly, on the step itself: a checkpoint is due, or an epoch ended. */
  private isCheckpointStep(step: number): boolean {
    return step % this.checkpointEvery === 0 && step < this.trainer.totalSteps;
  }

  private isEpochEnd(step: number): boolean {
    return step % this.trainer.stepsPerEpoch === 0 && step < this.trainer.totalSteps;
  }

  private async loop(): Promise<void> {
    this.setState('training');
    for (;;) {
      try {
        const result = await this.trainer.run(
          (metrics) => emit({ kind: 'metrics', runId: this.runId, metrics, gpu: gpuUsage(this.model.ctx) }),
          (step) => this.isCheckpointStep(step) || this.isEpochEnd(step),
        );
        if (this.ended) return;
        const step = this.trainer.currentStep;
        if (result !== 'stopped' && this.isEpochEnd(step) && this.accuracy.at(-1)?.step !== step) await this.epochEvaluation();
        if (result !== 'stopped' && this.isCheckpointStep(step) && this.lastSavedStep !== step) await this.saveCheckpoint('interval');
        if (result === 'paused' && !this.userPause) continue;
        if (result === 'paused') {
          if (this.lastSavedStep !== this.trainer.currentStep) await this.saveCheckpoint('pause');
          if (await this.waitForResume()) continue;
          return;
        }
        await this.finalEvaluation();
        await this.saveCheckpoint(result === 'done' ? 'done' : 'stop');
        this.setState(result === 'done' ? 'done' : 'stopped');
        return;
      } catch (error) {
        if (this.ended) return;
        const kind = errorKind(error);
        // The trainer restored the last good state: keep the session, paused, so a lower rate can be tried.
        if (error instanceof TrainingDiverged) {
          if (await this.waitForResume(error.message, kind)) continue;
          return;
        }
        this.setState('failed', messageOf(error), kind);
        if (kind === 'deviceLost' && heldSession() === this) release({ deviceLost: true });
        return;
      }
    }
  }

  private async accuracyOf(data: Dataset, indices?: number[]): Promise<number> {
    const { logits, labels } = await datasetLogits(this.model, data, indices);
    return evaluate(logits, labels, this.model.parts.classes).accuracy;
  }

  private async epochEvaluation(): Promise<void> {
    const step = this.trainer.currentStep;
    if (this.accuracy.at(-1)?.step === step) return;
    const n = Math.min(TRAIN_ACCURACY_SAMPLES, this.train.count);
    // A fixed, evenly spread subset of the training samples, so the curve compares like with like.
    const subset = Array.from({ length: n }, (_, k) => Math.floor((k * this.train.count) / n));
    const point: AccuracyPoint = {
      step,
      epoch: step / this.trainer.stepsPerEpoch,
      train: await this.accuracyOf(this.train, subset),
      validation: this.validation ? await this.accuracyOf(this.validation) : undefined,
    };
    this.accuracy.push(point);
    emit({ kind: 'accuracy', runId: this.runId, point });
  }

  private async finalEvaluation(): Promise<void> {
    await this.epochEvaluation();
    const on = this.validation ? 'validation' : 'training';
    const { logits, labels } = await datasetLogits(this.model, this.validation ?? this.train);
    const classes = this.model.parts.classes;
    // Each sample's top predictions too, so the page can show the images in every cell of the matrix.
    emit({ kind: 'evaluation', runId: this.runId, evaluation: evaluate(logits, labels, classes), on, samples: evaluatedSamples(logits, labels, classes) });
  }

  private async saveCheckpoint(reason: CheckpointReason): Promise<void> {
    const state = await this.trainer.state();
    this.lastSavedStep = state.step;
    emit({ kind: 'checkpoint', runId: this.runId, reason, state, accuracy: [...this.accuracy] }, transferablesOf([...state.trainable.values(), state.optimizer.m, state.optimizer.v]));
  }
}
