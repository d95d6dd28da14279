// Node front door to the GPU: Dawn's bindings (the `webgpu` package) over whatever Vulkan driver exists.
import { existsSync } from 'node:fs';
import { create, globals } from 'webgpu';
import { adapterName, createGpuContext, type GpuContext } from './context';
import { GpuUnavailableError } from './errors';
import { installNodeShaderLoader } from './shaders-node';

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
   * Sleep instead of busy-polling while an emulated GPU works (see GpuContext.politeWaits). Off by default:
   * measured here it did not pay (training 60 steps: 9.8–10.3 s either way; inference slower by a third).
   */
  politeWaits?: boolean;
}

// GPUBufferUsage and friends are browser globals; Dawn provides them for Node.
Object.assign(globalThis, globals);

export function isEmulated(name: string): boolean {
  return /llvmpipe|lavapipe|swiftshader|software|cpu/i.test(name);
}

export async function createNodeGpuContext(options: NodeGpuOptions = {}): Promise<GpuContext> {
  // CLORA_UNCHECKED=1 drops Dawn's bounds checks (3–5× on emulators): for long runs of kernels the tests
  // have proven, such as tools/pretrain-backbone.ts; never for correctness tests.
  const dawnFlags = options.dawnFlags ?? (process.env.CLORA_UNCHECKED === '1' ? ['enable-dawn-features=disable_robustness'] : []);
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
  const emulated = ctx.adapter.isFallback || isEmulated(name);
  ctx.politeWaits = emulated && (options.politeWaits ?? process.env.CLORA_POLITE_WAITS === '1');
  if (!options.quiet && emulated) {
    process.stderr.write(`note: no GPU found; WebGPU runs emulated on the CPU (${name}), so expect it to be slow.\n`);
  }
  return ctx;
}
