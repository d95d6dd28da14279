// The training batches: each epoch's order (shuffled by the run's RNG), batches that do not straddle epochs,
// augmentation and each micro-batch's dropout seed, gathered on the CPU and uploaded to the GPU. The next
// step's batch can be drawn ahead (prefetch): right after a step is submitted, so the CPU gathers and the
// upload is queued while the GPU works on that step, and the next step is recorded without waiting for data.
import { Tensor } from '../autodiff/tensor';
import { augmentInto } from '../data/augment';
import { gatherBatch, sampleSize, type Dataset } from '../data/dataset';
import { augmentPointsInto, type PointAugmentOptions } from '../data/points/augment';
import type { GpuContext } from '../gpu/context';
import { Rng } from './rng';

/** One micro-batch on the GPU, and the seed of its dropout masks. */
export interface MicroBatch {
  x: Tensor;
  y: Tensor;
  seed: number;
}

/** One optimizer step's inputs: its micro-batches (their sizes add up to `size`). */
export interface StepBatch {
  size: number;
  micro: MicroBatch[];
}

/** Where the sampler stands: what a checkpoint keeps to continue the same sequence of batches. */
export interface SamplerState {
  rngState: number;
  /** Order of the current epoch's samples, and how far into it the run is. */
  order: number[];
  cursor: number;
}

export interface ImageAugment {
  flip: boolean;
  randomResizedCrop: boolean;
}

export interface SamplerOptions {
  batchSize: number;
  shuffle: boolean;
  seed: number;
  /** Images: random resized crop, horizontal flip; point clouds: Point-MAE's transforms (src/data/points/augment.ts). */
  augment?: ImageAugment | PointAugmentOptions;
}

/** Copies the samples `indices` into a batch (augmented as `augment` says) and their labels. */
function gatherTrainingBatch(data: Dataset, indices: readonly number[], inputs: Float32Array, labels: Float32Array, rng: Rng, augment: SamplerOptions['augment']): void {
  if (augment && 'scaleAndTranslate' in augment) {
    if (augment.scaleAndTranslate || augment.rotate || augment.jitter) return augmentPointsInto(data, indices, inputs, labels, rng, augment);
  } else if (augment && (augment.flip || augment.randomResizedCrop)) return augmentInto(data, indices, inputs, labels, rng, augment);
  gatherBatch(data, indices, inputs, labels);
}

export class BatchSampler {
  private rng: Rng;
  private order: number[] = [];
  private cursor = 0;
  /** The next step's batch, drawn ahead, with the state from before it was drawn. */
  private ahead: { batch: StepBatch; microSize: number; before: SamplerState } | undefined;

  constructor(
    private readonly ctx: GpuContext,
    private readonly data: Dataset,
    private readonly options: SamplerOptions,
  ) {
    this.rng = new Rng(options.seed);
    this.newEpoch();
  }

  /** The state before any batch drawn ahead: the next step still takes that batch after a reload. */
  get state(): SamplerState {
    return this.ahead?.before ?? { rngState: this.rng.state, order: [...this.order], cursor: this.cursor };
  }

  load(state: SamplerState): void {
    this.dropAhead();
    this.rng = new Rng(state.rngState);
    this.order = [...state.order];
    this.cursor = state.cursor;
  }

  /** The next step's batch in micro-batches of `microSize`: the one drawn ahead, or drawn now. */
  take(microSize: number): StepBatch {
    const ahead = this.ahead;
    this.ahead = undefined;
    if (ahead && ahead.microSize === microSize) return ahead.batch;
    if (ahead) {
      // Cut differently than it was drawn: draw it again from the same state (same samples, seeds, crops).
      this.disposeBatch(ahead.batch);
      this.load(ahead.before);
    }
    return this.draw(microSize);
  }

  /** Draws the next step's batch now and uploads it (call right after submitting a step). */
  prefetch(microSize: number): void {
    if (this.ahead) return;
    const before = this.state;
    this.ahead = { batch: this.draw(microSize), microSize, before };
  }

  dispose(): void {
    this.dropAhead();
  }

  private dropAhead(): void {
    if (this.ahead) this.disposeBatch(this.ahead.batch);
    this.ahead = undefined;
  }

  private disposeBatch(batch: StepBatch): void {
    for (const m of batch.micro) {
      m.x.dispose();
      m.y.dispose();
    }
  }

  private newEpoch(): void {
    this.order = Array.from({ length: this.data.count }, (_, i) => i);
    if (this.options.shuffle) this.rng.shuffle(this.order);
    this.cursor = 0;
  }

  /** The next batch's sample indices; batches do not straddle epochs (the last one may be smaller). */
  private nextIndices(): number[] {
    if (this.cursor >= this.order.length) this.newEpoch();
    const batch = this.order.slice(this.cursor, this.cursor + this.options.batchSize);
    this.cursor += batch.length;
    return batch;
  }

  private draw(microSize: number): StepBatch {
    const { data, options, ctx } = this;
    const indices = this.nextIndices();
    const per = sampleSize(data);
    const micro: MicroBatch[] = [];
    for (let start = 0; start < indices.length; start += microSize) {
      const part = indices.slice(start, start + microSize);
      const pixels = new Float32Array(part.length * per);
      const labels = new Float32Array(part.length);
      gatherTrainingBatch(data, part, pixels, labels, this.rng, options.augment);
      // Same RNG order as drawing each micro-batch's dropout seed just before its forward pass.
      const seed = this.rng.fork();
      micro.push({ x: Tensor.fromData(ctx, [part.length, ...data.sampleShape], pixels), y: Tensor.fromData(ctx, [part.length], labels), seed });
    }
    return { size: indices.length, micro };
  }
}
