// Browser (page or worker) front door to the GPU.
import { createGpuContext, type GpuContext } from './context';
import { GpuUnavailableError } from './errors';
import { installBrowserShaderLoader } from './shaders-browser';

const BROWSER_ADVICE =
  'Use a recent Chrome, Edge or another browser with WebGPU turned on (in Chromium on Linux start it with --enable-unsafe-webgpu), ' +
  'check that hardware acceleration is on in the browser settings, and open the page over https or localhost.';

export async function createBrowserGpuContext(): Promise<GpuContext> {
  installBrowserShaderLoader();
  const gpu = (globalThis.navigator as Navigator | undefined)?.gpu;
  if (!gpu) throw new GpuUnavailableError(`This browser does not offer WebGPU. ${BROWSER_ADVICE}`);
  return createGpuContext({ gpu, noAdapterAdvice: BROWSER_ADVICE });
}
