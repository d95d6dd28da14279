// Learning-rate schedule: linear warm-up then cosine decay to zero. With no warm-up the rate is constant:
// the contract's exactness rule (`--warmup 0` → K steps "at the given lr (no schedule)") depends on it.

export function learningRate(step: number, totalSteps: number, baseLr: number, warmupSteps: number): number {
  if (warmupSteps <= 0) return baseLr;
  if (step <= warmupSteps) return (baseLr * step) / warmupSteps;
  const span = Math.max(1, totalSteps - warmupSteps);
  const progress = Math.min(1, (step - warmupSteps) / span);
  return baseLr * 0.5 * (1 + Math.cos(Math.PI * progress));
}
