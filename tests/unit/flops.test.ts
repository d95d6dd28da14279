// FLOP counts of training and inference (src/clora/flops.ts) on tiny configurations, checked against sums
// worked out by hand below: 2 FLOPs a multiply-add, rows × in × out per product.
import { describe, expect, it } from 'vitest';
import { inferenceFlops, trainingFlops, trainingFlopsPerSample } from '../../src/clora/flops';
import { DEFAULT_ADAPTER_SETTINGS, type AdapterSettings } from '../../src/clora/settings';
import type { PointConfig } from '../../src/nn/point-transformer';
import type { VitConfig } from '../../src/nn/vit';

// 8 points in 2 groups of 3 (6 rows in the tokenizer), tokenizer 2/3/5, width 4, MLP 8, one block: 3 tokens.
const POINT: PointConfig = { kind: 'point', depth: 1, dim: 4, heads: 2, mlpDim: 8, points: 8, groups: 2, groupSize: 3, tokenizer: [2, 3, 5], positionWidth: 2, qkvBias: false, classes: 0 };
const CLASSES = 3;
const settings = (s: Partial<AdapterSettings>): AdapterSettings => ({ ...DEFAULT_ADAPTER_SETTINGS, targets: ['q', 'v'], ...s });

// Forward, layer by layer.
const conv0 = 2 * 6 * 3 * 2; // 72: neighbourhoods 3 → 2
const conv3 = 2 * 6 * 2 * 3; // 72: 2 → 3
const conv4 = 2 * 6 * 6 * 5; // 360: [global, local] 6 → 5
const conv7 = 2 * 6 * 5 * 4; // 240: 5 → width 4
const pos0 = 2 * 2 * 3 * 2; // 24: centres 3 → 2
const pos2 = 2 * 2 * 2 * 4; // 32: 2 → 4
const qkv = 2 * 3 * 4 * 12; // 288
const attention = 2 * 2 * 3 * 3 * 4; // 144: Q·Kᵀ and P·V
const proj = 2 * 3 * 4 * 4; // 96
const fc1 = 2 * 3 * 4 * 8; // 192
const fc2 = 2 * 3 * 8 * 4; // 192
const head = 2 * 1 * 8 * 3; // 48: features [cls, max] 8 → 3 classes
const MERGED = conv0 + conv3 + conv4 + conv7 + pos0 + pos2 + qkv + attention + proj + fc1 + fc2 + head;

describe('FLOPs of a point transformer', () => {
  it('inference after merging is the backbone and the head', () => {
    expect(MERGED).toBe(1760);
    expect(inferenceFlops(POINT, CLASSES)).toBe(1760);
  });

  it('head only: the forward, and the head weight gradient', () => {
    expect(trainingFlops(POINT, settings({ method: 'head' }), CLASSES)).toEqual({ forward: 1760, backward: head, sadePerStep: 0 });
  });

  it('full: every weight gradient, every input gradient but the raw points and centres', () => {
    const backward = conv0 + 2 * (conv3 + conv4 + conv7) + pos0 + 2 * pos2 + 2 * (qkv + attention + proj + fc1 + fc2 + head);
    expect(backward).toBe(3424);
    expect(trainingFlops(POINT, settings({ method: 'full' }), CLASSES)).toEqual({ forward: 1760, backward: 3424, sadePerStep: 0 });
  });

  it('LoRA r1 on q, v: the branches, and gradients back from the first branch', () => {
    const down = 2 * 3 * 4 * 1; // 24: X·Aᵀ
    const up = 2 * 3 * 1 * 4; // 24: ·Bᵀ
    const forward = MERGED + 2 * (down + up);
    // qkv's input needs no gradient (nothing before it trains); each branch: dA, and dB with its input gradient.
    const backward = 2 * (down + 2 * up) + 2 * attention + proj + fc1 + fc2 + 2 * head;
    expect([forward, backward]).toEqual([1856, 1008]);
    expect(trainingFlops(POINT, settings({ method: 'lora', rank: 1 }), CLASSES)).toEqual({ forward, backward, sadePerStep: 0 });
  });

  it('CLoRA r1 p2 on q, v with SADE: q and v share one projection of their input', () => {
    const down = 2 * 3 * 4 * 2; // 48: X·[D_1 D_2], once for q and v (the same input, the same banks)
    const cores = 2 * 3 * 2 * 1 * 1; // 12: each ·Q_h
    const up = 2 * 3 * 2 * 4; // 48: ·[U_1; U_2]
    const forward = MERGED + down + 2 * (cores + up);
    // The down bank's gradient once (from the summed gradients of q's and v's projections); no input gradient.
    const backward = down + 2 * (2 * cores + 2 * up) + 2 * attention + proj + fc1 + fc2 + 2 * head;
    // SADE: Gram matrices of the width-4 down and up banks, (p·r)² · 4 each, forward and one product back;
    // 2 modules × p² = 4 pairs × (2r³ + r²) = 3 multiply-adds, forward and twice that back.
    const grams = 2 * 2 * 2 * 4 + 2 * 2 * 2 * 4; // 64
    const terms = 2 * 2 * 4 * 3; // 48
    const sade = 2 * grams + 3 * terms;
    expect([forward, backward, sade]).toEqual([1928, 1152, 272]);
    const s = settings({ method: 'clora', rank: 1, spaces: 2, sadeWeight: 0.1 });
    expect(trainingFlops(POINT, s, CLASSES)).toEqual({ forward, backward, sadePerStep: sade });
    expect(trainingFlopsPerSample(POINT, s, CLASSES, 4)).toBe(forward + backward + sade / 4);
    // Without SADE, or with one space (no pairs), there is no SADE work.
    expect(trainingFlops(POINT, { ...s, sadeWeight: 0 }, CLASSES).sadePerStep).toBe(0);
    expect(trainingFlops(POINT, { ...s, spaces: 1 }, CLASSES).sadePerStep).toBe(0);
  });

  it('an adapter only in the MLP carries no gradient through attention', () => {
    const s = settings({ method: 'lora', rank: 1, targets: ['fc2'] });
    const down = 2 * 3 * 8 * 1; // 48: fc2's input is 8 wide
    const up = 2 * 3 * 1 * 4; // 24
    expect(trainingFlops(POINT, s, CLASSES)).toEqual({ forward: MERGED + down + up, backward: down + 2 * up + 2 * head, sadePerStep: 0 });
  });
});

describe('FLOPs of a ViT', () => {
  // 4×4 images of 3 channels in 2×2 patches: 4 patches + the class token = 5 tokens; width 4, MLP 8.
  const VIT: VitConfig = { depth: 1, dim: 4, heads: 1, patch: 2, imageSize: 4, channels: 3, mlpDim: 8, tokens: 5, classes: 0 };
  const patch = 2 * 4 * 12 * 4; // 384
  const block = 2 * 5 * 4 * 12 + 4 * 5 * 5 * 4 + 2 * 5 * 4 * 4 + 2 * 2 * 5 * 4 * 8; // 480 + 400 + 160 + 640
  const vitHead = 2 * 1 * 4 * 2; // 16: the class token 4 → 2 classes

  it('counts the patch embedding, the blocks and the head on the class token', () => {
    expect(inferenceFlops(VIT, 2)).toBe(patch + block + vitHead);
    expect(inferenceFlops(VIT, 2)).toBe(2080);
    expect(trainingFlops(VIT, settings({ method: 'full' }), 2).backward).toBe(patch + 2 * block + 2 * vitHead);
  });
});
