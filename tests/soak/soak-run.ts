// The Node soak, run as a child process with --expose-gc (tests/soak/soak.test.ts starts it; run it by hand
// for longer: `node --import tsx --expose-gc tests/soak/soak-run.ts --seconds 1800`). Trains the tiny ViT
// with CLoRA for many epochs the way a long web-app session does — each epoch ends with a checkpoint read
// (trainer.state()) and a validation pass — and samples, at every epoch end, what must stay flat once warm:
// the pool's bytes and allocations, the GPU buffers alive (every createBuffer and destroy of the device is
// counted), the compiled pipelines, the JS heap after a full collection, and the process's resident memory
// (lavapipe keeps GPU memory in the process). Prints one JSON line.
import { parseArgs } from 'node:util';
import { deserialize, getHeapSpaceStatistics, serialize } from 'node:v8';
import { createNodeGpuContext } from '../../src/gpu/node';
import { evaluate } from '../../src/train/evaluate';
import { predictLogits } from '../../src/train/predict';
import { Trainer } from '../../src/train/trainer';
import { TINY_CLASSES, tinyDataset, tinyModel } from '../helpers/tiny-model';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '90' }, 'min-epochs': { type: 'string', default: '16' }, 'warmup-epochs': { type: 'string', default: '20' } } });
const seconds = Number(values.seconds);
const minEpochs = Number(values['min-epochs']);
const warmupEpochs = Number(values['warmup-epochs']);
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('Run the soak with --expose-gc.');

const ctx = await createNodeGpuContext({ quiet: true });
// Every GPU buffer the device creates or destroys, whoever asks (pool, staging, uniforms).
const live = new Set<GPUBuffer>();
const createBuffer = ctx.device.createBuffer.bind(ctx.device);
ctx.device.createBuffer = (descriptor: GPUBufferDescriptor): GPUBuffer => {
  const buffer = createBuffer(descriptor);
  live.add(buffer);
  const destroy = buffer.destroy.bind(buffer);
  buffer.destroy = () => {
    live.delete(buffer);
    destroy();
  };
  return buffer;
};

const model = await tinyModel(ctx, { dropout: 0.1 });
const train = tinyDataset(40, 11);
const validation = tinyDataset(12, 12);
const batchSize = 8;
const epochs = 100_000; // the run ends on time, not on its length
const trainer = await Trainer.create(model, train, { optimizer: 'adamw', lr: 2e-3, weightDecay: 1e-4, epochs, batchSize, warmup: 10, labelSmoothing: 0.1, seed: 5, shuffle: true, logEvery: 3, augment: { flip: true, randomResizedCrop: true } });
const stepsPerEpoch = trainer.stepsPerEpoch;

export interface Sample {
  epoch: number;
  step: number;
  seconds: number;
  poolAllocatedBytes: number;
  poolInUseBytes: number;
  poolAllocations: number;
  liveBuffers: number;
  pipelines: number;
  heapUsed: number;
  heapWithoutHistory: number;
  rss: number;
  historyLength: number;
}
const samples: Sample[] = [];
const started = performance.now();
let epoch = 0;
let lastLoss = NaN;
let accuracy = 0;
while (epoch < warmupEpochs + minEpochs || (performance.now() - started) / 1000 < seconds) {
  epoch++;
  const end = epoch * stepsPerEpoch;
  const result = await trainer.run((m) => (lastLoss = m.loss), (step) => step === end);
  if (result !== 'paused') throw new Error(`The trainer stopped (${result}) at step ${trainer.currentStep}.`);
  // What the worker does at an epoch end: a checkpoint's state read back, then validation. (The state is not
  // kept: its copy of the history would count in the heap measured below.)
  const savedStep = (await trainer.state()).step;
  if (savedStep !== end) throw new Error(`The checkpoint holds step ${savedStep}, not ${end}.`);
  const logits = await predictLogits(model, validation.inputs as Float32Array, validation.count, validation.sampleShape);
  accuracy = evaluate(logits, validation.labels, TINY_CLASSES).accuracy;
  // The heap without the metrics history, which the run keeps by design (one entry a step): the rest must
  // not grow at all. The history is set aside as bytes, so no reference keeps its objects alive meanwhile.
  const history = serialize(trainer.history);
  trainer.history = [];
  gc();
  // Code spaces left out: V8 keeps compiling and flushing code as a run goes on, which is not the program's memory.
  const heapWithoutHistory = getHeapSpaceStatistics()
    .filter((space) => !space.space_name.startsWith('code'))
    .reduce((bytes, space) => bytes + space.space_used_size, 0);
  trainer.history = deserialize(history) as typeof trainer.history;
  gc();
  const memory = process.memoryUsage();
  samples.push({
    epoch,
    step: trainer.currentStep,
    seconds: (performance.now() - started) / 1000,
    poolAllocatedBytes: ctx.pool.allocatedBytes,
    poolInUseBytes: ctx.pool.inUseBytes,
    poolAllocations: ctx.pool.allocations,
    liveBuffers: live.size,
    pipelines: ctx.pipelines.size,
    heapUsed: memory.heapUsed,
    heapWithoutHistory,
    rss: memory.rss,
    historyLength: trainer.history.length,
  });
}
process.stdout.write(`${JSON.stringify({ warmupEpochs, stepsPerEpoch, lastLoss, accuracy, submissions: ctx.stats.submissions, samples })}\n`);
trainer.dispose();
model.dispose();
ctx.destroy();
