// CLoRA branch, second half, register-blocked without workgroup memory or barriers (P ≤ 16 on every device, any P
// on emulators: selectBranchPrograms in src/kernels/clora.ts): the same product as clora_lowrank_out.wgsl,
//   out[t, offset + n] (+)= alpha · Σ_q L[t, q] · bank(q, n).
// A thread owns 4 consecutive columns of RO rows; a workgroup of 64 covers 64 columns × 4·RO rows. The K = P
// reduction is short, so its operands come straight from memory: L broadcast across a row's threads, the bank
// and the output read and written along n by consecutive threads (coalesced).
// Defines: RO, BANK_DOWN, ACCUMULATE.
// @include clora_common

@group(0) @binding(1) var<storage, read> lhs: array<f32>;
@group(0) @binding(2) var<storage, read> bank: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(64)
fn lowrank_out_rows(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let N = params.k;
  let R = params.r;
  let P = params.p * R;
  let n = wid.x * 64u + (lid.x % 16u) * 4u;
  let row0 = (wid.y * 4u + lid.x / 16u) * RO;
  let rows = params.rows;
  if (n >= N || row0 >= rows) { return; }
  let nn = min(4u, N - n);

  var acc: array<vec4<f32>, RO>;
  for (var q = 0u; q < P; q++) {
    var b4 = vec4<f32>(0.0);
    for (var c = 0u; c < nn; c++) { b4[c] = bank[bank_index(q, n + c, N, R, BANK_DOWN)]; }
    for (var i = 0u; i < RO; i++) {
      let row = min(row0 + i, rows - 1u); // rows past T compute a copy that is never written
      acc[i] += lhs[row * P + q] * b4;
    }
  }
  for (var i = 0u; i < RO; i++) {
    let row = row0 + i;
    if (row >= rows) { break; }
    for (var c = 0u; c < nn; c++) {
      let index = row * params.stride + params.offset + n + c;
      var v = params.alpha * acc[i][c];
      if (ACCUMULATE) { v += out[index]; }
      out[index] = v;
    }
  }
}
