import { DeviceLostError, GpuOutOfMemoryError, GpuUnavailableError } from './errors';
import { BufferPool } from './pool';
import { kernelKey, PipelineCache, type KernelSpec } from './pipelines';
import { deviceProfile, type DeviceProfile } from './profile';
import { GpuWaits } from './waits';

/** A storage binding: a whole pooled buffer or a 256-byte-aligned range of one. */
export interface BufferRange {
  buffer: GPUBuffer;
  byteOffset: number;
  byteLength: number;
}

/** Marks a kernel parameter as f32 (plain numbers are written as u32). */
export class F32 {
  constructor(readonly value: number) {}
}
export const f32 = (value: number): F32 => new F32(value);
/** Marks a kernel parameter as i32. */
export class I32 {
  constructor(readonly value: number) {}
}
export const i32 = (value: number): I32 => new I32(value);
export type Param = number | F32 | I32;

/** The least the engine works with; it asks for the adapter's maximum of each. */
const WANTED_LIMITS: Record<string, number> = {
  maxStorageBufferBindingSize: 128 * 1024 * 1024,
  maxBufferSize: 256 * 1024 * 1024,
  maxComputeWorkgroupStorageSize: 16384,
  maxStorageBuffersPerShaderStage: 8,
  maxComputeInvocationsPerWorkgroup: 256,
  maxComputeWorkgroupSizeX: 256,
  maxComputeWorkgroupSizeY: 256,
  maxComputeWorkgroupsPerDimension: 65535,
};
const OPTIONAL_FEATURES: GPUFeatureName[] = ['shader-f16', 'subgroups', 'timestamp-query'];

// One uniform block per dispatch, at the device's offset alignment; the whole ring is uploaded once per submission.
const PARAM_SLOT_BYTES = 256;
const PARAM_RING_SLOTS = 4096;

export interface AdapterDescription {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  isFallback: boolean;
  /** Smallest subgroup size the adapter may use (0: not reported). */
  subgroupMinSize: number;
  subgroupMaxSize: number;
}

export interface GpuStats {
  dispatches: number;
  submissions: number;
  reads: number;
}

/** What recording some work without running it tells (GpuContext.dryRun). */
export interface DryRunResult<T> {
  value: T;
  /** Every kernel specialisation the work dispatches. */
  specs: KernelSpec[];
  dispatches: number;
  /** Peak bytes the pool would hold, counting the buffers already in use before the run. */
  peakBytes: number;
  /** The largest single buffer the work asks the pool for. */
  largestBufferBytes: number;
  /** Some buffer would be over the device's binding or buffer size limit. */
  overLimit: boolean;
}

export interface CreateContextOptions {
  gpu: GPU;
  /** Said to the user when no adapter is found: which browser, flag or driver to use. */
  noAdapterAdvice: string;
  powerPreference?: GPUPowerPreference;
}

/**
 * The engine's handle on one device: buffer pool, pipeline cache, and a command encoder that collects
 * every dispatch until `flush()`, so a training step becomes one queue submission.
 */
export class GpuContext {
  readonly pool: BufferPool;
  readonly pipelines: PipelineCache;
  readonly features: ReadonlySet<string>;
  readonly stats: GpuStats = { dispatches: 0, submissions: 0, reads: 0 };
  /** Resolves when the device is lost, with the error every later call throws. */
  readonly lost: Promise<DeviceLostError>;
  lostError: DeviceLostError | undefined;

