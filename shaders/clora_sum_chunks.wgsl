// Adds the chunk partial sums of the CLoRA (and SADE Gram) reductions — no float atomics anywhere:
//   out[e] = alpha · Σ_c part[c][e − out_offset]  inside the block [out_offset, out_offset + n), 0 elsewhere
// in out[0, out_size) (params.k = n). Consecutive threads read consecutive partials of one chunk (coalesced).
// @include clora_common

@group(0) @binding(1) var<storage, read> part: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(256)
fn sum_chunks(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let e = (wid.y * nwg.x + wid.x) * THREADS + lid.x;
  if (e >= params.out_size) { return; }
  let n = params.k;
  var v = 0.0;
  if (e >= params.out_offset && e < params.out_offset + n) {
    let i = e - params.out_offset;
    for (var c = 0u; c < params.chunks; c++) { v += part[c * n + i]; }
    v *= params.alpha;
  }
  out[e] = v;
}
