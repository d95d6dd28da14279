// Cross-entropy with label smoothing on logits [N, C], labels [N] (f32 class ids), in ONE pass per row:
// the row loss and its gradient (softmax − target)/N come from the same max and sum of exponentials.
// Target: (1 − ε)·onehot(y) + ε/C, so loss_r = (1 − ε)·(lse − z_y) + ε·(lse − mean_c z_c).
// A 256-thread workgroup holds WG / ROW_THREADS rows (ROW_THREADS, a power of two ≥ 32, is picked from C).
//
// Labels are validated on the CPU when batches are built; the GPU cannot report a bad one without a
// read. So the kernel only guards memory: a label that is not in [0, C) (negative, too large or NaN)
// reads no logit by it, and the row counts as ignored — zero loss, zero gradient (the mean still divides by N).
//
// Defines: ROW_THREADS.

// @include xent_common

const WG: u32 = 256u;

var<workgroup> partial: array<vec2<f32>, WG>;

// Per-lane combine over the ROW_THREADS lanes of a row: x by max (or sum), y by sum. All threads call it.
fn row_reduce(lid: u32, v: vec2<f32>, take_max: bool) -> vec2<f32> {
  let base = lid - lid % ROW_THREADS;
  let lane = lid % ROW_THREADS;
  partial[lid] = v;
  workgroupBarrier();
  for (var stride = ROW_THREADS / 2u; stride > 0u; stride >>= 1u) {
    if (lane < stride) {
      let a = partial[lid];
      let b = partial[lid + stride];
      partial[lid] = vec2<f32>(select(a.x + b.x, max(a.x, b.x), take_max), a.y + b.y);
    }
    workgroupBarrier();
  }
  let total = partial[base];
  workgroupBarrier();
  return total;
}

// Max, then Σ exp(z − max) and Σ z; every thread of the workgroup must call it.
fn row_loss_of(lid: u32, row: u32, valid: bool) -> RowLoss {
  let lane = lid % ROW_THREADS;
  let C = params.C;
  let start = row * C;
  // Far below any logit but finite, so exp(z − max) stays well defined for padding lanes.
  var m = -3.0e38;
  if (valid) {
    for (var c = lane; c < C; c += ROW_THREADS) { m = max(m, logits[start + c]); }
  }
  let rowMax = row_reduce(lid, vec2<f32>(m, 0.0), true).x;
  var acc = vec2<f32>(0.0, 0.0);
  if (valid) {
    for (var c = lane; c < C; c += ROW_THREADS) {
      let z = logits[start + c];
      acc += vec2<f32>(exp(z - rowMax), z);
    }
  }
  let sums = row_reduce(lid, acc, false);
  return finish_row_loss(row, valid, rowMax, sums);
}

// row_loss[r] = loss of row r and grad[r, c] = (softmax − target)/N, from one read of the row's statistics.
@compute @workgroup_size(WG)
fn loss_and_grad(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid3: vec3<u32>) {
  let lid = lid3.x;
  let lane = lid % ROW_THREADS;
  let row = (wid.y * nwg.x + wid.x) * (WG / ROW_THREADS) + lid / ROW_THREADS;
  let valid = row < params.N;
  let r = row_loss_of(lid, row, valid);
  if (!valid) { return; }
  if (lane == 0u) { row_loss[row] = r.loss; }
  write_row_grad(row, lane, ROW_THREADS, r);
}

// Loss only (inference, or nothing to differentiate): same statistics, no gradient written.
@compute @workgroup_size(WG)
fn loss_only(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid3: vec3<u32>) {
  let lid = lid3.x;
  let row = (wid.y * nwg.x + wid.x) * (WG / ROW_THREADS) + lid / ROW_THREADS;
  let valid = row < params.N;
  let r = row_loss_of(lid, row, valid);
  if (valid && lid % ROW_THREADS == 0u) { row_loss[row] = r.loss; }
}
