// Which kind of sample the page works with: the loaded backbone takes images (a ViT) or point clouds (a
// point transformer), and the data set holds one kind. What the page says when the two differ: after a
// backbone of the other kind is loaded (nothing is deleted), and when files of the other kind are added.
import { inputKindOf, samplesText, sampleNoun, type SampleKind } from '../data/sample-kind';
import type { BackboneInfo } from '../worker/protocol';
import type { DataState } from './state';

/** The sample data sets of the site (public/samples/…/index.json), by kind. */
export const SAMPLE_DATA_PATHS: Record<SampleKind, string> = {
  images: 'samples/fashion/index.json',
  points: 'samples/points/index.json',
};

/** What the loaded backbone takes (images until one is loaded: the default backbone is a ViT). */
export function backboneTakes(info: BackboneInfo | undefined): SampleKind {
  return info ? inputKindOf(info.kind) : 'images';
}

/** The other kind. */
function other(kind: SampleKind): SampleKind {
  return kind === 'points' ? 'images' : 'points';
}

/**
 * Why the data set cannot train on the loaded backbone (it holds the other kind of sample), in a sentence
 * that says nothing was lost and what to do; undefined when they agree or the data set is empty.
 */
export function dataKindProblem(data: Pick<DataState, 'kind' | 'total'>, info: BackboneInfo | undefined): string | undefined {
  if (!info || !data.kind || data.total === 0) return undefined;
  const takes = backboneTakes(info);
  if (data.kind === takes) return undefined;
  return (
    `The data set holds ${samplesText(data.kind, data.total)}, and ${info.label} takes ${sampleNoun(takes)}: it cannot train on them. ` +
    `They stay saved: load ${data.kind === 'points' ? 'a point backbone' : 'an image backbone'} to train on them again, or clear the data set to add ${sampleNoun(takes)}.`
  );
}

/** Why an intake of `adding` is refused when the data set already holds `held` samples (`count` of them). */
export function mixedIntakeRefusal(held: SampleKind, count: number, backboneLabel: string): string {
  const adding = other(held);
  return (
    `${backboneLabel} takes ${sampleNoun(adding)}, but the data set holds ${samplesText(held, count)}, and a data set holds one kind of sample: nothing was added. ` +
    `Load ${held === 'points' ? 'a point backbone' : 'an image backbone'} to add more ${sampleNoun(held)}, or clear the data set to start one of ${sampleNoun(adding)}.`
  );
}
