// The starting weights of a point backbone pretrained from scratch (tools/pretrain-point-backbone.ts), in
// Point-MAE's layout (clora-spec §4).
//
// Point-MAE initialises every linear map and convolution with a truncated normal of std 0.02 and relies on
// BatchNorm in training mode to normalise the tokenizer. This engine always runs BatchNorm in evaluation mode
// (§4), with fixed running statistics, so two things change:
// - the maps before the blocks (the tokenizer's convolutions and the position MLP) start from He's
//   initialisation (std √(2 / fan-in), truncated at 2σ), which keeps the scale of activations through ReLU and
//   GELU, and lets the centres' positions weigh as much as the tokens from the first step (at std 0.02 they
//   reach the blocks 100× smaller than the tokens);
// - each BatchNorm's running mean and variance are measured once on a batch of training clouds before training
//   (what BatchNorm in training mode would use on the first step) and then stay fixed, so the tokenizer sees
//   its small neighbourhoods (offsets of about 0.1) at unit scale.
// The blocks, the class token and its position keep Point-MAE's std 0.02; norms start at 1, biases at 0.
import { BATCH_NORM_EPS, isRunningStatistic, pointShapes, type PointConfig } from '../src/nn/point-transformer';
import { farthestPointIndices } from '../src/data/points/resample';
import type { Rng } from '../src/train/rng';

export interface NamedTensor {
  name: string;
  shape: number[];
  data: Float32Array;
}

/** The weights before training, BatchNorm statistics at mean 0 and variance 1 (see calibrateBatchNorm). */
export function initialPointBackbone(config: PointConfig, rng: Rng): NamedTensor[] {
  return [...pointShapes({ ...config, classes: 0 })].map(([name, shape]) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    const fanIn = shape.slice(1).reduce((a, b) => a * b, 1);
    if (name.endsWith('.running_var') || /norm\d?\.weight$/.test(name) || /^encoder\.\w+\.1\.weight$/.test(name)) data.fill(1);
    else if (isRunningStatistic(name) || name.endsWith('.bias')) {
      // zero
    } else if (name.startsWith('encoder.') || name.startsWith('pos_embed.')) for (let i = 0; i < n; i++) data[i] = rng.truncatedNormal(Math.sqrt(2 / fanIn));
    else for (let i = 0; i < n; i++) data[i] = rng.truncatedNormal(0.02);
    return { name, shape, data };
  });
}

/** §4's grouping on the CPU: each centre's K nearest points (itself included, ties to the lower index) minus the centre. */
function neighbourhoods(cloud: Float32Array, P: number, G: number, K: number): Float32Array {
  const out = new Float32Array(G * K * 3);
  const distances = new Float64Array(P);
  const order = new Uint32Array(P);
  farthestPointIndices(cloud, P, G).forEach((c, g) => {
    for (let i = 0; i < P; i++) {
      let d = 0;
      for (let a = 0; a < 3; a++) d += (cloud[i * 3 + a]! - cloud[c * 3 + a]!) ** 2;
      distances[i] = d;
      order[i] = i;
    }
    order.sort((x, y) => distances[x]! - distances[y]! || x - y);
    for (let k = 0; k < K; k++) for (let a = 0; a < 3; a++) out[(g * K + k) * 3 + a] = cloud[order[k]! * 3 + a]! - cloud[c * 3 + a]!;
  });
  return out;
}

/** rows [n, inWidth] · weightᵀ [outWidth, inWidth] + bias. */
function linearRows(rows: Float32Array, n: number, inWidth: number, weight: Float32Array, bias: Float32Array): Float32Array {
  const outWidth = bias.length;
  const out = new Float32Array(n * outWidth);
  for (let r = 0; r < n; r++) {
    for (let o = 0; o < outWidth; o++) {
      let s = bias[o]!;
      for (let i = 0; i < inWidth; i++) s += rows[r * inWidth + i]! * weight[o * inWidth + i]!;
      out[r * outWidth + o] = s;
    }
  }
  return out;
}

