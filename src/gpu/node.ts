// Node front door to the GPU: Dawn's bindings (the `webgpu` package) over whatever Vulkan driver exists.
import { existsSync } from 'node:fs';
import { create, globals } from 'webgpu';
import { adapterName, createGpuContext, type GpuContext } from './context';
import { GpuUnavailableError } from './errors';
import { classifyAdapter, parseDeviceKind, profileFor } from './profile';
import { installNodeShaderLoader } from './shaders-node';
import { parseWaitScheme, type WaitScheme } from './waits';

// Software Vulkan drivers, fastest first: Mesa's lavapipe (bookworm-backports), then Chromium's SwiftShader.
const SOFTWARE_ICDS = ['/usr/share/vulkan/icd.d/lvp_icd.json', '/usr/lib/chromium/vk_swiftshader_icd.json'];

const NODE_ADVICE =
  'Install a Vulkan driver: your GPU vendor\'s driver, or on Debian `apt-get install -t bookworm-backports mesa-vulkan-drivers` ' +
  '(software lavapipe) or `apt-get install chromium` (SwiftShader), then run again.';

export interface NodeGpuOptions {
  /** Dawn toggles such as 'enable-dawn-features=disable_robustness' (benchmarks only). */
  dawnFlags?: string[];
  /** Skip the one-line note printed when the adapter is a CPU emulator. */
  quiet?: boolean;
  /**
   * How to wait for the GPU (src/gpu/waits.ts). Default 'measure': Dawn's binding busy-polls while a GPU
   * promise is pending, which starves a CPU-emulated adapter, so both ways are timed and the faster is kept.
   * CLORA_WAIT=poll|sleep|measure sets it from outside.
   */
  wait?: WaitScheme;
}

// GPUBufferUsage and friends are browser globals; Dawn provides them for Node.
Object.assign(globalThis, globals);

export async function createNodeGpuContext(options: NodeGpuOptions = {}): Promise<GpuContext> {
  // CLORA_UNCHECKED=1 drops Dawn's bounds checks (3–5× on emulators): for long runs of kernels the tests
  // have proven, such as tools/pretrain-backbone.ts; never for correctness tests.
  const dawnFlags = options.dawnFlags ?? (process.env.CLORA_UNCHECKED === '1' ? ['enable-dawn-features=disable_robustness'] : []);
  // CLORA_DEVICE_PROFILE=emulated|integrated|discrete: the kernel choices of another kind of device (to try
  // a GPU's programs on an emulator, or an emulator's on a GPU).
  const forced = process.env.CLORA_DEVICE_PROFILE ? parseDeviceKind(process.env.CLORA_DEVICE_PROFILE) : undefined;
  const wait = options.wait ?? parseWaitScheme(process.env.CLORA_WAIT ?? 'measure');
  installNodeShaderLoader();
  // Without an explicit driver list the Vulkan loader offers every installed driver (a real GPU first);
  // when none answers, point it at a software driver found on disk and ask again.
  let ctx: GpuContext;
  try {
    ctx = await createGpuContext({ gpu: create(dawnFlags), noAdapterAdvice: NODE_ADVICE });
  } catch (error) {
    const fallback = SOFTWARE_ICDS.find((p) => existsSync(p));
    if (!(error instanceof GpuUnavailableError) || process.env.VK_ICD_FILENAMES || !fallback) throw error;
    process.env.VK_ICD_FILENAMES = fallback;
    ctx = await createGpuContext({ gpu: create(dawnFlags), noAdapterAdvice: NODE_ADVICE });
  }
  const name = adapterName(ctx.adapter);
  const emulated = classifyAdapter(ctx.adapter).kind === 'emulated';
  if (forced) ctx.profile = profileFor(parseDeviceKind(forced), ctx.limits.maxComputeWorkgroupStorageSize, `${forced}, set by CLORA_DEVICE_PROFILE`);
  ctx.waits.scheme = wait;
  // An emulator's cores are the ones a spinning wait takes: there, sleeping is the scheme to beat.
  ctx.waits.expected = emulated ? 'sleep' : 'poll';
  if (!options.quiet && emulated) {
    process.stderr.write(`note: no GPU found; WebGPU runs emulated on the CPU (${name}), so expect it to be slow.\n`);
  }
  return ctx;
}
