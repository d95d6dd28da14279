// Register-blocked tiled matmul: C[b] = epilogue(op(A[b]) · op(B[b])), op = optional transpose.
// A is [M, K] (TRANS_A: stored [K, M]); B is [K, N] (TRANS_B: stored [N, K]); C is [M, N], all row-major.
// A batch stride of 0 shares one 2-D operand across the batch (the weight case).
//
// Each workgroup computes a TILE_M × TILE_N output tile; each thread keeps RM × RN blocks of 4×4 outputs in
// registers (8×8 outputs at RM = RN = 2), so every value it reads from workgroup memory feeds 4·RN (or 4·RM)
// FMAs. K advances TILE_K at a time through workgroup memory. Tiles keep the operand's own layout, so
// staging is always a straight vec4 copy; the inner loop reads 4×4 sub-blocks of A and B as four vec4s each
// (rows or columns, whichever the layout holds contiguously) and accumulates their products as mat4x4s.
// Operands are bound as vec4 arrays: when an operand's contiguous dimension is a multiple of 4 (VEC_A /
// VEC_B) each group of 4 is one 16-byte load, otherwise the same groups are read one component at a time
// with bound checks (ragged shapes).
// @include gelu
// @include matmul_epilogue
// @include matmul_params

// SPLIT: the workgroups of grid z = batch·chunks each take one K range of kChunk and write their raw partial
// tile to `out` as [chunk][batch·M·N]; matmul_thin.wgsl's thin_reduce sums the chunks and applies the
// epilogue (long K, few output tiles: more workgroups without shrinking the register blocks).
//
// Defines: TILE_M, TILE_N, TILE_K (multiples of 4), RM, RN (4×4 blocks per thread; TILE_M/4 and TILE_N/4
// multiples of them), TRANS_A, TRANS_B, VEC_A, VEC_B, HAS_BIAS, GELU, RELU, ACCUMULATE, STORE_PRE, SPLIT.
//
// Storage types a_t, b_t (operands) and c_t (out, pre) are f32 unless the launcher asks for f16 (mixed
// precision: f16 activations against f32 weights); loads widen to f32 and accumulation stays f32.

alias a_t = f32; // @storage
alias b_t = f32; // @storage
alias c_t = f32; // @storage

@group(0) @binding(1) var<storage, read> a: array<vec4<a_t>>;
@group(0) @binding(2) var<storage, read> b: array<vec4<b_t>>;
@group(0) @binding(3) var<storage, read_write> out: array<c_t>;
// Without HAS_BIAS / STORE_PRE these bind stand-ins and are never touched (layout 'auto' needs them bound).
@group(0) @binding(4) var<storage, read> bias: array<f32>;
@group(0) @binding(5) var<storage, read_write> pre: array<c_t>;

const TM4: u32 = TILE_M / 4u;
const TN4: u32 = TILE_N / 4u;
const TK4: u32 = TILE_K / 4u;
// Threads along M and N: each owns RM × RN blocks of 4×4 outputs.
const WM: u32 = TM4 / RM;
const WN: u32 = TN4 / RN;
const THREADS: u32 = WM * WN;
// Tiles contiguous along K ([m][k/4] for A, [n][k/4] for Bᵀ) pad each row by one vec4, so the threads of a
// warp reading different rows of one k-column hit different banks.
const KROW: u32 = TK4 + 1u;
const TILE_A: u32 = select(TILE_M * KROW, TILE_K * TM4, TRANS_A);
const TILE_B: u32 = select(TILE_K * TN4, TILE_N * KROW, TRANS_B);

var<workgroup> tileA: array<vec4<f32>, TILE_A>; // TRANS_A: [k][m/4], else [m][k/4 (+pad)]
var<workgroup> tileB: array<vec4<f32>, TILE_B>; // TRANS_B: [n][k/4 (+pad)], else [k][n/4]

// Four consecutive elements of A from flat index `i`, of which `avail` exist (≤ 0: none).
fn read4_a(i: u32, avail: i32) -> vec4<f32> {
  if (avail <= 0) { return vec4<f32>(0.0); }
  if (VEC_A) { return vec4<f32>(a[i >> 2u]); } // aligned, and avail ≥ 4 since the row length is a multiple of 4
  var v = vec4<f32>(f32(a[i >> 2u][i & 3u]), 0.0, 0.0, 0.0);
  if (avail > 1) { v.y = f32(a[(i + 1u) >> 2u][(i + 1u) & 3u]); }
  if (avail > 2) { v.z = f32(a[(i + 2u) >> 2u][(i + 2u) & 3u]); }
  if (avail > 3) { v.w = f32(a[(i + 3u) >> 2u][(i + 3u) & 3u]); }
  return v;
}

fn read4_b(i: u32, avail: i32) -> vec4<f32> {
  if (avail <= 0) { return vec4<f32>(0.0); }
  if (VEC_B) { return vec4<f32>(b[i >> 2u]); }
  var v = vec4<f32>(f32(b[i >> 2u][i & 3u]), 0.0, 0.0, 0.0);
  if (avail > 1) { v.y = f32(b[(i + 1u) >> 2u][(i + 1u) & 3u]); }
  if (avail > 2) { v.z = f32(b[(i + 2u) >> 2u][(i + 2u) & 3u]); }
  if (avail > 3) { v.w = f32(b[(i + 3u) >> 2u][(i + 3u) & 3u]); }
  return v;
}

