// k nearest neighbours of each group centre (clora-spec §4 grouping):
//   for centre c_g of cloud b: the K indices i with the smallest |p_i − c_g|², nearest first, ties broken by
//   the lower index; the centre itself (distance 0) is one of them.
// No backward: points are data.
//
// One thread per centre, WG centres of one cloud per workgroup. The cloud streams through workgroup memory in
// tiles of TILE points that every thread of the workgroup reads (one global read per point per workgroup
// instead of per centre). Each thread keeps its K best (distance, index) pairs sorted in private memory (the
// layout PyTorch3D's knn_points uses): a point enters when it is strictly nearer than the K-th, and goes
// after every kept entry at a distance ≤ its own. Points arrive in increasing index, so equal distances stay
// in index order.
//
// Bindings: points [B, P, 3] f32; centres [B, G, 3] f32; index [B, G, K] u32. Defines: WG, TILE, K.

struct Params {
  P: u32,
  G: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> points: array<f32>;
@group(0) @binding(2) var<storage, read> centres: array<f32>;
@group(0) @binding(3) var<storage, read_write> index: array<u32>;

var<workgroup> tile: array<vec3<f32>, TILE>;

@compute @workgroup_size(WG)
fn knn(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let P = params.P;
  let G = params.G;
  let cloud = wid.y;
  let g = wid.x * WG + lid.x;
  let isCentre = g < G;
  var centre = vec3<f32>(0.0);
  if (isCentre) {
    let at = (cloud * G + g) * 3u;
    centre = vec3<f32>(centres[at], centres[at + 1u], centres[at + 2u]);
  }

  var bestD: array<f32, K>;
  var bestI: array<u32, K>;
  for (var j = 0u; j < K; j++) {
    bestD[j] = 3.4e38;
    bestI[j] = 0u;
  }

  let base = cloud * P * 3u;
  for (var start = 0u; start < P; start += TILE) {
    for (var j = lid.x; j < TILE; j += WG) {
      let i = start + j;
      if (i < P) {
        tile[j] = vec3<f32>(points[base + 3u * i], points[base + 3u * i + 1u], points[base + 3u * i + 2u]);
      }
    }
    workgroupBarrier();
    let count = min(TILE, P - start);
    if (isCentre) {
      for (var j = 0u; j < count; j++) {
        let e = tile[j] - centre;
        let d = e.x * e.x + e.y * e.y + e.z * e.z;
        if (d < bestD[K - 1u]) {
          // Shift the entries farther than d one place down, then insert.
          var at = K - 1u;
          while (at > 0u && bestD[at - 1u] > d) {
            bestD[at] = bestD[at - 1u];
            bestI[at] = bestI[at - 1u];
            at--;
          }
          bestD[at] = d;
          bestI[at] = start + j;
        }
      }
    }
    workgroupBarrier();
  }

  if (isCentre) {
    let out = (cloud * G + g) * K;
    for (var j = 0u; j < K; j++) { index[out + j] = bestI[j]; }
  }
}
