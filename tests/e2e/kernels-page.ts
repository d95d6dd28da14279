// Runs matmul, attention and the point-cloud grouping and pooling on the page's own WebGPU and compares them
// with the f64 reference.
import { attention } from '../../src/autodiff/ops/attention';
import { matmul } from '../../src/autodiff/ops/matmul';
import { maxOverGroup } from '../../src/autodiff/ops/pointnet';
import { farthestPointSample, gatherNeighbourhood, nearestNeighbours, readIndices } from '../../src/autodiff/ops/points';
import { Tape } from '../../src/autodiff/tape';
import { Tensor } from '../../src/autodiff/tensor';
import { adapterName } from '../../src/gpu/context';
import { createBrowserGpuContext } from '../../src/gpu/browser';
import { maxRelError, mulberry32, randn, refOps, type RefTensor } from '../reference/ops';
import { groupReference, maxAlong } from '../reference/points';

interface SmokeResult {
  adapter: string;
  errors: Record<string, number>;
  failure?: string;
}

async function main(): Promise<SmokeResult> {
  const ctx = await createBrowserGpuContext();
  const rng = mulberry32(7);
  const upload = (t: RefTensor): Tensor => Tensor.fromData(ctx, t.shape, Float32Array.from(t.data));
  const errors: Record<string, number> = {};
  const tape = new Tape(ctx);
  try {
    const a = randn([33, 65], rng);
    const b = randn([65, 7], rng);
    const bias = randn([7], rng);
    const mm = matmul(upload(a), upload(b), { bias: upload(bias), gelu: true });
    const mmRef = refOps.matmul.forward([a, b, bias], { bias: true, gelu: true })[0]!;
    errors.matmul = maxRelError(await mm.read(), mmRef.data);

    const thinA = randn([197, 24], rng);
    const thinB = randn([24, 8], rng);
    const thin = matmul(upload(thinA), upload(thinB));
    errors.matmulThin = maxRelError(await thin.read(), refOps.matmul.forward([thinA, thinB], {})[0]!.data);

    const [q, k, v] = [randn([1, 2, 33, 8], rng), randn([1, 2, 33, 8], rng), randn([1, 2, 33, 8], rng)];
    const scale = 8 ** -0.5;
    const att = attention(upload(q), upload(k), upload(v), { scale });
    errors.attention = maxRelError(await att.read(), refOps.attention.forward([q, k, v], { scale })[0]!.data);

    // Point-MAE's grouping: indices must match exactly (the error is the share that differ), values closely.
    const [B, P, G, K] = [2, 300, 17, 16];
    const points = Float32Array.from(randn([B, P, 3], rng).data);
    const cloud = Tensor.fromData(ctx, [B, P, 3], points);
    const { indices, centres } = farthestPointSample(cloud, G);
    const neighbours = nearestNeighbours(cloud, centres, K);
    const hood = gatherNeighbourhood(cloud, neighbours, centres);
    const ref = groupReference(points, B, P, G, K);
    const differ = (got: Uint32Array, want: number[]): number => got.reduce((n, v, i) => n + (v === want[i] ? 0 : 1), 0) / want.length;
    errors.fpsIndices = differ(await readIndices(indices), ref.centres.flat());
    errors.knnIndices = differ(await readIndices(neighbours), ref.neighbours.flat(2));
    errors.neighbourhood = maxRelError(await hood.read(), ref.neighbourhood);
    const grouped = randn([5, 32, 33], rng);
    errors.maxOverGroup = maxRelError(await maxOverGroup(upload(grouped)).read(), maxAlong.forward([grouped], { offset: 0 })[0]!.data);
    return { adapter: adapterName(ctx.adapter), errors };
  } finally {
    tape.dispose();
    ctx.destroy();
  }
}

declare global {
  interface Window {
    smokeResult?: SmokeResult;
  }
}

main().then(
  (result) => {
    window.smokeResult = result;
    document.getElementById('out')!.textContent = JSON.stringify(result, null, 2);
  },
  (error: unknown) => {
    window.smokeResult = { adapter: '', errors: {}, failure: error instanceof Error ? error.message : String(error) };
  },
);
