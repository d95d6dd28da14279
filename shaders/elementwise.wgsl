// Elementwise kernels over flat f32 arrays. `n` is the element count; `inner` is the broadcast period of `b`.
// @include gelu
// @include elementwise_common

@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

// out = alpha * a + beta * b[i % inner]   (add, sub, broadcast bias add)
@compute @workgroup_size(WG)
fn axpby(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let i = index(wid, nwg, lid);
  if (i >= params.n) { return; }
  out[i] = params.alpha * a[i] + params.beta * b[i % params.inner];
}

// out = alpha * a * b
@compute @workgroup_size(WG)
fn mul(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let i = index(wid, nwg, lid);
  if (i >= params.n) { return; }
  out[i] = params.alpha * a[i] * b[i % params.inner];
}

// out = gelu'(a) * b   (backward of GELU: a is the pre-activation, b the incoming gradient)
@compute @workgroup_size(WG)
fn gelu_backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let i = index(wid, nwg, lid);
  if (i >= params.n) { return; }
  out[i] = gelu_grad(a[i]) * b[i];
}
