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
