// The packed samples a run trains on, as model input: point clouds at the point backbone's P points, images
// at the image backbone's input size. Data of the other kind than the backbone takes is refused in a
// sentence (the page checks first; this keeps the worker safe on its own).
import { DatasetError, type Dataset } from '../data/dataset';
import { unpackClouds } from '../data/point-samples';
import { inputKindOf, sampleNoun, type SampleKind } from '../data/sample-kind';
import { requireBackbone } from './backbone';
import { unpackSamples } from './images';
import { isPackedClouds, type PackedData } from './protocol';

/** A sentence when the data is of the other kind than the loaded backbone takes; undefined when they agree. */
export function kindMismatch(samples: PackedData): DatasetError | undefined {
  const b = requireBackbone();
  const held: SampleKind = isPackedClouds(samples) ? 'points' : 'images';
  const takes = inputKindOf(b.meta.kind);
  if (held === takes) return undefined;
  return new DatasetError(`The data set holds ${sampleNoun(held)}, but ${b.info.label} takes ${sampleNoun(takes)}: load a backbone for ${sampleNoun(held)}, or clear the data set and add ${sampleNoun(takes)}.`);
}

/** The packed samples at `pick` as model input. */
export async function unpack(samples: PackedData, pick: number[]): Promise<Dataset> {
  const { meta } = requireBackbone();
  if (isPackedClouds(samples)) {
    if (meta.kind === 'point') return unpackClouds(samples, pick, meta.cfg.points);
  } else if (meta.kind === 'vit') {
    return unpackSamples(samples, pick, meta.preprocess);
  }
  throw kindMismatch(samples) ?? new DatasetError('The data and the backbone do not fit together.');
}
