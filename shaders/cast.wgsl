// Element type conversion between f32 and f16 storage (mixed precision: where activations enter or leave
// the f16 part of a network, and the backward of such a conversion). One thread per element.
// @include elementwise_common

alias src_t = f32; // @storage
alias dst_t = f32; // @storage

@group(0) @binding(1) var<storage, read> src: array<src_t>;
@group(0) @binding(2) var<storage, read_write> dst: array<dst_t>;

@compute @workgroup_size(WG)
fn convert(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let i = index(wid, nwg, lid);
  if (i >= params.n) { return; }
  dst[i] = dst_t(src[i]);
}