  private encoder: GPUCommandEncoder | undefined;
  private pass: GPUComputePassEncoder | undefined;
  private paramBuffer: GPUBuffer;
  private paramData = new ArrayBuffer(PARAM_SLOT_BYTES * PARAM_RING_SLOTS);
  private paramU32 = new Uint32Array(this.paramData);
  private paramF32 = new Float32Array(this.paramData);
  private paramI32 = new Int32Array(this.paramData);
  private paramSlots = 0;
  private lostListeners: ((error: DeviceLostError) => void)[] = [];
  /** Waits in progress (unlessLost) to fail at once if the device is lost; each removes itself when done. */
  private lostWaiters = new Set<(error: DeviceLostError) => void>();
  private uncaptured: Error | undefined;
  private stagingFree = new Map<number, GPUBuffer[]>();
  /**
   * How reads and syncs wait for the GPU (src/gpu/waits.ts): 'poll' (the default: browsers do not spin),
   * 'sleep' first, or 'measure' both and keep the faster (what the Node front door picks).
   */
  readonly waits = new GpuWaits('poll');
  /** Set while dryRun() records: kernels seen, no GPU work. */
  private dry: { specs: Map<string, KernelSpec>; dispatches: number } | undefined;
  /** Set while reads join the next submission (readsWithNextSubmission). */
  private joiningReads = 0;
  private nextSubmission: { promise: Promise<number>; resolve: (index: number) => void; reject: (e: Error) => void } | undefined;
  /**
   * Whether kernels may use subgroup operations (the adapter has `subgroups`). Tests turn it off to check
   * the portable path on the same device.
   */
  useSubgroups: boolean;
  /**
   * The kind of device and the kernel choices it gets (src/gpu/profile.ts), from the adapter's info and
   * limits. Tests force another kind to check every program on the emulators.
   */
  profile: DeviceProfile;

  constructor(
    readonly device: GPUDevice,
    readonly adapter: AdapterDescription,
    /** The GPU instance; held so it outlives the device (Dawn's Node binding crashes if it is collected first). */
    readonly gpu: GPU,
  ) {
    this.features = new Set([...device.features].map(String));
    this.useSubgroups = this.features.has('subgroups');
    this.profile = deviceProfile(adapter, device.limits);
    this.pool = new BufferPool(device, device.limits);
    this.pipelines = new PipelineCache(device);
    this.paramBuffer = device.createBuffer({
      size: this.paramData.byteLength,
      usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
      label: 'kernel-params',
    });
    this.lost = device.lost.then((info) => {
      const error = new DeviceLostError(String(info.reason ?? 'unknown'), info.message);
      this.lostError = error;
      for (const listener of this.lostListeners) listener(error);
      for (const waiter of this.lostWaiters) waiter(error);
      return error;
    });
    device.addEventListener?.('uncapturederror', (event) => {
      const gpuError = (event as GPUUncapturedErrorEvent).error;
      if (gpuError.constructor.name === 'GPUOutOfMemoryError') this.pool.reportError(new GpuOutOfMemoryError(0, gpuError.message));
      else this.uncaptured ??= new Error(`GPU error: ${gpuError.message}`);
    });
  }

  get limits(): GPUSupportedLimits {
    return this.device.limits;
  }

  /** Registers a listener called once if the device is lost. */
  onLost(listener: (error: DeviceLostError) => void): void {
    if (this.lostError) listener(this.lostError);
    else this.lostListeners.push(listener);
  }

  private ensureAlive(): void {
    if (this.lostError) throw this.lostError;
  }

  private getEncoder(): GPUCommandEncoder {
    this.encoder ??= this.device.createCommandEncoder();
    return this.encoder;
  }

  private getPass(): GPUComputePassEncoder {
    this.pass ??= this.getEncoder().beginComputePass();
    return this.pass;
  }

  private endPass(): void {
    this.pass?.end();
    this.pass = undefined;
  }

  /** True while dryRun() records (nothing reaches the GPU). */
  get isDryRun(): boolean {
    return this.dry !== undefined;
  }

