// CLoRA branch, first half for small bottlenecks (P ≤ 4·QV ≤ 16), without workgroup memory or barriers: the
// same products as clora_lowrank_in.wgsl,
//   forward:  stage1 = Z = X·D_cat,  stage2 = W = dropout(Z_h·Q_h)
//   backward: stage1 = dY = alpha·mask·(dOut[:, cols]·U_catᵀ),  stage2 = dZ = dY_h·Q_hᵀ
// with one thread per row holding all P bottleneck columns in registers, so the core product needs no exchange
// between threads. At rank ≤ 16 the tiled kernel does little arithmetic between its barriers (and on emulators
// each barrier costs a context switch per group of invocations); here the bank is read at addresses that are
// the same for every thread, i.e. broadcast from cache. On a real GPU each thread reads its own row alone
// (uncoalesced): the device profile gives real GPUs clora_lowrank_in_split.wgsl instead.
// Defines: QV, BACKWARD, DROPOUT, VEC_WIDE.
// @include clora_common
// @include clora_wide
// @include clora_bank_rows

@group(0) @binding(1) var<storage, read> wide: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> bank: array<f32>;
@group(0) @binding(3) var<storage, read> cores: array<f32>;
@group(0) @binding(4) var<storage, read_write> stage1: array<f32>;
@group(0) @binding(5) var<storage, read_write> stage2: array<f32>;

@compute @workgroup_size(64)
fn lowrank_in_rows(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let row = (wid.y * nwg.x + wid.x) * 64u + lid.x;
  let rows = params.rows;
  if (row >= rows) { return; }
  let R = params.r;
  let P = params.p * R;
  let acc = row_bank_products(row, 0u, 4u);

  var s1: array<vec4<f32>, QV>;
  for (var j = 0u; j < QV; j++) {
    for (var c = 0u; c < 4u; c++) {
      let q = j * 4u + c;
      if (q < P) {
        var v = acc[j][c];
        if (BACKWARD) { v *= params.alpha * dropout_factor(row * P + q, DROPOUT); }
        s1[j][c] = v;
        stage1[row * P + q] = v;
      }
    }
  }
  for (var q = 0u; q < P; q++) {
    let h = q / R;
    let co = q % R;
    let core = params.core_base + h * R * R;
    var y = 0.0;
    for (var c = 0u; c < R; c++) {
      let zc = h * R + c;
      let coreIndex = select(core + c * R + co, core + co * R + c, BACKWARD);
      y += s1[zc / 4u][zc % 4u] * cores[coreIndex];
    }
    if (!BACKWARD) { y *= dropout_factor(row * P + q, DROPOUT); }
    stage2[row * P + q] = y;
  }
}