// Stages group g (4 elements along A's contiguous dimension) of the A tile at (m0, k0).
fn stage_a(base: u32, m0: u32, k0: u32, g: u32) {
  let M = params.M;
  let K = params.K;
  if (TRANS_A) {
    let kr = g / TM4;
    let mq = g % TM4;
    let k = k0 + kr;
    let m = m0 + mq * 4u;
    tileA[kr * TM4 + mq] = read4_a(base + k * M + m, select(0, i32(M) - i32(m), k < K));
  } else {
    let r = g / TK4;
    let kq = g % TK4;
    let m = m0 + r;
    let k = k0 + kq * 4u;
    tileA[r * KROW + kq] = read4_a(base + m * K + k, select(0, i32(K) - i32(k), m < M));
  }
}

fn stage_b(base: u32, n0: u32, k0: u32, g: u32) {
  let N = params.N;
  let K = params.K;
  if (TRANS_B) {
    let r = g / TK4;
    let kq = g % TK4;
    let n = n0 + r;
    let k = k0 + kq * 4u;
    tileB[r * KROW + kq] = read4_b(base + n * K + k, select(0, i32(K) - i32(k), n < N));
  } else {
    let kr = g / TN4;
    let nq = g % TN4;
    let k = k0 + kr;
    let n = n0 + nq * 4u;
    tileB[kr * TN4 + nq] = read4_b(base + k * N + n, select(0, i32(N) - i32(n), k < K));
  }
}

// This thread's 4 rows × 4 k of A at k-block k4, as a matrix whose column c is k = 4·k4 + c.
fn block_a(row4: u32, k4: u32) -> mat4x4<f32> {
  if (TRANS_A) {
    return mat4x4<f32>(tileA[(k4 * 4u) * TM4 + row4], tileA[(k4 * 4u + 1u) * TM4 + row4],
                       tileA[(k4 * 4u + 2u) * TM4 + row4], tileA[(k4 * 4u + 3u) * TM4 + row4]);
  }
  return transpose(mat4x4<f32>(tileA[(row4 * 4u) * KROW + k4], tileA[(row4 * 4u + 1u) * KROW + k4],
                               tileA[(row4 * 4u + 2u) * KROW + k4], tileA[(row4 * 4u + 3u) * KROW + k4]));
}

// 4 k × this thread's 4 columns of B at k-block k4, as a matrix whose column j is n = 4·col4 + j.
fn block_b(col4: u32, k4: u32) -> mat4x4<f32> {
  if (TRANS_B) {
    return mat4x4<f32>(tileB[(col4 * 4u) * KROW + k4], tileB[(col4 * 4u + 1u) * KROW + k4],
                       tileB[(col4 * 4u + 2u) * KROW + k4], tileB[(col4 * 4u + 3u) * KROW + k4]);
  }
  return transpose(mat4x4<f32>(tileB[(k4 * 4u) * TN4 + col4], tileB[(k4 * 4u + 1u) * TN4 + col4],
                               tileB[(k4 * 4u + 2u) * TN4 + col4], tileB[(k4 * 4u + 3u) * TN4 + col4]));
}

@compute @workgroup_size(WN, WM)
fn matmul_tiled(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let M = params.M;
  let N = params.N;
  var batch = wid.z;
  var kStart = 0u;
  var K = params.K;
  if (SPLIT) {
    batch = wid.z / params.chunks;
    kStart = (wid.z % params.chunks) * params.kChunk;
    K = min(params.K, kStart + params.kChunk);
  }
  let baseA = batch * params.strideA;
  let baseB = batch * params.strideB;
  let baseC = batch * M * N;
  let m0 = wid.y * TILE_M;
  let n0 = wid.x * TILE_N;
  let t = lid.y * WN + lid.x;

  // acc[bm * RN + bn][j][i]: row m0 + 4·(lid.y + bm·WM) + i, column n0 + 4·(lid.x + bn·WN) + j. Blocks of one
  // thread are WM (WN) block-rows apart, so neighbouring threads read neighbouring tile entries.
  var acc: array<mat4x4<f32>, RM * RN>;
  for (var k0 = kStart; k0 < K; k0 += TILE_K) {
    for (var g = t; g < TILE_K * TM4; g += THREADS) { stage_a(baseA, m0, k0, g); }
    for (var g = t; g < TILE_K * TN4; g += THREADS) { stage_b(baseB, n0, k0, g); }
    workgroupBarrier();
    for (var k4 = 0u; k4 < TK4; k4++) {
      var bs: array<mat4x4<f32>, RN>;
      for (var bn = 0u; bn < RN; bn++) { bs[bn] = block_b(lid.x + bn * WN, k4); }
      for (var bm = 0u; bm < RM; bm++) {
        let a = block_a(lid.y + bm * WM, k4);
        for (var bn = 0u; bn < RN; bn++) { acc[bm * RN + bn] += a * bs[bn]; }
      }
    }
    workgroupBarrier();
  }

  for (var bm = 0u; bm < RM; bm++) {
    for (var bn = 0u; bn < RN; bn++) {
      let block = acc[bm * RN + bn];
      for (var i = 0u; i < 4u; i++) {
        let m = m0 + (lid.y + bm * WM) * 4u + i;
        for (var j = 0u; j < 4u; j++) {
          let n = n0 + (lid.x + bn * WN) * 4u + j;
          if (m < M && n < N) {
            if (SPLIT) {
              out[(wid.z % params.chunks) * params.total + baseC + m * N + n] = c_t(block[j][i]);
            } else {
              epilogue(baseC + m * N + n, n, block[j][i]);
            }
          }
        }
      }
    }
  }
}