  /**
   * Runs `fn` recording nothing on the GPU: dispatches only note their kernel, copies, clears and writes do
   * nothing, and the pool hands out placeholders instead of buffers while keeping its accounts. Tells which
   * pipelines the work needs (to compile them ahead with pipelines.prepare) and how much memory it would
   * hold at its peak, without allocating it. `fn` must release what it acquires (dispose its tape).
   */
  dryRun<T>(fn: () => T): DryRunResult<T> {
    this.ensureAlive();
    if (this.dry) throw new Error('dryRun: a dry run is already recording.');
    const savedPeak = this.pool.peakInUseBytes;
    const savedLargest = this.pool.largestRequestBytes;
    this.pool.peakInUseBytes = this.pool.inUseBytes;
    this.pool.largestRequestBytes = 0;
    this.pool.beginVirtual();
    const dry = { specs: new Map<string, KernelSpec>(), dispatches: 0 };
    this.dry = dry;
    let peakBytes = 0;
    let largestBufferBytes = 0;
    let overLimit = false;
    try {
      const value = fn();
      peakBytes = this.pool.peakInUseBytes;
      largestBufferBytes = this.pool.largestRequestBytes;
      overLimit = this.pool.virtualOverLimit;
      return { value, specs: [...dry.specs.values()], dispatches: dry.dispatches, peakBytes, largestBufferBytes, overLimit };
    } finally {
      this.dry = undefined;
      this.pool.endVirtual();
      this.pool.peakInUseBytes = savedPeak;
      this.pool.largestRequestBytes = savedLargest;
    }
  }

