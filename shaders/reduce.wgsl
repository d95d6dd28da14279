// Sums over one axis of a tensor viewed as [outer, len, inner] → [outer, inner], times `alpha`
// (alpha = 1/len gives the mean).

struct Params {
  outer: u32,
  len: u32,
  inner: u32,
  alpha: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

const WG: u32 = 256u;
var<workgroup> partial: array<f32, WG>;

// inner > 1: one thread per output; neighbouring threads read neighbouring addresses (coalesced).
@compute @workgroup_size(WG)
fn sum_strided(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let o = (wid.y * nwg.x + wid.x) * WG + lid.x;
  if (o >= params.outer * params.inner) { return; }
  let row = o / params.inner;
  let col = o % params.inner;
  var base = row * params.len * params.inner + col;
  var acc = 0.0;
  for (var i = 0u; i < params.len; i++) {
    acc += x[base];
    base += params.inner;
  }
  out[o] = params.alpha * acc;
}

// inner == 1: one workgroup per output row; strided partial sums, then a tree in workgroup memory.
@compute @workgroup_size(WG)
fn sum_last(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let row = wid.y * nwg.x + wid.x;
  let inRange = row < params.outer;
  var acc = 0.0;
  if (inRange) {
    for (var i = lid.x; i < params.len; i += WG) {
      acc += x[row * params.len + i];
    }
  }
  partial[lid.x] = acc;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride >>= 1u) {
    if (lid.x < stride) {
      partial[lid.x] += partial[lid.x + stride];
    }
    workgroupBarrier();
  }
  if (lid.x == 0u && inRange) {
    out[row] = params.alpha * partial[0];
  }
}

// Adjoint of the sums above: out[o, l, i] = alpha · g[o, i] for every l (x binds g, out the [outer, len, inner] result).
@compute @workgroup_size(WG)
fn broadcast_axis(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let e = (wid.y * nwg.x + wid.x) * WG + lid.x;
  if (e >= params.outer * params.len * params.inner) { return; }
  let col = e % params.inner;
  let row = e / (params.len * params.inner);
  out[e] = params.alpha * x[row * params.inner + col];
}
