import { GpuLimitError, GpuOutOfMemoryError } from './errors';

const MIN_BYTES = 256;

/**
 * Rounds a byte count up to its size class: powers of two split into four steps (x1, x1.25, x1.5, x1.75),
 * so a reused buffer wastes at most 25% while a training step's fixed shapes always hit the same classes.
 */
export function sizeClass(bytes: number): number {
  const n = Math.max(MIN_BYTES, Math.ceil(bytes));
  const octave = 2 ** Math.floor(Math.log2(n));
  const step = octave / 4;
  const rounded = Math.ceil(n / step) * step;
  return Math.ceil(rounded / 256) * 256;
}

export interface PoolLimits {
  maxBufferSize: number;
  maxStorageBufferBindingSize: number;
}

/**
 * Storage buffers reused by size class. `allocatedBytes` only grows when a class has no free buffer,
 * so a repeated training step reaches a steady state where it stays constant.
 */
export class BufferPool {
  private free = new Map<number, GPUBuffer[]>();
  private sizes = new WeakMap<GPUBuffer, number>();
  private pendingError: GpuOutOfMemoryError | undefined;
  allocatedBytes = 0;
  inUseBytes = 0;
  peakInUseBytes = 0;
  /** Number of createBuffer calls made by the pool (steady state: no growth per step). */
  allocations = 0;
  /** The largest single request seen by acquire() since resetPeak(). */
  largestRequestBytes = 0;

  // Planning mode (GpuContext.dryRun): acquire() hands out placeholders that are never created on the device,
  // so recording a step that is never run measures its memory without allocating it.
  private virtualFree: Map<number, GPUBuffer[]> | undefined;
  private virtualOutstanding = new Set<GPUBuffer>();
  private placeholders = new WeakSet<GPUBuffer>();
  private writtenOff = new WeakSet<GPUBuffer>();
  /** Planning mode: a request went over a device limit (recorded instead of thrown). */
  virtualOverLimit = false;

  constructor(private device: GPUDevice, private limits: PoolLimits) {}

  /** Checks a request against the device limits before anything is created or dispatched. */
  checkSize(bytes: number, what = 'A buffer'): void {
    if (bytes > this.limits.maxStorageBufferBindingSize) {
      throw new GpuLimitError(bytes, this.limits.maxStorageBufferBindingSize, 'maxStorageBufferBindingSize', what);
    }
    if (bytes > this.limits.maxBufferSize) {
      throw new GpuLimitError(bytes, this.limits.maxBufferSize, 'maxBufferSize', what);
    }
  }

  acquire(bytes: number, what?: string): GPUBuffer {
    if (this.virtualFree) return this.acquireVirtual(bytes);
    this.checkSize(bytes, what);
    this.largestRequestBytes = Math.max(this.largestRequestBytes, bytes);
    let size = sizeClass(bytes);
    // The class may round past the limit even when the request fits: fall back to the exact size.
    if (size > this.limits.maxStorageBufferBindingSize || size > this.limits.maxBufferSize) size = Math.ceil(bytes / 4) * 4;
    const list = this.free.get(size);
    let buffer = list?.pop();
    if (!buffer) {
      // The scope's answer arrives later; a failure surfaces at the next read or sync as GpuOutOfMemoryError.
      this.device.pushErrorScope('out-of-memory');
      buffer = this.create(size);
      void this.device.popErrorScope().then((error) => {
        if (error) this.reportError(new GpuOutOfMemoryError(size, error.message));
      });
    }
    this.inUseBytes += size;
    this.peakInUseBytes = Math.max(this.peakInUseBytes, this.inUseBytes);
    return buffer;
  }

  private acquireVirtual(bytes: number): GPUBuffer {
    if (bytes > this.limits.maxStorageBufferBindingSize || bytes > this.limits.maxBufferSize) this.virtualOverLimit = true;
    this.largestRequestBytes = Math.max(this.largestRequestBytes, bytes);
    let size = sizeClass(bytes);
    if (size > this.limits.maxStorageBufferBindingSize || size > this.limits.maxBufferSize) size = Math.ceil(bytes / 4) * 4;
    let buffer = this.virtualFree!.get(size)?.pop();
    if (!buffer) {
      buffer = { size, label: `planned-${size}`, destroy() {} } as unknown as GPUBuffer;
      this.placeholders.add(buffer);
      this.sizes.set(buffer, size);
    }
    this.virtualOutstanding.add(buffer);
    this.inUseBytes += size;
    this.peakInUseBytes = Math.max(this.peakInUseBytes, this.inUseBytes);
    return buffer;
  }

  /** Starts planning mode: see GpuContext.dryRun. */
  beginVirtual(): void {
    if (this.virtualFree) throw new Error('BufferPool: a planning run is already in progress.');
    this.virtualFree = new Map();
    this.virtualOverLimit = false;
  }

  /** Ends planning mode; placeholders still held (an aborted run) are written off and ignored when released. */
  endVirtual(): void {
    for (const buffer of this.virtualOutstanding) {
      this.inUseBytes -= this.sizes.get(buffer)!;
      this.writtenOff.add(buffer);
    }
    this.virtualOutstanding.clear();
    this.virtualFree = undefined;
  }

  private create(size: number): GPUBuffer {
    const buffer = this.device.createBuffer({ size, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST, label: `pool-${size}` });
    this.sizes.set(buffer, size);
    this.allocatedBytes += size;
    this.allocations++;
    return buffer;
  }

  /** A new buffer allocated inside an out-of-memory error scope (weights, flat parameter buffers). */
  async acquireChecked(bytes: number, what?: string): Promise<GPUBuffer> {
    this.checkSize(bytes, what);
    this.device.pushErrorScope('out-of-memory');
    const buffer = this.create(Math.ceil(bytes / 256) * 256);
    const error = await this.device.popErrorScope();
    if (error) {
      this.allocatedBytes -= buffer.size;
      buffer.destroy();
      throw new GpuOutOfMemoryError(bytes, what ?? error.message);
    }
    this.inUseBytes += buffer.size;
    this.peakInUseBytes = Math.max(this.peakInUseBytes, this.inUseBytes);
    return buffer;
  }

  /** Reports an allocation failure seen elsewhere (the device's uncaptured out-of-memory error). */
  reportError(error: GpuOutOfMemoryError): void {
    this.pendingError ??= error;
  }

  release(buffer: GPUBuffer): void {
    if (this.writtenOff.has(buffer)) return;
    const size = this.sizes.get(buffer);
    if (size === undefined) throw new Error('BufferPool.release: this buffer does not belong to the pool.');
    this.inUseBytes -= size;
    if (this.placeholders.has(buffer)) {
      this.virtualOutstanding.delete(buffer);
      let list = this.virtualFree?.get(size);
      if (this.virtualFree && !list) this.virtualFree.set(size, (list = []));
      list?.push(buffer);
      return;
    }
    let list = this.free.get(size);
    if (!list) this.free.set(size, (list = []));
    list.push(buffer);
  }

  /** Throws the first out-of-memory error reported since the last call, if any. */
  takeError(): GpuOutOfMemoryError | undefined {
    const error = this.pendingError;
    this.pendingError = undefined;
    return error;
  }

  /** Destroys every idle buffer (after a model is unloaded, for instance). */
  trim(): void {
    for (const [size, list] of this.free) {
      for (const buffer of list) {
        buffer.destroy();
        this.allocatedBytes -= size;
      }
    }
    this.free.clear();
  }

  resetPeak(): void {
    this.peakInUseBytes = this.inUseBytes;
    this.largestRequestBytes = 0;
  }
}
