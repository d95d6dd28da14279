// CLoRA branch, first half for small bottlenecks (P ≤ 4·QV ≤ 16) on real GPUs: the same products as
// clora_lowrank_in.wgsl,
//   forward:  stage1 = Z = X·D_cat,  stage2 = W = dropout(Z_h·Q_h)
//   backward: stage1 = dY = alpha·mask·(dOut[:, cols]·U_catᵀ),  stage2 = dZ = dY_h·Q_hᵀ
// with LANES threads per row splitting K: lane l reads the row's vec4s at k = 4·l, 4·l + 4·LANES, … so the
// LANES lanes of a row read 16·LANES consecutive bytes together (coalesced, where one thread per row reads a
// row alone), each keeping partial sums of all P columns in registers. The partials meet in workgroup memory;
// each lane then finishes P / LANES columns of stage 1 and, after a barrier, of the core product.
// Workgroup: GROUP_ROWS rows × LANES lanes = 64 threads. Defines: QV, BACKWARD, DROPOUT, VEC_WIDE.
// @include clora_common
// @include clora_wide
// @include clora_bank_rows

@group(0) @binding(1) var<storage, read> wide: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> bank: array<f32>;
@group(0) @binding(3) var<storage, read> cores: array<f32>;
@group(0) @binding(4) var<storage, read_write> stage1: array<f32>;
@group(0) @binding(5) var<storage, read_write> stage2: array<f32>;

const LANES: u32 = 8u;      // threads per row (8 × 16 bytes: a 128-byte line)
const GROUP_ROWS: u32 = 8u; // rows per workgroup
const PQ: u32 = 4u * QV;    // bottleneck columns a thread accumulates (P ≤ PQ)
var<workgroup> part: array<f32, GROUP_ROWS * LANES * PQ>; // [row][lane][q] partial sums
var<workgroup> z_rows: array<f32, GROUP_ROWS * PQ>;      // [row][q] finished stage 1

@compute @workgroup_size(64)
fn lowrank_in_split(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let lane = lid.x % LANES;
  let local = lid.x / LANES;
  let row = (wid.y * nwg.x + wid.x) * GROUP_ROWS + local;
  let live = row < params.rows;
  let R = params.r;
  let P = params.p * R;
  var acc: array<vec4<f32>, QV>;
  if (live) { acc = row_bank_products(row, lane * 4u, LANES * 4u); }
  for (var j = 0u; j < QV; j++) {
    for (var c = 0u; c < 4u; c++) { part[(local * LANES + lane) * PQ + j * 4u + c] = acc[j][c]; }
  }
  workgroupBarrier();

  // Stage 1: column q summed over the row's lanes (Z, or the masked dY).
  for (var q = lane; q < P; q += LANES) {
    var v = 0.0;
    for (var l = 0u; l < LANES; l++) { v += part[(local * LANES + l) * PQ + q]; }
    if (BACKWARD) { v *= params.alpha * dropout_factor(row * P + q, DROPOUT); }
    z_rows[local * PQ + q] = v;
    if (live) { stage1[row * P + q] = v; }
  }
  workgroupBarrier();
  if (!live) { return; }

  // Stage 2: the r×r core of each space (forward Q_h, then dropout; backward Q_hᵀ).
  for (var q = lane; q < P; q += LANES) {
    let h = q / R;
    let co = q % R;
    let core = params.core_base + h * R * R;
    var y = 0.0;
    for (var c = 0u; c < R; c++) {
      let coreIndex = select(core + c * R + co, core + co * R + c, BACKWARD);
      y += z_rows[local * PQ + h * R + c] * cores[coreIndex];
    }
    if (!BACKWARD) { y *= dropout_factor(row * P + q, DROPOUT); }
    stage2[row * P + q] = y;
  }
}
