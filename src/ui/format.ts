// How numbers read on the page: shares as percentages, times as seconds, minutes or hours.

export function percent(x: number, digits = 1): string {
  return `${(100 * x).toFixed(digits)} %`;
}

export function duration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '…';
  if (seconds < 60) return `${Math.max(0, Math.round(seconds))} s`;
  if (seconds < 3600) return `${Math.round(seconds / 60)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}

/** A short wall-clock time with a tenth of a second below a minute ("4.2 s", "3 min"). */
export function seconds(value: number): string {
  return value < 60 ? `${value.toFixed(1)} s` : duration(value);
}
