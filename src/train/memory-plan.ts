// How a training step is cut to fit GPU memory: the micro-batch and whether to recompute activations, chosen
// from steps recorded without running them (GpuContext.dryRun). The trainer supplies the measurement.

/** 2 GiB: what a discrete or a recent integrated GPU gives one tab without trouble. */
export const DEFAULT_MEMORY_BUDGET = 2 * 1024 ** 3;

/** Below this many samples per micro-batch a GPU is underfed: recomputing activations is preferred then. */
const MIN_EFFICIENT_MICRO_BATCH = 8;

/** One configuration the memory plan measured. */
export interface MemoryTrial {
  microBatchSize: number;
  recompute: boolean;
  /** Peak GPU bytes of one step (weights, gradients and optimizer state included), recorded and not run. */
  peakBytes: number;
  largestBufferBytes: number;
  fits: boolean;
}

/** How a step is cut to fit the memory budget, and what that costs. */
export interface MemoryPlan {
  microBatchSize: number;
  recompute: boolean;
  /** Peak GPU bytes of one step with this plan (recorded and not run). */
  plannedPeakBytes: number;
  budgetBytes: number;
  /** Bytes every step holds whatever the batch: weights, gradients, optimizer state. */
  fixedBytes: number;
  /** Activation bytes per sample, from recorded steps at micro-batches 1 and 2, without and with recompute. */
  bytesPerSample: { keep: number; recompute: number };
  /** Whether the plan fits the budget and the device's buffer limits (if not, the smallest plan is used). */
  fits: boolean;
  /** Every configuration measured, in the order tried. */
  tried: MemoryTrial[];
}

export interface MemoryPlanRequest {
  batchSize: number;
  /** Bytes one step may hold (default DEFAULT_MEMORY_BUDGET). */
  budgetBytes?: number;
  /** A micro-batch fixed by the user: only recomputation is decided then. */
  microBatchSize?: number;
  /** Activation checkpointing forced on or off, or 'auto' (undefined: auto). */
  recompute?: boolean | 'auto';
}

/** What recording one step (forward, backward, update) without running it tells about its memory. */
export interface StepFootprint {
  peakBytes: number;
  largestBufferBytes: number;
  /** Some buffer would be over the device's binding or buffer size limit. */
  overLimit: boolean;
}

/** Records one step of `microBatchSize` samples, recomputing activations or not, and reports its footprint. */
export type MeasureStep = (microBatchSize: number, recompute: boolean) => StepFootprint;

/** Sizes from `from` down by halving (rounding up) to `floor`, both included. */
function halvings(from: number, floor: number): number[] {
  const sizes: number[] = [];
  for (let m = from; m >= floor; m = m === floor ? 0 : Math.max(floor, Math.ceil(m / 2))) sizes.push(m);
  return sizes;
}

/**
 * Chooses the micro-batch and activation checkpointing so that one step fits the budget and the device's
 * buffer limits: the whole batch at once if it fits; else the largest micro-batch (halving, not below 8) that
 * fits keeping activations; else recomputing each block's activations during the backward pass, at the
 * largest micro-batch that fits. Each candidate is measured once by `measure`. A micro-batch size given in the
 * request is kept; only recomputation is decided then.
 */
export function planMemory(request: MemoryPlanRequest, measureStep: MeasureStep): MemoryPlan {
  const budget = request.budgetBytes ?? DEFAULT_MEMORY_BUDGET;
  const tried: MemoryTrial[] = [];
  const measure = (micro: number, recompute: boolean): MemoryTrial => {
    const hit = tried.find((t) => t.microBatchSize === micro && t.recompute === recompute);
    if (hit) return hit;
    const run = measureStep(micro, recompute);
    const trial = { microBatchSize: micro, recompute, peakBytes: run.peakBytes, largestBufferBytes: run.largestBufferBytes, fits: !run.overLimit && run.peakBytes <= budget };
    tried.push(trial);
    return trial;
  };
  const batch = request.batchSize;
  const one = measure(1, false);
  const two = measure(Math.min(2, batch), false);
  const oneR = measure(1, true);
  const twoR = measure(Math.min(2, batch), true);
  const perSample = (a: MemoryTrial, b: MemoryTrial): number => (b.microBatchSize > a.microBatchSize ? (b.peakBytes - a.peakBytes) / (b.microBatchSize - a.microBatchSize) : a.peakBytes);
  const bytesPerSample = { keep: perSample(one, two), recompute: perSample(oneR, twoR) };
  const fixedBytes = Math.max(0, one.peakBytes - bytesPerSample.keep);

  let candidates: { micro: number; recompute: boolean }[];
  const forced = request.recompute === 'auto' || request.recompute === undefined ? undefined : request.recompute;
  if (request.microBatchSize !== undefined) {
    const m = Math.min(request.microBatchSize, batch);
    candidates = forced === undefined ? [{ micro: m, recompute: false }, { micro: m, recompute: true }] : [{ micro: m, recompute: forced }];
  } else {
    const keep = halvings(batch, Math.min(batch, MIN_EFFICIENT_MICRO_BATCH)).map((micro) => ({ micro, recompute: false }));
    const recompute = halvings(batch, 1).map((micro) => ({ micro, recompute: true }));
    candidates = forced === undefined ? [...keep, ...recompute] : forced ? recompute : halvings(batch, 1).map((micro) => ({ micro, recompute: false }));
  }
  let chosen: MemoryTrial | undefined;
  for (const c of candidates) {
    const trial = measure(c.micro, c.recompute);
    if (trial.fits) {
      chosen = trial;
      break;
    }
  }
  const fallback = measure(candidates.at(-1)!.micro, candidates.at(-1)!.recompute);
  const pick = chosen ?? fallback;
  return {
    microBatchSize: pick.microBatchSize,
    recompute: pick.recompute,
    plannedPeakBytes: pick.peakBytes,
    budgetBytes: budget,
    fixedBytes,
    bytesPerSample,
    fits: chosen !== undefined,
    tried,
  };
}
