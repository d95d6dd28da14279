// Point tensor files (clora-spec §4): safetensors with `points` [N, P, 3] F32 — each cloud centred on its
// centroid and scaled into the unit sphere — and `labels` [N] (I32 or I64), class names in the metadata key
// `classes` (a JSON list). The command line's `--data` takes them as it takes `pixel_values` files.
import { openSafetensors, safetensorsParts, type ByteSource } from '../../io/safetensors';
import { DatasetError, type Dataset } from '../dataset';
import { shapeText } from '../../gpu/errors';

export async function readPointTensorFile(source: ByteSource): Promise<Dataset> {
  const file = await openSafetensors(source);
  const where = source.name ?? 'The tensor file';
  const pointsInfo = file.tensors.get('points');
  const labelsInfo = file.tensors.get('labels');
  if (!pointsInfo || !labelsInfo) throw new DatasetError(`${where} needs "points" [N, P, 3] and "labels" [N] tensors (it has: ${file.names().join(', ') || 'none'}).`);
  const [n, p, three] = pointsInfo.shape;
  if (pointsInfo.shape.length !== 3 || three !== 3 || labelsInfo.shape.length !== 1 || labelsInfo.shape[0] !== n) {
    throw new DatasetError(`${where}: points is ${shapeText(pointsInfo.shape)} and labels ${shapeText(labelsInfo.shape)}; expected [N, P, 3] and [N].`);
  }
  const inputs = await file.readF32('points');
  const bad = inputs.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0) throw new DatasetError(`${where}: cloud ${Math.floor(bad / (p! * 3))} holds a coordinate that is not a finite number (${inputs[bad]}); repair or remove that cloud.`);
  const labels = await file.readInt('labels');
  let classes: string[] | undefined;
  try {
    const parsed: unknown = JSON.parse(file.metadata.classes ?? 'null');
    if (Array.isArray(parsed) && parsed.every((x) => typeof x === 'string')) classes = parsed as string[];
  } catch {
    /* numbered classes below */
  }
  classes ??= Array.from({ length: labels.reduce((m, l) => Math.max(m, l), -1) + 1 }, (_, i) => String(i));
  return { classes, sampleShape: [p!, 3], count: n!, inputs, labels, skipped: [] };
}

/** A point tensor file as parts to write one after the other (or wrap in a Blob). */
export function pointTensorFileParts(data: Pick<Dataset, 'inputs' | 'labels' | 'classes' | 'sampleShape' | 'count'>, metadata: Record<string, string> = {}): Uint8Array<ArrayBuffer>[] {
  const [p, three] = data.sampleShape;
  if (data.sampleShape.length !== 2 || three !== 3 || !(data.inputs instanceof Float32Array)) {
    throw new DatasetError(`A point tensor file holds f32 clouds of shape [P, 3]; these samples are ${shapeText(data.sampleShape)}.`);
  }
  return safetensorsParts(
    [
      { name: 'points', shape: [data.count, p!, 3], data: data.inputs },
      { name: 'labels', shape: [data.count], data: data.labels },
    ],
    { ...metadata, classes: JSON.stringify(data.classes) },
  );
}
