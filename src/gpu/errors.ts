// Typed errors the engine raises. Each message is a sentence a user can act on.

/** How every message names a shape: [2, 197, 768]. */
export const shapeText = (shape: readonly (number | string)[]): string => `[${shape.join(', ')}]`;

/** A GPU setting (CLORA_DEVICE_PROFILE, CLORA_WAIT, an option) names something that does not exist. */
export class GpuSettingError extends Error {
  override name = 'GpuSettingError';
}

/** No WebGPU adapter could be obtained. */
export class GpuUnavailableError extends Error {
  override name = 'GpuUnavailableError';
}

/** An allocation failed on the device (reported by an out-of-memory error scope). */
export class GpuOutOfMemoryError extends Error {
  override name = 'GpuOutOfMemoryError';
  constructor(readonly bytes: number, detail = '') {
    super(
      `The GPU ran out of memory while allocating ${formatBytes(bytes)}${detail ? ` (${detail})` : ''}. ` +
        'Use a smaller batch size or model, or close other tabs and programs that use the GPU.',
    );
  }
}

/** A request is larger than a device limit: raised before anything is dispatched. */
export class GpuLimitError extends Error {
  override name = 'GpuLimitError';
  constructor(readonly bytes: number, readonly limit: number, readonly limitName: string, what = 'A buffer') {
    super(
      `${what} of ${formatBytes(bytes)} is over this GPU's ${limitName} of ${formatBytes(limit)}. ` +
        'Use a smaller batch size or model.',
    );
  }
}

/** The device was lost (driver reset, GPU removed, destroy()). */
export class DeviceLostError extends Error {
  override name = 'DeviceLostError';
  constructor(readonly reason: string, detail: string) {
    super(
      `The GPU device was lost (${reason}${detail ? `: ${detail}` : ''}). ` +
        'Work since the last checkpoint is gone; reload or resume from the last checkpoint.',
    );
  }
}

/** A WGSL kernel failed to compile; names the kernel file and the line. */
export class ShaderCompileError extends Error {
  override name = 'ShaderCompileError';
  constructor(readonly kernel: string, readonly line: number, readonly column: number, detail: string) {
    super(`Kernel "${kernel}" failed to compile at shaders/${kernel}.wgsl line ${line}:${column}: ${detail}`);
  }
}

/** Operands whose shapes do not fit together; raised when the op is built. */
export class ShapeError extends Error {
  override name = 'ShapeError';
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(value < 10 ? 2 : 1)} ${units[unit]}`;
}
