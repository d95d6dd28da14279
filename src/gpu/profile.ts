// The device profile: which kind of GPU runs the engine, read from the adapter's info and limits. Every
// kernel choice in src/kernels/ takes it, so real GPUs get the designs they reward (coalesced loads, tiles
// in workgroup memory, enough workgroups to fill them) while CPU emulators keep what measured fastest there.
// WebGPU does not say how many cores a GPU has, so the kind stands in for its parallelism.
import type { AdapterDescription } from './context';
import { GpuSettingError } from './errors';

/**
 * 'emulated': a CPU pretending to be a GPU (lavapipe, SwiftShader, a fallback adapter): few threads, costly
 * barriers. 'integrated': a GPU sharing the CPU's memory (laptops, Apple silicon, phones). 'discrete': a GPU
 * with its own memory and many cores.
 */
export type DeviceKind = 'emulated' | 'integrated' | 'discrete';

export const DEVICE_KINDS: readonly DeviceKind[] = ['emulated', 'integrated', 'discrete'];

export interface DeviceProfile {
  kind: DeviceKind;
  /** The evidence for the kind, in words (shown by the command line and the page). */
  reason: string;
  /**
   * Workgroups of a tiled matmul (64 threads, 8×8 or 4×4 outputs each) that keep the device busy: below it a
   * product takes smaller tiles or splits K across workgroups.
   */
  matmulGroups: number;
  /** The same for the thin (rank-r) products, whose workgroups do less each. */
  thinGroups: number;
  /** Workgroups a split reduction over tokens (CLoRA's bank and core gradients) aims for. */
  reductionGroups: number;
  /**
   * The CLoRA bottleneck X·D_cat at p·r ≤ 16: 'rows', one thread per row with no workgroup memory or barriers
   * (fastest on emulators, uncoalesced on a GPU); 'split', several threads per row splitting K, their loads
   * coalesced, partial sums combined in workgroup memory.
   */
  branchIn: 'rows' | 'split';
  /**
   * Attention: 'by-length' takes the scores-through-matmul path for short sequences (Nk ≤ 2·Dh, where the
   * fused kernels' barriers dominate on emulators); 'fused' always takes the flash-style kernels, whose tiles
   * live in workgroup memory and whose memory does not grow with N².
   */
  attention: 'by-length' | 'fused';
  /** Workgroup memory the attention kernels size their tiles for (bytes). */
  attentionWorkgroupBytes: number;
}

/** What every device offers: tiles sized for it give the same results everywhere. */
const BASELINE_WORKGROUP_BYTES = 16384;
/** Larger attention tiles on GPUs, when the device has the memory (most offer 32 KiB). */
const GPU_ATTENTION_WORKGROUP_BYTES = 32768;

type Tuning = Omit<DeviceProfile, 'kind' | 'reason' | 'attentionWorkgroupBytes'>;

// Emulators keep the choices measured fastest on lavapipe and SwiftShader (README, "Kernel figures"). GPUs:
// an integrated GPU has on the order of 8–32 cores, a discrete one 30–140, each holding several workgroups.
const TUNING: Record<DeviceKind, Tuning> = {
  emulated: { matmulGroups: 32, thinGroups: 64, reductionGroups: 256, branchIn: 'rows', attention: 'by-length' },
  integrated: { matmulGroups: 128, thinGroups: 128, reductionGroups: 256, branchIn: 'split', attention: 'fused' },
  discrete: { matmulGroups: 512, thinGroups: 512, reductionGroups: 1024, branchIn: 'split', attention: 'fused' },
};

/** The profile of a kind on a device with this much workgroup memory (tests force a kind this way). */
export function profileFor(kind: DeviceKind, maxWorkgroupBytes: number, reason = `${kind} (forced)`): DeviceProfile {
  const attentionWorkgroupBytes = kind === 'emulated' ? BASELINE_WORKGROUP_BYTES : Math.max(BASELINE_WORKGROUP_BYTES, Math.min(maxWorkgroupBytes, GPU_ATTENTION_WORKGROUP_BYTES));
  return { kind, reason, ...TUNING[kind], attentionWorkgroupBytes };
}

const SOFTWARE = /llvmpipe|lavapipe|swiftshader|software|microsoft basic render|\bwarp\b|cpu/i;
// Vendors whose GPUs share the CPU's memory.
const INTEGRATED_VENDORS = /^(apple|arm|qualcomm|imagination|img-tec|samsung|mediatek|broadcom|vivante|powervr)/i;
// Intel's discrete cards (Arc), AMD's APUs, NVIDIA's Tegra/Jetson: the exceptions to their vendor's rule.
const INTEL_DISCRETE = /\barc\b|alchemist|battlemage|xe-hpg|dg2/i;
const AMD_INTEGRATED = /radeon\(tm\) graphics|radeon graphics|vega \d+ graphics|\b(6[0-9]0|7[0-9]0|8[0-9]0)m\b|apu/i;
const NVIDIA_INTEGRATED = /tegra|jetson|orin|xavier/i;

/** The kind of GPU an adapter is, with the reason; unknown real GPUs count as integrated, the cautious middle. */
export function classifyAdapter(a: AdapterDescription): { kind: DeviceKind; reason: string } {
  const words = [a.vendor, a.architecture, a.device, a.description].filter(Boolean).join(' ');
  if (a.isFallback) return { kind: 'emulated', reason: 'a fallback adapter: software rendering' };
  const software = words.match(SOFTWARE);
  if (software) return { kind: 'emulated', reason: `a software renderer (${software[0]})` };
  const vendor = a.vendor.toLowerCase();
  if (vendor.startsWith('intel')) {
    return INTEL_DISCRETE.test(words) ? { kind: 'discrete', reason: 'an Intel Arc GPU' } : { kind: 'integrated', reason: 'an Intel GPU' };
  }
  if (vendor.startsWith('amd') || vendor.startsWith('ati')) {
    return AMD_INTEGRATED.test(words) ? { kind: 'integrated', reason: 'an AMD APU' } : { kind: 'discrete', reason: 'an AMD GPU' };
  }
  if (vendor.startsWith('nvidia')) {
    return NVIDIA_INTEGRATED.test(words) ? { kind: 'integrated', reason: 'an NVIDIA Tegra' } : { kind: 'discrete', reason: 'an NVIDIA GPU' };
  }
  if (INTEGRATED_VENDORS.test(vendor)) return { kind: 'integrated', reason: `a ${a.vendor} GPU` };
  return { kind: 'integrated', reason: `an unknown GPU (${words || 'no adapter info'}), taken as integrated` };
}

/** The device profile of an adapter and the limits its device got. */
export function deviceProfile(adapter: AdapterDescription, limits: Pick<GPUSupportedLimits, 'maxComputeWorkgroupStorageSize'>): DeviceProfile {
  const { kind, reason } = classifyAdapter(adapter);
  return profileFor(kind, limits.maxComputeWorkgroupStorageSize, reason);
}

/** The kind named by a setting (CLORA_DEVICE_PROFILE, a test), or a sentence saying which names exist. */
export function parseDeviceKind(name: string): DeviceKind {
  if ((DEVICE_KINDS as readonly string[]).includes(name)) return name as DeviceKind;
  throw new GpuSettingError(`Unknown device profile "${name}": use ${DEVICE_KINDS.join(', ')}.`);
}

/** One line for logs: "discrete (an NVIDIA GPU)". */
export function describeProfile(p: DeviceProfile): string {
  return `${p.kind} (${p.reason})`;
}
