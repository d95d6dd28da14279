enable subgroups;

// Sums over one axis of a tensor viewed as [outer, len, inner], times alpha, with subgroup reductions: the
// same results as shaders/reduce.wgsl for adapters that offer `subgroups` with one fixed size. Every
// workgroup is exactly one subgroup (SG invocations), since the spec does not say how a larger workgroup
// splits into subgroups (see shaders/layernorm_subgroup.wgsl); lanes meet in subgroup operations, never in
// workgroup memory, and no kernel here has a barrier.
//
// Defines: SG (the subgroup size), COL_LANES (columns side by side in a subgroup for the column sums; a
// power of two dividing SG).

struct Params {
  outer: u32,
  len: u32,
  inner: u32,
  alpha: f32,
  // Column sums only: rows per chunk and chunks per outer index (one workgroup per strip × chunk × outer).
  rowsPerChunk: u32,
  chunks: u32,
  strips: u32,
}

@group(0) @binding(0) var<uniform> params: Params;

@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> x4: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read_write> out4: array<vec4<f32>>;

const ROW_LANES: u32 = SG / COL_LANES;

// ---------------------------------------------------------------------------------------------------------
// Row sums (inner == 1): one row per workgroup, each lane a strided partial sum, then one subgroupAdd.

@compute @workgroup_size(SG)
fn sum_last(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(subgroup_invocation_id) lane: u32) {
  let row = wid.y * nwg.x + wid.x;
  // Uniform across the workgroup (one subgroup): the subgroup operation below runs in uniform control flow.
  if (row >= params.outer) { return; }
  let start = row * params.len;
  var acc = 0.0;
  for (var i = lane; i < params.len; i += SG) { acc += x[start + i]; }
  let total = subgroupAdd(acc);
  if (lane == 0u) { out[row] = params.alpha * total; }
}

// The same for len % 4 == 0: 16-byte loads, consecutive lanes on consecutive vec4s (len4 = len / 4).
@compute @workgroup_size(SG)
fn sum_last_vec4(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(subgroup_invocation_id) lane: u32) {
  let row = wid.y * nwg.x + wid.x;
  if (row >= params.outer) { return; }
  let len4 = params.len / 4u;
  let start = row * len4;
  var acc = vec4<f32>(0.0);
  for (var i = lane; i < len4; i += SG) { acc += x4[start + i]; }
  let total = subgroupAdd(acc.x + acc.y + acc.z + acc.w);
  if (lane == 0u) { out[row] = params.alpha * total; }
}

// ---------------------------------------------------------------------------------------------------------
// Column sums (inner > 1; bias gradients sum [rows, cols] over rows). A workgroup owns a strip of COL_LANES
// columns (vec4 columns in the _vec4 entry) and a chunk of rows of one outer index. Lane = rowLane·COL_LANES
// + colLane: the COL_LANES lanes of a row lane read one contiguous segment of a row (coalesced; 128 bytes
// for NVIDIA's 32 lanes in vec4), the ROW_LANES row lanes walk the chunk's rows in step, and a butterfly of
// subgroupShuffleXor over the row-lane bits adds their partial sums. With more than one chunk the results
// are partial sums [outer, chunks, inner] that the launcher sums again (chunks = 1) — enough workgroups to
// fill a GPU when the columns alone are few (768 columns are 24 strips on NVIDIA).

struct Strip {
  outerIndex: u32,
  chunk: u32,
  col: u32,
  rowLane: u32,
  valid: bool,
}

// Which strip, chunk and outer index a workgroup owns, and this lane's column and row lane in it.
fn strip_of(group: u32, lane: u32, width: u32) -> Strip {
  var s: Strip;
  let strip = group % params.strips;
  let rest = group / params.strips;
  s.chunk = rest % params.chunks;
  s.outerIndex = rest / params.chunks;
  s.col = strip * COL_LANES + lane % COL_LANES;
  s.rowLane = lane / COL_LANES;
  s.valid = s.col < width;
  return s;
}

// Where a strip's column total goes: [outer, chunks, width] (chunks = 1: the final [outer, width]).
fn out_index(s: Strip, width: u32) -> u32 {
  return (s.outerIndex * params.chunks + s.chunk) * width + s.col;
}

@compute @workgroup_size(SG)
fn sum_cols(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(subgroup_invocation_id) lane: u32) {
  let group = wid.y * nwg.x + wid.x;
  if (group >= params.outer * params.chunks * params.strips) { return; }
  let width = params.inner;
  let s = strip_of(group, lane, width);
  let first = s.chunk * params.rowsPerChunk;
  let last = min(first + params.rowsPerChunk, params.len);
  var acc = 0.0;
  if (s.valid) {
    var at = (s.outerIndex * params.len + first + s.rowLane) * width + s.col;
    for (var l = first + s.rowLane; l < last; l += ROW_LANES) {
      acc += x[at];
      at += ROW_LANES * width;
    }
  }
  // Lanes are back in step here (the return above is uniform), so every lane takes part in the shuffles.
  for (var m = COL_LANES; m < SG; m <<= 1u) { acc += subgroupShuffleXor(acc, m); }
  if (s.valid && s.rowLane == 0u) { out[out_index(s, width)] = params.alpha * acc; }
}

// The same over vec4 columns (inner % 4 == 0; width = inner / 4).
@compute @workgroup_size(SG)
fn sum_cols_vec4(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(subgroup_invocation_id) lane: u32) {
  let group = wid.y * nwg.x + wid.x;
  if (group >= params.outer * params.chunks * params.strips) { return; }
  let width = params.inner / 4u;
  let s = strip_of(group, lane, width);
  let first = s.chunk * params.rowsPerChunk;
  let last = min(first + params.rowsPerChunk, params.len);
  var acc = vec4<f32>(0.0);
  if (s.valid) {
    var at = (s.outerIndex * params.len + first + s.rowLane) * width + s.col;
    for (var l = first + s.rowLane; l < last; l += ROW_LANES) {
      acc += x4[at];
      at += ROW_LANES * width;
    }
  }
  for (var m = COL_LANES; m < SG; m <<= 1u) { acc += subgroupShuffleXor(acc, m); }
  if (s.valid && s.rowLane == 0u) { out4[out_index(s, width)] = params.alpha * acc; }
}
