enable subgroups;

// Cross-entropy with label smoothing, as shaders/softmax_xent.wgsl (same loss, same gradient (softmax −
// target)/N, same handling of labels outside [0, C): an ignored row, zero loss and gradient), with subgroup
// reductions: one row per workgroup of exactly one subgroup (SG invocations), the row max by subgroupMax and
// the sums by subgroupAdd — no workgroup memory, no barrier. For adapters with one fixed subgroup size
// (src/kernels/subgroups.ts).
//
// Defines: SG.

struct Params {
  N: u32,
  C: u32,
  smoothing: f32,
  invN: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read> labels: array<f32>;
@group(0) @binding(3) var<storage, read_write> row_loss: array<f32>;
@group(0) @binding(4) var<storage, read_write> grad: array<f32>;

struct RowLoss {
  label: u32,
  labelValid: bool,
  lse: f32,
  loss: f32,
}

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
  var out: RowLoss;
  out.lse = rowMax + log(max(sums.x, 1e-30));
  let y = labels[row];
  // NaN fails both comparisons, so it is rejected too.
  out.labelValid = y >= 0.0 && y < f32(C);
  out.label = select(0u, u32(y), out.labelValid);
  var zy = 0.0;
  if (out.labelValid) { zy = logits[start + out.label]; }
  let eps = params.smoothing;
  let nll = out.lse - zy;
  let uniformNll = out.lse - sums.y / f32(C);
  out.loss = select(0.0, (1.0 - eps) * nll + eps * uniformNll, out.labelValid);
  return out;
}

@compute @workgroup_size(SG)
fn loss_and_grad(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(subgroup_invocation_id) lane: u32) {
  let row = wid.y * nwg.x + wid.x;
  // Uniform across the workgroup (one subgroup): the subgroup operations run in uniform control flow.
  if (row >= params.N) { return; }
  let r = row_loss_of(lane, row);
  if (lane == 0u) { row_loss[row] = r.loss; }
  let C = params.C;
  let start = row * C;
  let eps = params.smoothing;
  let uniformTarget = eps / f32(C);
  let scale = select(0.0, params.invN, r.labelValid);
  for (var c = lane; c < C; c += SG) {
    let p = exp(logits[start + c] - r.lse);
    let tgt = select(uniformTarget, 1.0 - eps + uniformTarget, c == r.label);
    grad[start + c] = (p - tgt) * scale;
  }
}

@compute @workgroup_size(SG)
fn loss_only(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(subgroup_invocation_id) lane: u32) {
  let row = wid.y * nwg.x + wid.x;
  if (row >= params.N) { return; }
  let r = row_loss_of(lane, row);
  if (lane == 0u) { row_loss[row] = r.loss; }
}
