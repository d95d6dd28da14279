// CLoRA branch, bank gradients (tiled): out(q, n) = alpha · Σ_{t in chunk} L[t, q] · wide[t, offset + n],
// written in the bank's own layout:
//   dU = s·Wᵀ·dOut[:, cols]  (L = W, up bank [p, r, n])      dD = Xᵀ·dZ  (L = dZ, BANK_DOWN: down bank [p, n, r])
// A workgroup owns 64 columns × all P rows of the result for one chunk of T (grid y); each thread keeps 4
// consecutive n for CN values of q. With SPLIT each chunk writes its own partial sums (summed by sum_chunks).
// Defines: CN = ceil(P / 16), BANK_DOWN, VEC_WIDE, SPLIT.
// @include clora_common
// @include clora_wide

@group(0) @binding(1) var<storage, read> wide: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> lhs: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

const KT: u32 = 16u;
const OT: u32 = 64u;
var<workgroup> tile_q: array<f32, KT * 128u>;         // [row][q], P ≤ 128
var<workgroup> tile_wide: array<vec4<f32>, KT * 16u>; // [row][n/4]

@compute @workgroup_size(256)
fn weight_grad(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let t = lid.x;
  let tx = t % 16u;
  let ty = t / 16u;
  let N = params.k;
  let R = params.r;
  let P = params.p * R;
  let n0 = wid.x * OT;
  let chunk = wid.y;
  let start = chunk * params.chunk_rows;
  let end = min(params.rows, start + params.chunk_rows);

  var acc: array<vec4<f32>, CN>;
  for (var t0 = start; t0 < end; t0 += KT) {
    // Rows of L are dense, so the [KT][P] tile is one contiguous run.
    for (var g = t; g < KT * P; g += THREADS) {
      var v = 0.0;
      if (t0 + g / P < end) { v = lhs[t0 * P + g]; }
      tile_q[g] = v;
    }
    {
      let rr = t / 16u;
      let nq = t % 16u;
      let row = t0 + rr;
      let n = n0 + nq * 4u;
      tile_wide[t] = read4_wide(row * params.stride + params.offset + n, select(0, i32(N) - i32(n), row < end));
    }
    workgroupBarrier();
    for (var kk = 0u; kk < KT; kk++) {
      let w4 = tile_wide[kk * 16u + tx];
      for (var j = 0u; j < CN; j++) {
        let q = min(ty + 16u * j, P - 1u); // rows past P compute a copy that is never written
        acc[j] += tile_q[kk * P + q] * w4;
      }
    }
    workgroupBarrier();
  }

  let base = select(0u, chunk * params.out_size, SPLIT);
  for (var j = 0u; j < CN; j++) {
    let q = ty + 16u * j;
    if (q >= P) { break; }
    for (var c = 0u; c < 4u; c++) {
      let n = n0 + tx * 4u + c;
      if (n < N) { out[base + bank_index(q, n, N, R, BANK_DOWN)] = params.alpha * acc[j][c]; }
    }
  }
}