  /** Records one compute dispatch: params go to binding 0 (uniform), buffers to bindings 1..n in order. */
  dispatch(spec: KernelSpec, params: Param[], buffers: BufferRange[], workgroups: [number, number?, number?]): void {
    this.ensureAlive();
    const [x, y = 1, z = 1] = workgroups;
    if (x === 0 || y === 0 || z === 0) return;
    const max = this.device.limits.maxComputeWorkgroupsPerDimension;
    if (x > max || y > max || z > max) {
      throw new Error(`Kernel ${spec.shader}:${spec.entry} needs ${x}×${y}×${z} workgroups, over this GPU's ${max} per dimension.`);
    }
    if (params.length * 4 > PARAM_SLOT_BYTES) throw new Error(`Kernel ${spec.shader}:${spec.entry} has more than ${PARAM_SLOT_BYTES / 4} parameters.`);
    if (this.dry) {
      this.dry.specs.set(kernelKey(spec), spec);
      this.dry.dispatches++;
      return;
    }
    if (this.paramSlots === PARAM_RING_SLOTS) this.flush();
    const slot = this.paramSlots++;
    const base = (slot * PARAM_SLOT_BYTES) / 4;
    params.forEach((p, i) => {
      if (p instanceof F32) this.paramF32[base + i] = p.value;
      else if (p instanceof I32) this.paramI32[base + i] = p.value;
      else this.paramU32[base + i] = p;
    });
    const pipeline = this.pipelines.get(spec);
    const entries: GPUBindGroupEntry[] = [{ binding: 0, resource: { buffer: this.paramBuffer, offset: slot * PARAM_SLOT_BYTES, size: PARAM_SLOT_BYTES } }];
    buffers.forEach((b, i) => entries.push({ binding: i + 1, resource: { buffer: b.buffer, offset: b.byteOffset, size: b.byteLength } }));
    const bindGroup = this.device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries });
    const pass = this.getPass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(x, y, z);
    this.stats.dispatches++;
  }

  /** Records a buffer-to-buffer copy in order with the dispatches. */
  copy(src: BufferRange, dst: BufferRange, byteLength = src.byteLength): void {
    this.ensureAlive();
    if (this.dry) return;
    this.endPass();
    this.getEncoder().copyBufferToBuffer(src.buffer, src.byteOffset, dst.buffer, dst.byteOffset, byteLength);
  }

  /** Records a fill with zeros in order with the dispatches. */
  clear(range: BufferRange): void {
    this.ensureAlive();
    if (this.dry) return;
    this.endPass();
    this.getEncoder().clearBuffer(range.buffer, range.byteOffset, range.byteLength);
  }

  /**
   * Writes CPU data into a buffer. Queue writes land before the next submission's commands, so work
   * recorded earlier is submitted first: the write can never overtake a pending reader.
   */
  write(range: BufferRange, data: ArrayBufferView<ArrayBuffer>): void {
    this.ensureAlive();
    if (this.dry) return;
    if (this.encoder) this.flush();
    this.device.queue.writeBuffer(range.buffer, range.byteOffset, data.buffer, data.byteOffset, data.byteLength);
  }

  /**
   * Drops everything recorded since the last submission without running it. Used to plan memory: the pool
   * accounts for buffers as work is recorded, so recording a pass and discarding it measures its peak.
   */
  discard(): void {
    this.pass?.end();
    this.pass = undefined;
    this.encoder?.finish();
    this.encoder = undefined;
    this.paramSlots = 0;
    this.nextSubmission?.reject(new Error('The recorded work a read was waiting for was discarded.'));
    this.nextSubmission = undefined;
  }

  /** Submits everything recorded so far as one command buffer. */
  flush(): void {
    this.ensureAlive();
    if (this.dry || !this.encoder) return;
    this.endPass();
    if (this.paramSlots > 0) this.device.queue.writeBuffer(this.paramBuffer, 0, this.paramData, 0, this.paramSlots * PARAM_SLOT_BYTES);
    this.device.queue.submit([this.encoder.finish()]);
    const index = this.waits.submitted();
    this.encoder = undefined;
    this.paramSlots = 0;
    this.stats.submissions++;
    this.nextSubmission?.resolve(index);
    this.nextSubmission = undefined;
  }

  /**
   * Reads started inside `fn` (readMany, read, and whatever calls them) record their copies into the
   * current command encoder and wait for the next flush() instead of submitting on their own: a training
   * step's metrics then travel with the step's own submission, and their results arrive later without the
   * step ever waiting for them.
   */
  readsWithNextSubmission<T>(fn: () => T): T {
    this.joiningReads++;
    try {
      return fn();
    } finally {
      this.joiningReads--;
    }
  }

  /** Resolves with the index of the next submission (GpuWaits numbering) once flush() makes it. */
  private nextFlush(): Promise<number> {
    if (!this.nextSubmission) {
      let resolve!: (index: number) => void;
      let reject!: (e: Error) => void;
      const promise = new Promise<number>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      this.nextSubmission = { promise, resolve, reject };
    }
    return this.nextSubmission.promise;
  }

  private acquireStaging(size: number): GPUBuffer {
    const buffer = this.stagingFree.get(size)?.pop();
    return buffer ?? this.device.createBuffer({ size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST, label: 'readback' });
  }

  private releaseStaging(buffer: GPUBuffer): void {
    let list = this.stagingFree.get(buffer.size);
    if (!list) this.stagingFree.set(buffer.size, (list = []));
    list.push(buffer);
  }

  /** Copies ranges back to the CPU with one submission; rejects on device loss, OOM or a compile error. */
  async readMany(ranges: BufferRange[]): Promise<Float32Array<ArrayBuffer>[]> {
    this.ensureAlive();
    if (this.dry) throw new Error('Nothing can be read back during a dry run: its work never runs.');
    const staging = ranges.map((r) => {
      const buffer = this.acquireStaging(Math.max(256, Math.ceil(r.byteLength / 256) * 256));
      this.endPass();
      this.getEncoder().copyBufferToBuffer(r.buffer, r.byteOffset, buffer, 0, r.byteLength);
      return buffer;
    });
    this.stats.reads++;
    let index: number;
    if (this.joiningReads > 0) index = await this.nextFlush();
    else {
      this.flush();
      index = this.waits.latest;
    }
    // The maps start only once any sleep is over: while one is pending, Dawn's Node binding spins.
    await this.waits.wait(index, () => this.unlessLost(Promise.all(staging.map((b) => b.mapAsync(GPUMapMode.READ)))));
    const out = staging.map((b, i) => {
      const copy = new Float32Array(ranges[i]!.byteLength / 4);
      copy.set(new Float32Array(b.getMappedRange(0, ranges[i]!.byteLength)));
      b.unmap();
      this.releaseStaging(b);
      return copy;
    });
    await this.throwPendingErrors();
    return out;
  }

  async read(range: BufferRange): Promise<Float32Array<ArrayBuffer>> {
    return (await this.readMany([range]))[0]!;
  }

  /** Waits for submitted work; rejects if the device is lost meanwhile. */
  async sync(): Promise<void> {
    this.flush();
    await this.waits.wait(this.waits.latest, () => this.unlessLost(this.device.queue.onSubmittedWorkDone()));
    await this.throwPendingErrors();
  }

  /**
   * Waits for `work`, but rejects with the DeviceLostError as soon as the device is lost. (Not a race with
   * `this.lost`: every race would leave a reaction on that promise, which stays pending while the device
   * lives, so a long run would keep every read's promises alive; the soak test caught it.)
   */
  private async unlessLost<T>(work: Promise<T>): Promise<T> {
    try {
      if (this.lostError) {
        work.catch(() => undefined); // it fails too once the device is gone: nobody waits for it
        throw this.lostError;
      }
      return await new Promise<T>((resolve, reject) => {
        this.lostWaiters.add(reject);
        work.then(resolve, reject).finally(() => this.lostWaiters.delete(reject));
      });
    } catch (error) {
      // A destroyed device may fail the map before `lost` settles: report the loss, not the symptom.
      if (!this.lostError) await new Promise((resolve) => setTimeout(resolve, 250));
      throw this.lostError ?? error;
    }
  }

  /** Raises out-of-memory, shader compile and other GPU errors reported since the last check. */
  async throwPendingErrors(): Promise<void> {
    this.ensureAlive();
    const oom: GpuOutOfMemoryError | undefined = this.pool.takeError();
    if (oom) throw oom;
    const compile = await this.pipelines.takeError();
    if (compile) throw compile;
    const other = this.uncaptured;
    this.uncaptured = undefined;
    if (other) throw other;
  }

  destroy(): void {
    this.encoder = undefined;
    this.pass = undefined;
    this.device.destroy();
  }
}

