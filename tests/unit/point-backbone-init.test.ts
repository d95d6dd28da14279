// The starting weights of the bundled point backbone's pretraining (tools/point-backbone-init.ts): every tensor
// of Point-MAE's layout, He scale before the blocks, std 0.02 in them, and BatchNorm statistics that are the
// mean and variance of each BatchNorm's input on the calibration clouds — recomputed here in float64 from the
// reference grouping (tests/reference/points.ts), independently of the tool's own grouping.
import { describe, expect, it } from 'vitest';
import { proceduralDataset } from '../../src/data/points/procedural';
import { BATCH_NORM_EPS, pointShapes, type PointConfig } from '../../src/nn/point-transformer';
import { Rng } from '../../src/train/rng';
import { calibrateBatchNorm, initialPointBackbone, type NamedTensor } from '../../tools/point-backbone-init';
import { groupReference } from '../reference/points';

const CFG: PointConfig = { kind: 'point', depth: 2, dim: 32, heads: 2, mlpDim: 64, points: 96, groups: 12, groupSize: 10, tokenizer: [16, 24, 40], positionWidth: 24, qkvBias: false, classes: 0 };

const byName = (tensors: NamedTensor[]): Map<string, Float32Array> => new Map(tensors.map((t) => [t.name, t.data]));
const rms = (x: Float32Array): number => Math.sqrt(x.reduce((s, v) => s + v * v, 0) / x.length);

/** Per-channel mean and variance of rows [n, width] in float64. */
function stats(rows: Float64Array, width: number): { mean: number[]; variance: number[] } {
  const n = rows.length / width;
  const mean = Array.from({ length: width }, (_, c) => {
    let s = 0;
    for (let r = 0; r < n; r++) s += rows[r * width + c]!;
    return s / n;
  });
  const variance = mean.map((m, c) => {
    let s = 0;
    for (let r = 0; r < n; r++) s += (rows[r * width + c]! - m) ** 2;
    return s / n;
  });
  return { mean, variance };
}

function linear64(rows: Float64Array, inWidth: number, w: Float32Array, b: Float32Array): Float64Array {
  const n = rows.length / inWidth;
  const out = new Float64Array(n * b.length);
  for (let r = 0; r < n; r++) for (let o = 0; o < b.length; o++) {
    let s = b[o]!;
    for (let i = 0; i < inWidth; i++) s += rows[r * inWidth + i]! * w[o * inWidth + i]!;
    out[r * b.length + o] = s;
  }
  return out;
}

describe('the point backbone initialisation', () => {
  it('makes every tensor of the layout: He scale before the blocks, 0.02 in them, identity BatchNorm and norms', () => {
    const tensors = initialPointBackbone(CFG, new Rng(1));
    expect(tensors.map((t) => [t.name, t.shape])).toEqual([...pointShapes(CFG)]);
    const w = byName(tensors);
    // Truncated at 2σ, a normal's RMS is 0.88σ.
    expect(rms(w.get('encoder.second_conv.0.weight')!) / Math.sqrt(2 / 48)).toBeCloseTo(0.88, 1);
    expect(rms(w.get('pos_embed.2.weight')!) / Math.sqrt(2 / 24)).toBeCloseTo(0.88, 1);
    expect(rms(w.get('blocks.blocks.1.mlp.fc1.weight')!) / 0.02).toBeCloseTo(0.88, 1);
    expect(rms(w.get('cls_pos')!)).toBeLessThan(0.04);
    for (const name of ['encoder.first_conv.1.weight', 'encoder.first_conv.1.running_var', 'blocks.blocks.0.norm1.weight', 'norm.weight']) expect([...w.get(name)!].every((v) => v === 1), name).toBe(true);
    for (const name of ['encoder.first_conv.0.bias', 'encoder.second_conv.1.running_mean', 'encoder.second_conv.1.bias', 'blocks.blocks.0.attn.proj.bias']) expect([...w.get(name)!].every((v) => v === 0), name).toBe(true);
  });

  it("sets each BatchNorm's statistics to its input's on the calibration clouds", () => {
    const count = 3;
    const clouds = proceduralDataset(count, { points: CFG.points, seed: 5 }).inputs as Float32Array;
    const tensors = initialPointBackbone(CFG, new Rng(2));
    calibrateBatchNorm(tensors, CFG, clouds, count);
    const w = byName(tensors);
    const [c1, c2, c3] = CFG.tokenizer;
    const K = CFG.groupSize;
    const { neighbourhood } = groupReference(clouds, count, CFG.points, CFG.groups, K);
    const first = linear64(neighbourhood, 3, w.get('encoder.first_conv.0.weight')!, w.get('encoder.first_conv.0.bias')!);
    const s1 = stats(first, c1);
    const close = (got: Float32Array, want: number[]): void => want.forEach((v, i) => expect(got[i]!).toBeCloseTo(v, 4));
    close(w.get('encoder.first_conv.1.running_mean')!, s1.mean);
    close(w.get('encoder.first_conv.1.running_var')!, s1.variance);
    // Normalised, the first BatchNorm's output has mean 0 and variance 1 on these clouds (eps 1e-5 aside).
    const normalised = first.map((v, i) => (v - s1.mean[i % c1]!) / Math.sqrt(s1.variance[i % c1]! + BATCH_NORM_EPS));
    stats(normalised, c1).variance.forEach((v) => expect(v).toBeCloseTo(1, 2));
    const local = linear64(normalised.map((v) => Math.max(0, v)), c1, w.get('encoder.first_conv.3.weight')!, w.get('encoder.first_conv.3.bias')!);
    const joined = new Float64Array(local.length * 2);
    for (let g = 0; g < local.length / (K * c2); g++) for (let c = 0; c < c2; c++) {
      let max = -Infinity;
      for (let k = 0; k < K; k++) max = Math.max(max, local[(g * K + k) * c2 + c]!);
      for (let k = 0; k < K; k++) {
        joined[(g * K + k) * 2 * c2 + c] = max;
        joined[(g * K + k) * 2 * c2 + c2 + c] = local[(g * K + k) * c2 + c]!;
      }
    }
    const s2 = stats(linear64(joined, 2 * c2, w.get('encoder.second_conv.0.weight')!, w.get('encoder.second_conv.0.bias')!), c3);
    close(w.get('encoder.second_conv.1.running_mean')!, s2.mean);
    close(w.get('encoder.second_conv.1.running_var')!, s2.variance);
  });
});
