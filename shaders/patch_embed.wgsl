// Patchify: the im2col of a stride-P, kernel-P convolution. image [B, C, H, W] → patches [B, n, K] with
// n = (H/P)·(W/P) patches in row-major order and K = C·P·P columns ordered (c, ky, kx), the flattening of
// timm's conv weight [D, C, P, P]; patch embedding is then one matmul with weight.reshape([D, K]).
// P divides H and W (checked on the host), so the map is a permutation: the backward is a gather too, with
// one thread per image element and no accumulation.

struct Params {
  total: u32,
  C: u32,
  H: u32,
  W: u32,
  P: u32,
  gridW: u32,
  n: u32,
  K: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

const WG: u32 = 256u;

fn index(wid: vec3<u32>, nwg: vec3<u32>, lid: vec3<u32>) -> u32 {
  return (wid.y * nwg.x + wid.x) * WG + lid.x;
}

// One thread per run of P pixels (a patch row: one channel, one image row, one patch column): it reads P
// contiguous pixels and writes them as P contiguous patch columns, so the index arithmetic (integer
// divisions, slow on every GPU) is paid once per P elements. `total` counts runs here.
@compute @workgroup_size(WG)
fn patchify(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let i = index(wid, nwg, lid);
  if (i >= params.total) { return; }
  let P = params.P;
  let gx = i % params.gridW;
  let row = i / params.gridW; // (b, c, y)
  let y = row % params.H;
  let bc = row / params.H;
  let c = bc % params.C;
  let b = bc / params.C;
  let t = (y / P) * params.gridW + gx;
  let src_at = row * params.W + gx * P;
  let dst_at = (b * params.n + t) * params.K + (c * P + y % P) * P;
  for (var kx = 0u; kx < P; kx++) { dst[dst_at + kx] = src[src_at + kx]; }
}

// Adjoint: one thread per image element, gathering its single patch entry (src binds the patch gradient).
@compute @workgroup_size(WG)
fn unpatchify(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let i = index(wid, nwg, lid);
  if (i >= params.total) { return; }
  let P = params.P;
  let x = i % params.W;
  let y = (i / params.W) % params.H;
  let bc = i / (params.W * params.H);
  let c = bc % params.C;
  let b = bc / params.C;
  let t = (y / P) * params.gridW + x / P;
  let k = (c * P + y % P) * P + x % P;
  dst[i] = src[(b * params.n + t) * params.K + k];
}
