// CLoRA branch, bank gradients register-blocked without workgroup memory or barriers (P ≤ 16 on every device, any
// P on emulators: selectBranchPrograms in src/kernels/clora.ts): the same product as clora_weight_grad.wgsl,
//   out(q, n) = alpha · Σ_{t in chunk} L[t, q] · wide[t, offset + n]   in the bank's layout.
// A thread owns 4 consecutive columns n (read as one vec4, coalesced across threads) for 4·QV values of q (grid z:
// blocks of 4·QV along P) over one chunk of rows (grid y); 64 threads cover 256 columns.
// Defines: QV, BANK_DOWN, VEC_WIDE, SPLIT.
// @include clora_common
// @include clora_wide

@group(0) @binding(1) var<storage, read> wide: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> lhs: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(64)
fn weight_grad_rows(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let n = (wid.x * 64u + lid.x) * 4u;
  let N = params.k;
  if (n >= N) { return; }
  let R = params.r;
  let P = params.p * R;
  let q0 = wid.z * 4u * QV;
  let chunk = wid.y;
  let start = chunk * params.chunk_rows;
  let end = min(params.rows, start + params.chunk_rows);

  var acc: array<vec4<f32>, 4u * QV>;
  for (var row = start; row < end; row++) {
    let w4 = read4_wide(row * params.stride + params.offset + n, i32(N) - i32(n));
    for (var j = 0u; j < 4u * QV; j++) {
      acc[j] += lhs[row * P + min(q0 + j, P - 1u)] * w4; // q past P: a copy that is never written
    }
  }

  let base = select(0u, chunk * params.out_size, SPLIT);
  let nn = min(4u, N - n);
  for (var j = 0u; j < 4u * QV; j++) {
    let q = q0 + j;
    if (q >= P) { break; }
    for (var c = 0u; c < nn; c++) { out[base + bank_index(q, n + c, N, R, BANK_DOWN)] = params.alpha * acc[j][c]; }
  }
}
