// Elementwise kernels over flat arrays. `n` is the element count; `inner` is the broadcast period of `b`.
// Storage types a_t, b_t, out_t are f32 unless the launcher asks for f16 (mixed precision): values are
// widened to f32 on load and the arithmetic stays f32.
// @include gelu
// @include elementwise_common

alias a_t = f32; // @storage
alias b_t = f32; // @storage
alias out_t = f32; // @storage

@group(0) @binding(1) var<storage, read> a: array<a_t>;
@group(0) @binding(2) var<storage, read> b: array<b_t>;
@group(0) @binding(3) var<storage, read_write> out: array<out_t>;

// out = alpha * a + beta * b[i % inner]   (add, sub, broadcast bias add)
@compute @workgroup_size(WG)
fn axpby(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let i = index(wid, nwg, lid);
  if (i >= params.n) { return; }
  out[i] = out_t(params.alpha * f32(a[i]) + params.beta * f32(b[i % params.inner]));
}

// out = alpha * a * b
@compute @workgroup_size(WG)
fn mul(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let i = index(wid, nwg, lid);
  if (i >= params.n) { return; }
  out[i] = out_t(params.alpha * f32(a[i]) * f32(b[i % params.inner]));
}

// out = gelu'(a) * b   (backward of GELU: a is the pre-activation, b the incoming gradient)
@compute @workgroup_size(WG)
fn gelu_backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let i = index(wid, nwg, lid);
  if (i >= params.n) { return; }
  out[i] = out_t(gelu_grad(f32(a[i])) * f32(b[i]));
}

// out = b where a > 0, else 0   (backward of ReLU: a is its output (or input), b the incoming gradient)
@compute @workgroup_size(WG)
fn relu_backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let i = index(wid, nwg, lid);
  if (i >= params.n) { return; }
  out[i] = out_t(select(0.0, f32(b[i]), f32(a[i]) > 0.0));
}
