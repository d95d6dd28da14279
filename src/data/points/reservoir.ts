// Keeps at most `capacity` points of a stream of unknown length as a seeded uniform random subset
// (reservoir sampling, Vitter's algorithm R): a 10-million-point scan is read once and never held whole,
// and memory stays at capacity × 3 floats. While the stream is shorter than the capacity, every point is
// kept in file order.
import { Rng } from '../../train/rng';

export class PointReservoir {
  /** Points seen so far. */
  seen = 0;
  private data: Float32Array<ArrayBuffer>;
  private readonly rng: Rng;

  constructor(readonly capacity: number, seed: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`A point reservoir needs a capacity of at least 1 (got ${capacity}).`);
    this.rng = new Rng(seed);
    this.data = new Float32Array(Math.min(capacity, 1024) * 3);
  }

  add(x: number, y: number, z: number): void {
    let slot = this.seen;
    this.seen++;
    if (slot >= this.capacity) {
      slot = Math.floor(this.rng.next() * this.seen);
      if (slot >= this.capacity) return;
    } else if (slot * 3 >= this.data.length) {
      const grown = new Float32Array(Math.min(this.capacity, (this.data.length / 3) * 2) * 3);
      grown.set(this.data);
      this.data = grown;
    }
    const at = slot * 3;
    this.data[at] = x;
    this.data[at + 1] = y;
    this.data[at + 2] = z;
  }

  /** Points kept (≤ capacity). */
  get count(): number {
    return Math.min(this.seen, this.capacity);
  }

  /** Bytes this reservoir holds, for the memory tests: never more than capacity × 12. */
  get retainedBytes(): number {
    return this.data.byteLength;
  }

  /** The kept points, [count, 3]. */
  points(): Float32Array<ArrayBuffer> {
    return this.data.slice(0, this.count * 3);
  }
}
