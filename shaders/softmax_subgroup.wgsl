enable subgroups;

// Softmax over the last axis of scale·x ([rows, cols]) and its backward dx = scale·y∘(dy − rowsum(dy∘y)),
// with subgroup reductions: the same results as shaders/softmax.wgsl, one row per workgroup of exactly one
// subgroup (SG invocations), the row max and sums by subgroupMax / subgroupAdd — no workgroup memory, no
// barrier. Used on adapters with one fixed subgroup size (src/kernels/subgroups.ts).
//
// Defines: SG.

struct Params {
  rows: u32,
  cols: u32,
  scale: f32,
}

@group(0) @binding(0) var<uniform> params: Params;

const NEG_BIG: f32 = -3.0e38;

@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(SG)
fn forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(subgroup_invocation_id) lane: u32) {
  let row = wid.y * nwg.x + wid.x;
  // Uniform across the workgroup (one subgroup): the subgroup operations stay in uniform control flow.
  if (row >= params.rows) { return; }
  let base = row * params.cols;
  var local_max = NEG_BIG;
  for (var c = lane; c < params.cols; c += SG) { local_max = max(local_max, params.scale * x[base + c]); }
  let row_max = subgroupMax(local_max);
  var local_sum = 0.0;
  for (var c = lane; c < params.cols; c += SG) { local_sum += exp(params.scale * x[base + c] - row_max); }
  let inv = 1.0 / subgroupAdd(local_sum);
  for (var c = lane; c < params.cols; c += SG) { y[base + c] = exp(params.scale * x[base + c] - row_max) * inv; }
}

@group(0) @binding(1) var<storage, read> y_in: array<f32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;

@compute @workgroup_size(SG)
fn backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(subgroup_invocation_id) lane: u32) {
  let row = wid.y * nwg.x + wid.x;
  if (row >= params.rows) { return; }
  let base = row * params.cols;
  var local_dot = 0.0;
  for (var c = lane; c < params.cols; c += SG) { local_dot += dy[base + c] * y_in[base + c]; }
  let row_dot = subgroupAdd(local_dot);
  for (var c = lane; c < params.cols; c += SG) {
    let yc = y_in[base + c];
    dx[base + c] = params.scale * yc * (dy[base + c] - row_dot);
  }
}
