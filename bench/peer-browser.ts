// The browser half of `npm run bench:peer`: the same suite as in Node, on the page's own WebGPU (the engine's
// device and tfjs's come from two adapters of navigator.gpu). Query: ?pairs=N, &quick=1.
import { adapterName, type GpuContext } from '../src/gpu/context';
import { createBrowserGpuContext } from '../src/gpu/browser';
import { compareMatmulPrograms, profileStep } from './peer-profile';
import { benchSubgroupKernels } from './peer-subgroups';
import { createTfjsPeer } from './peer-tfjs';
import { compareLoop, type LoopComparison } from './peer-loop';
import { runPeerSuite, TINY_STEP } from './peer-suite';

declare global {
  interface Window {
    peerResult?: unknown;
  }
}

const out = document.getElementById('out')!;
const say = (line: string): void => {
  out.textContent += `\n${line}`;
  console.log(line);
};

/** The loop section: the engine's step and training loop against tfjs-wasm (threads when isolated). */
function loopSection(ctx: GpuContext, quick: boolean): Promise<LoopComparison> {
  return compareLoop(ctx, { pairs: 2, loopSteps: quick ? 4 : 8, wasmPaths: '/node_modules/@tensorflow/tfjs-backend-wasm/dist/', log: say });
}

async function main(): Promise<unknown> {
  const query = new URLSearchParams(location.search);
  const pairs = Number(query.get('pairs') ?? 3);
  const quick = query.get('quick') === '1';
  const ctx = await createBrowserGpuContext();
  const adapter = adapterName(ctx.adapter);
  say(`adapter: ${adapter}`);
  // ?only=subgroups (bench:peer --subgroups-only): the subgroup kernels against the portable ones alone.
  // ?only=profile (bench:peer --profile): the engine's training step by kernel family.
  // ?only=loop (bench:peer --loop-only): the loop section alone.
  if (query.get('only') === 'profile') {
    const samples = Number(query.get('samples') ?? 3);
    const profile = query.get('programs') === '1' ? undefined : await profileStep(ctx, adapter, { samples, log: say });
    return { adapter, profile, programs: await compareMatmulPrograms(ctx, { samples, log: say }) };
  }
  if (query.get('only') === 'subgroups') return { adapter, features: [...ctx.features], subgroups: await benchSubgroupKernels(ctx, { pairs, wait: 'plain' }) };
  if (query.get('only') === 'loop') return { adapter, loop: await loopSection(ctx, quick), crossOriginIsolated: globalThis.crossOriginIsolated === true };
  const peer = await createTfjsPeer(navigator.gpu);
  const suite = await runPeerSuite(ctx, peer, { wait: 'plain', pairs, step: TINY_STEP, matmulFlopsPerSample: quick ? 5e7 : 2e8, log: say });
  const subgroups = await benchSubgroupKernels(ctx, { pairs, wait: 'plain' });
  const loop = await loopSection(ctx, quick);
  return {
    adapter,
    tfjsAdapter: peer.adapter,
    features: [...ctx.features],
    wait: 'plain',
    suite,
    subgroups,
    loop,
    crossOriginIsolated: globalThis.crossOriginIsolated === true,
  };
}

main().then(
  (result) => {
    window.peerResult = result;
    say('done');
  },
  (error: unknown) => {
    window.peerResult = { failure: error instanceof Error ? `${error.message}\n${error.stack ?? ''}` : String(error) };
    say(`failed: ${String(error)}`);
  },
);
