// Shared by the cross-entropy kernels (`// @include xent_common`: softmax_xent.wgsl and its subgroup variant):
// the parameter block and bindings, and what follows once a row's max and sums are known — the row loss and
// the gradient (softmax − target)/N. Target: (1 − ε)·onehot(y) + ε/C. A label outside [0, C) (negative, too
// large or NaN) reads no logit by it, and the row counts as ignored: zero loss, zero gradient.

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

// The row's loss from its max and (Σ exp(z − max), Σ z); `valid` is false for padding rows past N.
fn finish_row_loss(row: u32, valid: bool, rowMax: f32, sums: vec2<f32>) -> RowLoss {
  let C = params.C;
  var out: RowLoss;
  out.lse = rowMax + log(max(sums.x, 1e-30));
  var y = -1.0;
  if (valid) { y = labels[row]; }
  // NaN fails both comparisons, so it is rejected too.
  out.labelValid = valid && y >= 0.0 && y < f32(C);
  out.label = select(0u, u32(y), out.labelValid);
  var zy = 0.0;
  if (out.labelValid) { zy = logits[row * C + out.label]; }
  let eps = params.smoothing;
  // Written as differences first: each is ≥ 0 and exact when the row has a single class.
  let nll = out.lse - zy;
  let uniformNll = out.lse - sums.y / f32(C);
  out.loss = select(0.0, (1.0 - eps) * nll + eps * uniformNll, out.labelValid);
  return out;
}

// grad[row, c] for the columns lane, lane + step, …; an ignored row gets zeros (its scale is 0).
fn write_row_grad(row: u32, lane: u32, step: u32, r: RowLoss) {
  let C = params.C;
  let start = row * C;
  let eps = params.smoothing;
  let uniformTarget = eps / f32(C);
  let scale = select(0.0, params.invN, r.labelValid);
  for (var c = lane; c < C; c += step) {
    let p = exp(logits[start + c] - r.lse);
    let tgt = select(uniformTarget, 1.0 - eps + uniformTarget, c == r.label);
    grad[start + c] = (p - tgt) * scale;
  }
}
