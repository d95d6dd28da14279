// One run of the study, in-process on the engine: the same steps as `npm run clora -- train` (the method's
// initialisation from the seed, the fine-tuning model, the Trainer) followed by `eval` (logits in inference
// mode, top-1 accuracy), on one GPU context shared by every run.
import { createFineTuneModel, initialTensors } from '../../src/clora/model';
import type { AdapterSettings } from '../../src/clora/settings';
import type { Backbone } from '../../src/cli/model-source';
import { inputPixels, type Dataset } from '../../src/data/dataset';
import type { GpuContext } from '../../src/gpu/context';
import { evaluate } from '../../src/train/evaluate';
import { predictLogits } from '../../src/train/predict';
import { Rng } from '../../src/train/rng';
import { Trainer, TrainingDiverged, type TrainOptions } from '../../src/train/trainer';

/** Images per inference pass while scoring. */
const EVAL_CHUNK = 250;

export interface RunInput {
  settings: AdapterSettings;
  options: TrainOptions;
  train: Dataset;
  /** What the run is scored on: the validation split (tuning) or the test set. */
  evaluation: Dataset;
}

export type RunOutcome = { accuracy: number; trainable: number; seconds: number } | { diverged: string; trainable: number; seconds: number };

export async function trainAndEvaluate(ctx: GpuContext, backbone: Backbone, input: RunInput): Promise<RunOutcome> {
  const { settings, options, train, evaluation } = input;
  const started = performance.now();
  const classes = train.classes;
  // The seed the command line derives the method's initial tensors from (src/cli/main.ts, train).
  const start = initialTensors(backbone.cfg, settings, classes.length, new Rng(options.seed ^ 0x5eed));
  const model = await createFineTuneModel(ctx, backbone.cfg, settings, classes, backbone.read, start);
  const trainable = model.parts.trainable.trainableParameterCount;
  let trainer: Trainer | undefined;
  try {
    trainer = await Trainer.create(model, train, options);
    try {
      await trainer.run();
    } catch (error) {
      if (error instanceof TrainingDiverged) return { diverged: error.message, trainable, seconds: (performance.now() - started) / 1000 };
      throw error;
    }
    const logits = await predictLogits(model, inputPixels(evaluation), evaluation.count, evaluation.sampleShape, EVAL_CHUNK);
    const { accuracy } = evaluate(logits, evaluation.labels, classes);
    return { accuracy, trainable, seconds: (performance.now() - started) / 1000 };
  } finally {
    trainer?.dispose();
    model.dispose();
    ctx.pool.trim();
  }
}
