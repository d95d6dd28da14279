// What a data set's samples are: images (for an image backbone, a timm ViT) or point clouds (for a point
// transformer). One data set holds one kind; the page says which, and names its samples by it.
import type { BackboneKind } from '../nn/backbone-meta';

export type SampleKind = 'images' | 'points';

/** The kind of sample a backbone takes. */
export function inputKindOf(backbone: BackboneKind): SampleKind {
  return backbone === 'point' ? 'points' : 'images';
}

/** "1 image", "162 point clouds". */
export function samplesText(kind: SampleKind, count: number): string {
  return `${count.toLocaleString('en-US')} ${sampleNoun(kind, count)}`;
}

/** "image" / "images", "point cloud" / "point clouds". */
export function sampleNoun(kind: SampleKind, count = 2): string {
  const noun = kind === 'points' ? 'point cloud' : 'image';
  return count === 1 ? noun : `${noun}s`;
}
