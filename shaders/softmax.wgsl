// Softmax over the last axis of scale·x, x viewed as [rows, cols], and its backward
// dx = scale·y∘(dy − rowsum(dy∘y)) (scale: attention's head_dim^-0.5, folded in here instead of a pass).
// A 256-thread workgroup holds WG / ROW_THREADS rows, ROW_THREADS threads per row (a power of two ≥ 32 picked
// from cols on the host: long rows get the whole workgroup, short rows do not idle most of it). Each thread
// strides over its row (neighbouring threads read neighbouring addresses) and the partial results meet in a
// tree in workgroup memory. The row max is subtracted before exp, so logits of any magnitude stay finite.
//
// Defines: ROW_THREADS. Storage type `act` (x, y, dy, dx) is f32 unless the launcher asks for f16 (mixed
// precision: attention scores and probabilities); max, exp and sums stay f32.

alias act = f32; // @storage

struct Params {
  rows: u32,
  cols: u32,
  scale: f32,
}

@group(0) @binding(0) var<uniform> params: Params;

const WG: u32 = 256u;
const NEG_BIG: f32 = -3.0e38;

var<workgroup> partial: array<f32, WG>;

// Max (is_max) or sum of `v` over the ROW_THREADS lanes of one row; every thread of the workgroup calls it.
fn row_reduce(lid: u32, v: f32, is_max: bool) -> f32 {
  let lane = lid % ROW_THREADS;
  partial[lid] = v;
  workgroupBarrier();
  for (var stride = ROW_THREADS / 2u; stride > 0u; stride >>= 1u) {
    if (lane < stride) {
      let other = partial[lid + stride];
      partial[lid] = select(partial[lid] + other, max(partial[lid], other), is_max);
    }
    workgroupBarrier();
  }
  let total = partial[lid - lane];
  workgroupBarrier(); // the next call overwrites `partial`
  return total;
}

@group(0) @binding(1) var<storage, read> x: array<act>;
@group(0) @binding(2) var<storage, read_write> y: array<act>;

@compute @workgroup_size(WG)
fn forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let row = (wid.y * nwg.x + wid.x) * (WG / ROW_THREADS) + lid.x / ROW_THREADS;
  let lane = lid.x % ROW_THREADS;
  let in_range = row < params.rows;
  let base = row * params.cols;

  var local_max = NEG_BIG;
  if (in_range) {
    for (var c = lane; c < params.cols; c += ROW_THREADS) { local_max = max(local_max, params.scale * f32(x[base + c])); }
  }
  let row_max = row_reduce(lid.x, local_max, true);

  var local_sum = 0.0;
  if (in_range) {
    for (var c = lane; c < params.cols; c += ROW_THREADS) { local_sum += exp(params.scale * f32(x[base + c]) - row_max); }
  }
  let inv = 1.0 / row_reduce(lid.x, local_sum, false);

  // Recomputing exp costs less than writing the exponentials out and reading them back.
  if (in_range) {
    for (var c = lane; c < params.cols; c += ROW_THREADS) { y[base + c] = act(exp(params.scale * f32(x[base + c]) - row_max) * inv); }
  }
}

@group(0) @binding(1) var<storage, read> y_in: array<act>;
@group(0) @binding(2) var<storage, read> dy: array<act>;
@group(0) @binding(3) var<storage, read_write> dx: array<act>;

@compute @workgroup_size(WG)
fn backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let row = (wid.y * nwg.x + wid.x) * (WG / ROW_THREADS) + lid.x / ROW_THREADS;
  let lane = lid.x % ROW_THREADS;
  let in_range = row < params.rows;
  let base = row * params.cols;

  var local_dot = 0.0;
  if (in_range) {
    for (var c = lane; c < params.cols; c += ROW_THREADS) { local_dot += f32(dy[base + c]) * f32(y_in[base + c]); }
  }
  let row_dot = row_reduce(lid.x, local_dot, false);

  if (in_range) {
    for (var c = lane; c < params.cols; c += ROW_THREADS) {
      let yc = f32(y_in[base + c]);
      dx[base + c] = act(params.scale * yc * (f32(dy[base + c]) - row_dot));
    }
  }
}
