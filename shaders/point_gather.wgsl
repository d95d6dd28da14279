// Neighbourhoods of the groups (clora-spec §4 grouping): each neighbour relative to its group's centre,
//   out[b, g, k, c] = points[b, index[b, g, k], c] − centres[b, g, c].
// No backward: points are data. One thread per output element, in output order (contiguous writes).
//
// Bindings: points [B, P, 3] f32; index [B, G, K] u32; centres [B, G, 3] f32; out [B, G, K, 3] f32.

struct Params {
  total: u32, // B·G·K·3
  P: u32,
  G: u32,
  K: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> points: array<f32>;
@group(0) @binding(2) var<storage, read> index: array<u32>;
@group(0) @binding(3) var<storage, read> centres: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

const WG: u32 = 256u;

@compute @workgroup_size(WG)
fn gather_neighbourhood(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let e = (wid.y * nwg.x + wid.x) * WG + lid.x;
  if (e >= params.total) { return; }
  let c = e % 3u;
  let neighbour = e / 3u; // (b·G + g)·K + k
  let group = neighbour / params.K; // b·G + g
  let cloud = group / params.G;
  let i = index[neighbour];
  out[e] = points[(cloud * params.P + i) * 3u + c] - centres[group * 3u + c];
}
