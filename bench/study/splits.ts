// Which samples each run sees. Seed s draws its training images from the task's training pool (the first
// `perClass` of each class in an order shuffled by seed s + 1), so every seed also resamples the data; the
// validation split that chooses learning rates is carved from those training images (the last `valPerClass`
// of each class), never from the test set.
import { Rng } from '../../src/train/rng';
import { pickPerClass } from '../../tools/fashion-mnist';

/** Seed s's training images: `perClass` per class from the pool. */
export function trainingSample(labels: ArrayLike<number>, perClass: number, seed: number): number[] {
  const order = new Rng(seed + 1).shuffle(Array.from({ length: labels.length }, (_, i) => i));
  return pickPerClass(labels, perClass, order);
}

/** Splits a training sample into the images a tuning run fits and the `valPerClass` per class it is scored on. */
export function carveValidation(labels: ArrayLike<number>, sample: readonly number[], valPerClass: number): { fit: number[]; validation: number[] } {
  const perClass = new Map<number, number[]>();
  for (const i of sample) {
    const list = perClass.get(labels[i]!) ?? [];
    list.push(i);
    perClass.set(labels[i]!, list);
  }
  const validation = new Set<number>();
  for (const list of perClass.values()) {
    if (list.length <= valPerClass) throw new RangeError(`A class has ${list.length} training images: too few to hold out ${valPerClass} for validation and still train.`);
    for (const i of list.slice(list.length - valPerClass)) validation.add(i);
  }
  return { fit: sample.filter((i) => !validation.has(i)), validation: sample.filter((i) => validation.has(i)) };
}

/** The test set: all of it, or `limit` samples spread evenly over the classes (a fixed seeded draw). */
export function testSample(labels: ArrayLike<number>, limit: number | undefined): number[] {
  const all = Array.from({ length: labels.length }, (_, i) => i);
  if (limit === undefined || limit >= labels.length) return all;
  const classes = new Set(Array.from(all, (i) => labels[i]!)).size;
  const picked = pickPerClass(labels, Math.ceil(limit / classes), new Rng(0x7e57).shuffle(all));
  return picked.slice(0, limit).sort((a, b) => a - b);
}