function describeAdapter(adapter: GPUAdapter): AdapterDescription {
  const info = adapter.info;
  return {
    vendor: info?.vendor ?? '',
    architecture: info?.architecture ?? '',
    device: info?.device ?? '',
    description: info?.description ?? '',
    isFallback: Boolean((info as { isFallbackAdapter?: boolean } | undefined)?.isFallbackAdapter ?? (adapter as { isFallbackAdapter?: boolean }).isFallbackAdapter),
    subgroupMinSize: (info as { subgroupMinSize?: number } | undefined)?.subgroupMinSize ?? 0,
    subgroupMaxSize: (info as { subgroupMaxSize?: number } | undefined)?.subgroupMaxSize ?? 0,
  };
}

export function adapterName(a: AdapterDescription): string {
  return [a.vendor, a.architecture, a.device || a.description].filter(Boolean).join(' / ') || 'unknown adapter';
}

/** Asks for an adapter and a device with the limits and optional features the engine uses. */
export async function createGpuContext(options: CreateContextOptions): Promise<GpuContext> {
  const adapter = await options.gpu.requestAdapter({ powerPreference: options.powerPreference ?? 'high-performance' });
  if (!adapter) throw new GpuUnavailableError(`No WebGPU adapter is available. ${options.noAdapterAdvice}`);
  const requiredLimits: Record<string, number> = {};
  for (const [name, least] of Object.entries(WANTED_LIMITS)) {
    const available = (adapter.limits as unknown as Record<string, number>)[name] ?? 0;
    // Buffer sizes only bound which models fit, so a small device still runs small models.
    const sizeOnly = name === 'maxStorageBufferBindingSize' || name === 'maxBufferSize';
    if (available < least && !sizeOnly) {
      throw new GpuUnavailableError(`This GPU's ${name} is ${available}, below the ${least} the engine needs. ${options.noAdapterAdvice}`);
    }
    requiredLimits[name] = available; // ask for the adapter's maximum
  }
  const requiredFeatures = OPTIONAL_FEATURES.filter((f) => adapter.features.has(f));
  const device = await adapter.requestDevice({ requiredLimits, requiredFeatures, label: 'clora-web' });
  return new GpuContext(device, describeAdapter(adapter), options.gpu);
}
