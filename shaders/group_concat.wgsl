// The mini-PointNet's [global feature repeated, per-point feature] concatenation, and its backward:
//   forward:   out[r, k, :] = [g[r, :], f[r, k, :]]   with g [R, C1], f [R, K, C2], out [R, K, C1 + C2];
//   backward:  dg[r, j] = Σ_k dout[r, k, j] for j < C1 (the repeated copies sum);
//              df[r, k, :] = dout[r, k, C1:] (a column slice: shaders/shape.wgsl's copy_cols).
// One thread per output element, in output order (contiguous writes). f32.

struct Params {
  total: u32, // forward: R·K·(C1 + C2); backward: R·C1
  K: u32,
  C1: u32,
  C2: u32,
}

@group(0) @binding(0) var<uniform> params: Params;

const WG: u32 = 256u;

fn flat(wid: vec3<u32>, nwg: vec3<u32>, lid: vec3<u32>) -> u32 {
  return (wid.y * nwg.x + wid.x) * WG + lid.x;
}

@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<storage, read> f: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WG)
fn concat_global(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let e = flat(wid, nwg, lid);
  if (e >= params.total) { return; }
  let width = params.C1 + params.C2;
  let j = e % width;
  let rk = e / width; // r·K + k
  if (j < params.C1) {
    out[e] = g[(rk / params.K) * params.C1 + j];
  } else {
    out[e] = f[rk * params.C2 + j - params.C1];
  }
}

@group(0) @binding(1) var<storage, read> dout: array<f32>;
@group(0) @binding(2) var<storage, read_write> dg: array<f32>;

@compute @workgroup_size(WG)
fn concat_global_backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let e = flat(wid, nwg, lid);
  if (e >= params.total) { return; }
  let width = params.C1 + params.C2;
  let j = e % params.C1;
  let r = e / params.C1;
  var sum = 0.0;
  for (var k = 0u; k < params.K; k++) { sum += dout[(r * params.K + k) * width + j]; }
  dg[e] = sum;
}
