// Shared by clora_lowrank_in_rows.wgsl and clora_lowrank_in_split.wgsl, which keep all P ≤ 4·QV bottleneck
// sums of a row in registers and read the bank (D, or U in the backward) column by column, broadcast to the
// threads that share a k. Needs clora_common (params) and clora_wide (read4_wide).

// Σ_k wide[row, offset + k] · bank(k, q) for q < 4·QV, over the vec4 groups k = k_first .. k_first + 3,
// k_first + k_stride .. : the whole row (k_first 0, k_stride 4) or one lane's share of it (the split kernel).
// Bank column q of bank row k sits at start[q] + k·k_step: forward D[h, k, c] (q = h·r + c), backward U[q, k];
// columns past P read column P − 1 again, and their sums are never used.
fn row_bank_products(row: u32, k_first: u32, k_stride: u32) -> array<vec4<f32>, QV> {
  let K = params.k;
  let R = params.r;
  let P = params.p * R;
  let base = row * params.stride + params.offset;
  var start: array<u32, 4u * QV>;
  for (var q = 0u; q < 4u * QV; q++) {
    let qc = min(q, P - 1u);
    start[q] = select(((qc / R) * K) * R + qc % R, qc * K, BACKWARD);
  }
  let k_step = select(R, 1u, BACKWARD);
  var acc: array<vec4<f32>, QV>;
  for (var k = k_first; k < K; k += k_stride) {
    let x4 = read4_wide(base + k, i32(K) - i32(k));
    let kn = min(4u, K - k);
    for (var e = 0u; e < kn; e++) {
      let at = (k + e) * k_step;
      for (var j = 0u; j < QV; j++) {
        let b4 = vec4<f32>(bank[start[4u * j] + at], bank[start[4u * j + 1u] + at], bank[start[4u * j + 2u] + at], bank[start[4u * j + 3u] + at]);
        acc[j] += x4[e] * b4;
      }
    }
  }
  return acc;
}
