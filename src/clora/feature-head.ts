// Quick mode's model: a `head` fine-tuning model whose forward also takes the backbone's features directly.
// Given images [N, 3, H, W] it is the whole network, as always (predictions, exports); given cached features
// [N, dim] it runs only the head — the same linear map on the same features — so the trainer trains the
// head without running the frozen backbone at every step. Its trainable store, initialisation, optimizer
// state and files are exactly those of the `head` method: a quick run's checkpoint is a head run's.
import { linear } from '../autodiff/ops/matmul';
import type { Tensor } from '../autodiff/tensor';
import { SettingsError } from './settings';
import { FineTuneModel, type FineTuneModelParts } from './model';

export class FeatureHeadModel extends FineTuneModel {
  constructor(parts: FineTuneModelParts) {
    if (parts.settings.method !== 'head') throw new SettingsError(`Quick mode trains the head only (method "head"), not "${parts.settings.method}".`);
    super(parts);
  }

  override forward(input: Tensor, opts: { training: boolean; seed?: number } = { training: false }): Tensor {
    if (input.rank !== 2) return super.forward(input, opts);
    const { trainable } = this.parts;
    return linear(input, trainable.get('head.weight'), trainable.get('head.bias'));
  }
}
