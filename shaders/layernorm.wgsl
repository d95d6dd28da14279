// LayerNorm over the last axis of x viewed as [rows, D] (timm: biased variance, eps inside the sqrt).
// Row kernels: a 256-thread workgroup holds WG / ROW_THREADS rows, ROW_THREADS threads per row
// (ROW_THREADS is a power of two ≥ 32 picked from D on the host, so small D does not idle a workgroup).
// Each thread strides over its row (neighbouring threads read neighbouring addresses) and the partial sums
// meet in a tree in workgroup memory. Statistics are two-pass (mean, then squared deviations) because
// E[x²] − mean² loses digits when |mean| ≫ std. The forward saves per-row [mean, rstd] for the backward.
//
// Defines: ROW_THREADS (row kernels).
//
// Storage types: x_t for x (and its gradient dx), y_t for y (and its gradient), f32 unless the launcher
// asks for f16 (mixed precision); weight, bias, statistics and every sum stay f32.

alias x_t = f32; // @storage
alias y_t = f32; // @storage

struct Params {
  rows: u32,
  D: u32,
  eps: f32,
  rowsPerChunk: u32,
}

@group(0) @binding(0) var<uniform> params: Params;

const WG: u32 = 256u;

var<workgroup> partial: array<f32, WG>;
var<workgroup> partial2: array<vec2<f32>, WG>;

fn row_group(wid: vec3<u32>, nwg: vec3<u32>) -> u32 {
  return wid.y * nwg.x + wid.x;
}

// Sum of `v` over the ROW_THREADS lanes of one row; every thread of the workgroup must call it.
fn row_sum(lid: u32, v: f32) -> f32 {
  let base = lid - lid % ROW_THREADS;
  let lane = lid % ROW_THREADS;
  partial[lid] = v;
  workgroupBarrier();
  for (var stride = ROW_THREADS / 2u; stride > 0u; stride >>= 1u) {
    if (lane < stride) {
      partial[lid] += partial[lid + stride];
    }
    workgroupBarrier();
  }
  let total = partial[base];
  workgroupBarrier(); // the next call overwrites `partial`
  return total;
}

fn row_sum2(lid: u32, v: vec2<f32>) -> vec2<f32> {
  let base = lid - lid % ROW_THREADS;
  let lane = lid % ROW_THREADS;
  partial2[lid] = v;
  workgroupBarrier();
  for (var stride = ROW_THREADS / 2u; stride > 0u; stride >>= 1u) {
    if (lane < stride) {
      partial2[lid] += partial2[lid + stride];
    }
    workgroupBarrier();
  }
  let total = partial2[base];
  workgroupBarrier();
  return total;
}

@group(0) @binding(1) var<storage, read> x: array<x_t>;
@group(0) @binding(2) var<storage, read> weight: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<y_t>;
@group(0) @binding(5) var<storage, read_write> stats_out: array<f32>;

// y = (x − mean)·rstd·weight + bias; stats_out[2r] = mean, stats_out[2r + 1] = rstd.
@compute @workgroup_size(WG)
fn forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid3: vec3<u32>) {
  let lid = lid3.x;
  let lane = lid % ROW_THREADS;
  let row = row_group(wid, nwg) * (WG / ROW_THREADS) + lid / ROW_THREADS;
  let valid = row < params.rows;
  let D = params.D;
  let start = row * D;

  var s = 0.0;
  if (valid) {
    for (var j = lane; j < D; j += ROW_THREADS) { s += f32(x[start + j]); }
  }
  let mean = row_sum(lid, s) / f32(D);
  var q = 0.0;
  if (valid) {
    for (var j = lane; j < D; j += ROW_THREADS) {
      let d = f32(x[start + j]) - mean;
      q += d * d;
    }
  }
  let rstd = inverseSqrt(row_sum(lid, q) / f32(D) + params.eps);
  if (!valid) { return; }
  for (var j = lane; j < D; j += ROW_THREADS) {
    y[start + j] = y_t((f32(x[start + j]) - mean) * rstd * weight[j] + bias[j]);
  }
  if (lane == 0u) {
    stats_out[2u * row] = mean;
    stats_out[2u * row + 1u] = rstd;
  }
}

@group(0) @binding(1) var<storage, read> bx: array<x_t>;
@group(0) @binding(2) var<storage, read> bweight: array<f32>;
@group(0) @binding(3) var<storage, read> grad: array<y_t>;
@group(0) @binding(4) var<storage, read> stats: array<f32>;
@group(0) @binding(5) var<storage, read_write> dx: array<x_t>;

// dx = rstd·(ĝ − mean(ĝ) − x̂·mean(ĝ·x̂)) with ĝ = grad·weight, x̂ = (x − mean)·rstd: both means in one reduction.
@compute @workgroup_size(WG)
fn backward_input(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid3: vec3<u32>) {
  let lid = lid3.x;
  let lane = lid % ROW_THREADS;
  let row = row_group(wid, nwg) * (WG / ROW_THREADS) + lid / ROW_THREADS;
  let valid = row < params.rows;
  let D = params.D;
  let start = row * D;
  var mean = 0.0;
  var rstd = 0.0;
  var acc = vec2<f32>(0.0, 0.0);
  if (valid) {
    mean = stats[2u * row];
    rstd = stats[2u * row + 1u];
    for (var j = lane; j < D; j += ROW_THREADS) {
      let gh = f32(grad[start + j]) * bweight[j];
      acc += vec2<f32>(gh, gh * (f32(bx[start + j]) - mean) * rstd);
    }
  }
  let sums = row_sum2(lid, acc) / f32(D);
  if (!valid) { return; }
  for (var j = lane; j < D; j += ROW_THREADS) {
    let gh = f32(grad[start + j]) * bweight[j];
    let xh = (f32(bx[start + j]) - mean) * rstd;
    dx[start + j] = x_t(rstd * (gh - sums.x - xh * sums.y));
  }
}

@group(0) @binding(1) var<storage, read> px: array<x_t>;
@group(0) @binding(2) var<storage, read> pgrad: array<y_t>;
@group(0) @binding(3) var<storage, read> pstats: array<f32>;
@group(0) @binding(4) var<storage, read_write> dweight_part: array<f32>;
@group(0) @binding(5) var<storage, read_write> dbias_part: array<f32>;

const COLS: u32 = 64u;

// Column partial sums for dweight = Σ_rows grad·x̂ and dbias = Σ_rows grad, without atomics: workgroup
// (cx, chunk) sums `rowsPerChunk` rows of 64 adjacent columns (coalesced row reads) into row `chunk` of the
// partial buffers [chunks, D]; the host then sums the chunks (one chunk: the partials are the result).
@compute @workgroup_size(COLS)
fn backward_params(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let D = params.D;
  let col = wid.x * COLS + lid.x;
  if (col >= D) { return; }
  let chunk = wid.y;
  let first = chunk * params.rowsPerChunk;
  let last = min(first + params.rowsPerChunk, params.rows);
  var dw = 0.0;
  var db = 0.0;
  for (var r = first; r < last; r++) {
    let g = f32(pgrad[r * D + col]);
    dw += g * (f32(px[r * D + col]) - pstats[2u * r]) * pstats[2u * r + 1u];
    db += g;
  }
  dweight_part[chunk * D + col] = dw;
  dbias_part[chunk * D + col] = db;
}
