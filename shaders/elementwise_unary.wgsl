// One-input elementwise kernels and in-place updates. `n` is the element count.
// @include gelu
// @include elementwise_common

@group(0) @binding(1) var<storage, read_write> dst: array<f32>;

// dst = alpha   (fill)
@compute @workgroup_size(WG)
fn fill(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let i = index(wid, nwg, lid);
  if (i >= params.n) { return; }
  dst[i] = params.alpha;
}

@group(0) @binding(2) var<storage, read> src: array<f32>;

// dst += alpha * src   (gradient accumulation)
@compute @workgroup_size(WG)
fn add_into(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let i = index(wid, nwg, lid);
  if (i >= params.n) { return; }
  dst[i] = dst[i] + params.alpha * src[i];
}

// dst = alpha * src   (scale, copy)
@compute @workgroup_size(WG)
fn scale(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let i = index(wid, nwg, lid);
  if (i >= params.n) { return; }
  dst[i] = params.alpha * src[i];
}

// dst = gelu(src), exact-erf GELU
@compute @workgroup_size(WG)
fn gelu_forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let i = index(wid, nwg, lid);
  if (i >= params.n) { return; }
  let x = src[i];
  dst[i] = gelu(x);
}

// dst[inner + i] += alpha * src[i]   (merging an adapter's delta into rows of a weight; `inner` is the offset)
@compute @workgroup_size(WG)
fn add_at(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let i = index(wid, nwg, lid);
  if (i >= params.n) { return; }
  dst[params.inner + i] = dst[params.inner + i] + params.alpha * src[i];
}
