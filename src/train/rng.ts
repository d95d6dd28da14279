// A small seeded generator whose whole state is one 32-bit integer, so a checkpoint can save and restore it.
// mulberry32: counter-based (the state advances by a constant), good enough for shuffling and init.

export class Rng {
  constructor(public state: number) {
    this.state = state >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  uniform(low: number, high: number): number {
    return low + (high - low) * this.next();
  }

  /** Standard normal (Box–Muller). */
  normal(): number {
    const u = 1 - this.next();
    const v = this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /** Normal(0, std²) truncated to ±2·std by resampling, like timm's trunc_normal_(std, a=-2std, b=2std). */
  truncatedNormal(std: number): number {
    for (;;) {
      const z = this.normal();
      if (Math.abs(z) <= 2) return z * std;
    }
  }

  /** A whole number in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Fisher–Yates shuffle in place. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [items[i], items[j]] = [items[j]!, items[i]!];
    }
    return items;
  }

  /** A derived seed for an independent stream (dropout masks, augmentation). */
  fork(): number {
    return Math.floor(this.next() * 4294967296) >>> 0;
  }
}
