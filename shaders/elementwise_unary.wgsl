// One-input elementwise kernels and in-place updates. `n` is the element count. The storage type `act` of
// dst and src is f32 unless the launcher asks for f16 (mixed precision); arithmetic stays f32.
// @include gelu
// @include elementwise_common

alias act = f32; // @storage

@group(0) @binding(1) var<storage, read_write> dst: array<act>;

// dst = alpha   (fill)
@compute @workgroup_size(WG)
fn fill(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let i = index(wid, nwg, lid);
  if (i >= params.n) { return; }
  dst[i] = act(params.alpha);
}

@group(0) @binding(2) var<storage, read> src: array<act>;

// dst += alpha * src   (gradient accumulation)
@compute @workgroup_size(WG)
fn add_into(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let i = index(wid, nwg, lid);
  if (i >= params.n) { return; }
  dst[i] = act(f32(dst[i]) + params.alpha * f32(src[i]));
}

// dst = alpha * src   (scale, copy)
@compute @workgroup_size(WG)
fn scale(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let i = index(wid, nwg, lid);
  if (i >= params.n) { return; }
  dst[i] = act(params.alpha * f32(src[i]));
}

// dst = gelu(src), exact-erf GELU
@compute @workgroup_size(WG)
fn gelu_forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let i = index(wid, nwg, lid);
  if (i >= params.n) { return; }
  let x = f32(src[i]);
  dst[i] = act(gelu(x));
}

// dst[inner + i] += alpha * src[i]   (merging an adapter's delta into rows of a weight; `inner` is the offset)
@compute @workgroup_size(WG)
fn add_at(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let i = index(wid, nwg, lid);
  if (i >= params.n) { return; }
  dst[params.inner + i] = act(f32(dst[params.inner + i]) + params.alpha * f32(src[i]));
}