/** Per-channel mean and (biased) variance of rows [n, width], as BatchNorm in training mode computes them. */
function channelStatistics(rows: Float32Array, n: number, width: number): { mean: Float32Array; variance: Float32Array } {
  const sum = new Float64Array(width);
  const squares = new Float64Array(width);
  for (let r = 0; r < n; r++) {
    for (let c = 0; c < width; c++) {
      const v = rows[r * width + c]!;
      sum[c] = sum[c]! + v;
      squares[c] = squares[c]! + v * v;
    }
  }
  const mean = Float32Array.from(sum, (s) => s / n);
  const variance = Float32Array.from(squares, (s, c) => Math.max(s / n - mean[c]! ** 2, 0));
  return { mean, variance };
}

/** BatchNorm (evaluation mode) then ReLU, in place. */
function batchNormRelu(rows: Float32Array, width: number, mean: Float32Array, variance: Float32Array, weight: Float32Array, bias: Float32Array): void {
  for (let i = 0; i < rows.length; i++) {
    const c = i % width;
    rows[i] = Math.max(0, ((rows[i]! - mean[c]!) / Math.sqrt(variance[c]! + BATCH_NORM_EPS)) * weight[c]! + bias[c]!);
  }
}

/**
 * Sets both BatchNorms' running statistics to the mean and variance of their inputs over `count` clouds
 * [count, P, 3] (with the first BatchNorm already calibrated when the second is measured), in place.
 */
export function calibrateBatchNorm(tensors: NamedTensor[], config: PointConfig, clouds: Float32Array, count: number): void {
  const get = (name: string): Float32Array => {
    const t = tensors.find((x) => x.name === name);
    if (!t) throw new Error(`calibrateBatchNorm: no tensor "${name}"`);
    return t.data;
  };
  const { points: P, groups: G, groupSize: K } = config;
  const [c1, c2, c3] = config.tokenizer;
  const rows = count * G * K;
  const input = new Float32Array(rows * 3);
  for (let b = 0; b < count; b++) input.set(neighbourhoods(clouds.subarray(b * P * 3, (b + 1) * P * 3), P, G, K), b * G * K * 3);

  const first = linearRows(input, rows, 3, get('encoder.first_conv.0.weight'), get('encoder.first_conv.0.bias'));
  const firstStats = channelStatistics(first, rows, c1);
  get('encoder.first_conv.1.running_mean').set(firstStats.mean);
  get('encoder.first_conv.1.running_var').set(firstStats.variance);
  batchNormRelu(first, c1, firstStats.mean, firstStats.variance, get('encoder.first_conv.1.weight'), get('encoder.first_conv.1.bias'));

  const local = linearRows(first, rows, c1, get('encoder.first_conv.3.weight'), get('encoder.first_conv.3.bias'));
  // [max over the group, the point's own features] for every point.
  const joined = new Float32Array(rows * 2 * c2);
  for (let group = 0; group < count * G; group++) {
    const max = new Float32Array(c2).fill(-Infinity);
    for (let k = 0; k < K; k++) for (let c = 0; c < c2; c++) max[c] = Math.max(max[c]!, local[(group * K + k) * c2 + c]!);
    for (let k = 0; k < K; k++) {
      const r = group * K + k;
      joined.set(max, r * 2 * c2);
      joined.set(local.subarray(r * c2, (r + 1) * c2), r * 2 * c2 + c2);
    }
  }
  const second = linearRows(joined, rows, 2 * c2, get('encoder.second_conv.0.weight'), get('encoder.second_conv.0.bias'));
  const secondStats = channelStatistics(second, rows, c3);
  get('encoder.second_conv.1.running_mean').set(secondStats.mean);
  get('encoder.second_conv.1.running_var').set(secondStats.variance);
}
