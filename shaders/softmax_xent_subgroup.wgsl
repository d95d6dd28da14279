enable subgroups;

// Cross-entropy with label smoothing, as shaders/softmax_xent.wgsl (same loss, same gradient (softmax −
// target)/N, same handling of labels outside [0, C): an ignored row, zero loss and gradient), with subgroup
// reductions: one row per workgroup of exactly one subgroup (SG invocations), the row max by subgroupMax and
// the sums by subgroupAdd — no workgroup memory, no barrier. For adapters with one fixed subgroup size
// (src/kernels/subgroups.ts).
//
// Defines: SG.

// @include xent_common

// Max, then Σ exp(z − max) and Σ z over the row; every lane of the subgroup calls it.
fn row_loss_of(lane: u32, row: u32) -> RowLoss {
  let C = params.C;
  let start = row * C;
  var m = -3.0e38;
  for (var c = lane; c < C; c += SG) { m = max(m, logits[start + c]); }
  let rowMax = subgroupMax(m);
  var acc = vec2<f32>(0.0, 0.0);
  for (var c = lane; c < C; c += SG) {
    let z = logits[start + c];
    acc += vec2<f32>(exp(z - rowMax), z);
  }
  let sums = subgroupAdd(acc);
  return finish_row_loss(row, true, rowMax, sums);
}

@compute @workgroup_size(SG)
fn loss_and_grad(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(subgroup_invocation_id) lane: u32) {
  let row = wid.y * nwg.x + wid.x;
  // Uniform across the workgroup (one subgroup): the subgroup operations run in uniform control flow.
  if (row >= params.N) { return; }
  let r = row_loss_of(lane, row);
  if (lane == 0u) { row_loss[row] = r.loss; }
  write_row_grad(row, lane, SG, r);
}

@compute @workgroup_size(SG)
fn loss_only(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(subgroup_invocation_id) lane: u32) {
  let row = wid.y * nwg.x + wid.x;
  if (row >= params.N) { return; }
  let r = row_loss_of(lane, row);
  if (lane == 0u) { row_loss[row] = r.loss; }
}
