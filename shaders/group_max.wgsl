// Max over an axis, and its backward (the mini-PointNet's max over a group's K points, and the max over the
// G tokens of Point-MAE's features). x is viewed as [outer, stride, inner]; the max runs over the `len`
// entries l = offset … offset + len − 1 of the middle axis:
//   forward:   y[o, i] = max_l x[o, l, i],   arg[o, i] = the first l − offset reaching it (ties: lowest l);
//   backward:  dx[o, l, i] = dy[o, i] where l − offset = arg[o, i], else 0 (the whole gradient goes to the
//              one entry the forward picked, entries outside the range get 0).
// One thread per output element, consecutive threads on consecutive i (coalesced reads along the rows).
// f32 only: both uses run outside the blocks' mixed-precision activations.

struct Params {
  total: u32, // forward: outer·inner; backward: outer·stride·inner
  stride: u32,
  offset: u32,
  len: u32,
  inner: u32,
}

@group(0) @binding(0) var<uniform> params: Params;

const WG: u32 = 256u;

fn flat(wid: vec3<u32>, nwg: vec3<u32>, lid: vec3<u32>) -> u32 {
  return (wid.y * nwg.x + wid.x) * WG + lid.x;
}

@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<storage, read_write> arg: array<u32>;

@compute @workgroup_size(WG)
fn max_forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let e = flat(wid, nwg, lid);
  if (e >= params.total) { return; }
  let inner = params.inner;
  let o = e / inner;
  let i = e % inner;
  let base = (o * params.stride + params.offset) * inner + i;
  var best = x[base];
  var which = 0u;
  for (var l = 1u; l < params.len; l++) {
    let v = x[base + l * inner];
    if (v > best) { best = v; which = l; }
  }
  y[e] = best;
  arg[e] = which;
}

@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> picked: array<u32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;

@compute @workgroup_size(WG)
fn max_backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let e = flat(wid, nwg, lid);
  if (e >= params.total) { return; }
  let inner = params.inner;
  let i = e % inner;
  let l = (e / inner) % params.stride;
  let o = e / (inner * params.stride);
  var v = 0.0;
  if (l >= params.offset && l < params.offset + params.len && picked[o * inner + i] == l - params.offset) {
    v = dy[o * inner + i];
  }
  dx[e] = v;
}
