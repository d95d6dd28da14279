// Shared by matmul.wgsl and matmul_thin.wgsl: the epilogue of C = op(A)·op(B) at output element i of column n.
// z = acc + bias; optionally kept (pre-activation for GELU's backward); out (+)= gelu?(z) or relu?(z).
// ReLU's backward needs no pre-activation: relu(z) > 0 exactly where z > 0. Needs the `gelu` include, the
// bindings `out`, `bias`, `pre`, the storage alias c_t and the epilogue defines.
fn epilogue(i: u32, n: u32, acc: f32) {
  var z = acc;
  if (HAS_BIAS) { z += bias[n]; }
  if (STORE_PRE) { pre[i] = c_t(z); }
  var y = z;
  if (GELU) { y = gelu(z); }
  if (RELU) { y = max(z, 0.0); }
  if (ACCUMULATE) { y += f32(out[i]); }
  out[i] = c_t(y);
}
