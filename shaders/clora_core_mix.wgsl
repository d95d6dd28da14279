// CLoRA branch, the core product of a further module on a bottleneck already computed. Modules that read the
// same input through the same down bank (q, k and v of one qkv) share Z = X·D_cat; lowrank_in makes Z and
// the first module's W, this entry each other module's W:
//   forward:  W[t, h·r + c'] = dropout(Σ_c Z[t, h·r + c] · Q_h^j[c, c'])   (Q_h^j at core_base + h·r²)
//   backward: lowrank_in's backward gives that module's dY and dZ = dY_h·Q_hᵀ; core_grad gives dQ = Z_hᵀ·dY_h.
// One thread per element of W [T, P]; r multiply-adds each, no workgroup memory. Defines: DROPOUT.
// @include clora_common

@group(0) @binding(1) var<storage, read> z: array<f32>;
@group(0) @binding(2) var<storage, read> cores: array<f32>;
@group(0) @binding(3) var<storage, read_write> w: array<f32>;

@compute @workgroup_size(256)
fn core_mix(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let e = (wid.y * nwg.x + wid.x) * THREADS + lid.x;
  let R = params.r;
  let P = params.p * R;
  if (e >= params.rows * P) { return; }
  let q = e % P;
  let h = q / R;
  let zrow = (e / P) * P + h * R;
  let core = params.core_base + h * R * R + q % R;
  var y = 0.0;
  for (var c = 0u; c < R; c++) { y += z[zrow + c] * cores[core + c * R]; }
  w[e] = y * dropout_factor(e, DROPOUT);
}
