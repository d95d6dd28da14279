enable subgroups;

// LayerNorm (timm: biased variance, eps inside the sqrt) with subgroup reductions, for adapters that offer
// `subgroups` with one fixed subgroup size: the same forward and input backward as shaders/layernorm.wgsl,
// one row per workgroup of exactly one subgroup (SG invocations, SG = the adapter's subgroup size). A row's
// sums meet in subgroupAdd: no workgroup memory and no barrier (the portable kernel spends log2(lanes)
// barriers per sum). Statistics stay two-pass (mean, then squared deviations).
//
// Why one subgroup per workgroup: the spec does not say how a larger workgroup's invocations split into
// subgroups, and drawing a subgroup's slot from a workgroup atomic returned 0 to every subgroup on
// SwiftShader. Adapters whose subgroup size varies take the portable kernels (src/kernels/layernorm.ts).
//
// Defines: SG.

struct Params {
  rows: u32,
  D: u32,
  eps: f32,
  rowsPerChunk: u32,
}

@group(0) @binding(0) var<uniform> params: Params;

@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> weight: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;
@group(0) @binding(5) var<storage, read_write> stats_out: array<f32>;

// y = (x − mean)·rstd·weight + bias; stats_out[2r] = mean, stats_out[2r + 1] = rstd.
@compute @workgroup_size(SG)
fn forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(subgroup_invocation_id) lane: u32) {
  let row = wid.y * nwg.x + wid.x;
  // Uniform across the workgroup (one subgroup), so the subgroup operations below run in uniform control flow.
  if (row >= params.rows) { return; }
  let D = params.D;
  let start = row * D;
  var s = 0.0;
  for (var j = lane; j < D; j += SG) { s += x[start + j]; }
  let mean = subgroupAdd(s) / f32(D);
  var q = 0.0;
  for (var j = lane; j < D; j += SG) {
    let d = x[start + j] - mean;
    q += d * d;
  }
  let rstd = inverseSqrt(subgroupAdd(q) / f32(D) + params.eps);
  for (var j = lane; j < D; j += SG) { y[start + j] = (x[start + j] - mean) * rstd * weight[j] + bias[j]; }
  if (lane == 0u) {
    stats_out[2u * row] = mean;
    stats_out[2u * row + 1u] = rstd;
  }
}

@group(0) @binding(1) var<storage, read> bx: array<f32>;
@group(0) @binding(2) var<storage, read> bweight: array<f32>;
@group(0) @binding(3) var<storage, read> grad: array<f32>;
@group(0) @binding(4) var<storage, read> stats: array<f32>;
@group(0) @binding(5) var<storage, read_write> dx: array<f32>;

// dx = rstd·(ĝ − mean(ĝ) − x̂·mean(ĝ·x̂)) with ĝ = grad·weight, x̂ = (x − mean)·rstd: both means in one reduction.
@compute @workgroup_size(SG)
fn backward_input(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(subgroup_invocation_id) lane: u32) {
  let row = wid.y * nwg.x + wid.x;
  if (row >= params.rows) { return; }
  let D = params.D;
  let start = row * D;
  let mean = stats[2u * row];
  let rstd = stats[2u * row + 1u];
  var acc = vec2<f32>(0.0, 0.0);
  for (var j = lane; j < D; j += SG) {
    let gh = grad[start + j] * bweight[j];
    acc += vec2<f32>(gh, gh * (bx[start + j] - mean) * rstd);
  }
  let sums = subgroupAdd(acc) / f32(D);
  for (var j = lane; j < D; j += SG) {
    let gh = grad[start + j] * bweight[j];
    let xh = (bx[start + j] - mean) * rstd;
    dx[start + j] = rstd * (gh - sums.x - xh * sums.y);
  }
}
