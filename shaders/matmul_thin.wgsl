// Thin-output matmul: C[b] = epilogue(op(A[b]) · op(B[b])) when one output side is tiny (rank-r adapter
// shapes: N ≤ 16 with M wide, or M ≤ 16 with N wide), where a square register tile would mostly idle.
// Layouts and batch strides as in matmul.wgsl.
//
// The output is seen as WIDE × THIN (THIN_IS_N: wide = M, thin = N; otherwise wide = N, thin = M). A
// workgroup owns 64 wide rows × all THIN columns for one K range. Each K step stages a 64 × 32 slice of the
// wide operand and a 32 × THIN slice of the thin operand in workgroup memory, reading global memory along
// whichever dimension is contiguous (coalesced for every transpose). Four threads share each wide row and
// split the K slice between them, each holding THIN accumulators; their four partial sums meet in
// workgroup memory at the end (a per-output reduction over K across the workgroup).
//
// For long K (weight gradients Xᵀ·G) the K range is further split across workgroups (grid y):
// `thin_partial` then writes one partial product per K chunk and `thin_reduce` sums them and applies
// the epilogue; with a single chunk (SPLIT false) the epilogue runs here directly.
// @include gelu
// @include matmul_epilogue
// @include matmul_params

// Defines: THIN (4, 8 or 16), THIN_IS_N, TRANS_A, TRANS_B, SPLIT, HAS_BIAS, GELU, RELU, ACCUMULATE, STORE_PRE.
// Storage types a_t, b_t (operands; thin_reduce's partials come in as `a`) and c_t (out, pre) are f32
// unless the launcher asks for f16 (mixed precision); loads widen to f32 and sums stay f32.

alias a_t = f32; // @storage
alias b_t = f32; // @storage
alias c_t = f32; // @storage


const WIDE: u32 = 64u;
const KLANES: u32 = 4u; // threads per wide row, splitting K
const KT: u32 = 32u; // K staged per step
const WG: u32 = 256u; // WIDE · KLANES
const WS: u32 = WIDE + 1u; // padded row: staging along K writes 65 apart, on distinct banks
const THIN4: u32 = THIN / 4u;
const STAGE: u32 = max(KT * WS, (KLANES - 1u) * THIN * WS);

// The wide operand is contiguous along the wide index when it is Aᵀ (thin N) or plain B (thin M).
const WIDE_CONTIGUOUS: bool = (THIN_IS_N && TRANS_A) || (!THIN_IS_N && !TRANS_B);
// The thin operand is contiguous along the thin index when it is plain B (thin N) or Aᵀ (thin M).
const THIN_CONTIGUOUS: bool = (THIN_IS_N && !TRANS_B) || (!THIN_IS_N && TRANS_A);

// Staging for the wide operand [KT][WS]; afterwards reused for the cross-lane reduction [lane][THIN][WS].
var<workgroup> stage: array<f32, STAGE>;
var<workgroup> thinTile: array<vec4<f32>, KT * THIN4>; // [k][thin/4]

fn a_at(base: u32, m: u32, k: u32) -> f32 {
  if (TRANS_A) { return f32(a[base + k * params.M + m]); }
  return f32(a[base + m * params.K + k]);
}

fn b_at(base: u32, k: u32, n: u32) -> f32 {
  if (TRANS_B) { return f32(b[base + n * params.K + k]); }
  return f32(b[base + k * params.N + n]);
}

fn wide_at(baseA: u32, baseB: u32, w: u32, k: u32) -> f32 {
  if (THIN_IS_N) { return a_at(baseA, w, k); }
  return b_at(baseB, k, w);
}

fn thin_at(baseA: u32, baseB: u32, j: u32, k: u32) -> f32 {
  if (THIN_IS_N) { return b_at(baseB, k, j); }
  return a_at(baseA, j, k);
}

fn out_index(w: u32, j: u32) -> u32 {
  if (THIN_IS_N) { return w * params.N + j; }
  return j * params.N + w;
}

// Bound in this order so thin_reduce, which needs no B, uses bindings 1..4.
// SPLIT: partial products [chunk][batch][M][N]; otherwise the output.
@group(0) @binding(1) var<storage, read_write> out: array<c_t>;
// Without HAS_BIAS / STORE_PRE these bind stand-ins and are never touched (layout 'auto' needs them bound).
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> pre: array<c_t>;
// thin_reduce binds the partial products here.
@group(0) @binding(4) var<storage, read> a: array<a_t>;
@group(0) @binding(5) var<storage, read> b: array<b_t>;

@compute @workgroup_size(WG)
fn thin_partial(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let t = lid.x;
  let batch = wid.z;
  let baseA = batch * params.strideA;
  let baseB = batch * params.strideB;
  var wideLen = params.M;
  var thinLen = params.N;
  if (!THIN_IS_N) {
    wideLen = params.N;
    thinLen = params.M;
  }
  let w0 = wid.x * WIDE;
  let kBegin = wid.y * params.kChunk;
  let kEnd = min(params.K, kBegin + params.kChunk);

  let myW = t % WIDE;
  let lane = t / WIDE;
  var acc: array<vec4<f32>, THIN4>;

  for (var k0 = kBegin; k0 < kEnd; k0 += KT) {
    // Wide slice: consecutive threads take consecutive addresses of the contiguous dimension.
    for (var e = t; e < KT * WIDE; e += WG) {
      var w: u32;
      var kk: u32;
      if (WIDE_CONTIGUOUS) {
        w = e % WIDE;
        kk = e / WIDE;
      } else {
        kk = e % KT;
        w = e / KT;
      }
      var v = 0.0;
      if (w0 + w < wideLen && k0 + kk < kEnd) { v = wide_at(baseA, baseB, w0 + w, k0 + kk); }
      stage[kk * WS + w] = v;
    }
    // Thin slice: each thread assembles whole vec4s (4 thin columns at one k), so no two threads write
    // parts of one workgroup vec4.
    for (var e = t; e < KT * THIN4; e += WG) {
      var j4: u32;
      var kk: u32;
      if (THIN_CONTIGUOUS) {
        j4 = e % THIN4;
        kk = e / THIN4;
      } else {
        kk = e % KT;
        j4 = e / KT;
      }
      var v = vec4<f32>(0.0);
      if (k0 + kk < kEnd) {
        for (var c = 0u; c < 4u; c++) {
          let j = j4 * 4u + c;
          if (j < thinLen) { v[c] = thin_at(baseA, baseB, j, k0 + kk); }
        }
      }
      thinTile[kk * THIN4 + j4] = v;
    }
    workgroupBarrier();
    // Lanes interleave along K so a warp (one lane) reads one thin row: a broadcast.
    for (var kk = lane; kk < KT; kk += KLANES) {
      let wv = stage[kk * WS + myW];
      for (var q = 0u; q < THIN4; q++) {
        acc[q] += wv * thinTile[kk * THIN4 + q];
      }
    }
    workgroupBarrier();
  }

  // Lanes 1..3 hand their partial sums to lane 0, which leaves the totals in lane 1's slots [j][w].
  if (lane > 0u) {
    for (var j = 0u; j < THIN; j++) {
      stage[((lane - 1u) * THIN + j) * WS + myW] = acc[j / 4u][j % 4u];
    }
  }
  workgroupBarrier();
  if (lane == 0u) {
    for (var j = 0u; j < THIN; j++) {
      var s = acc[j / 4u][j % 4u];
      for (var l = 0u; l < KLANES - 1u; l++) {
        s += stage[(l * THIN + j) * WS + myW];
      }
      stage[j * WS + myW] = s;
    }
  }
  workgroupBarrier();

  // Write-out ordered along C's contiguous dimension.
  let chunkBase = select(0u, wid.y * params.total, SPLIT);
  let baseC = chunkBase + batch * params.M * params.N;
  for (var e = t; e < THIN * WIDE; e += WG) {
    var w: u32;
    var j: u32;
    if (THIN_IS_N) {
      j = e % THIN;
      w = e / THIN;
    } else {
      w = e % WIDE;
      j = e / WIDE;
    }
    if (w0 + w < wideLen && j < thinLen) {
      let v = stage[j * WS + w];
      let i = baseC + out_index(w0 + w, j);
      if (SPLIT) {
        out[i] = c_t(v);
      } else {
        epilogue(i, select(w0 + w, j, THIN_IS_N), v);
      }
    }
  }
}

// Sums the K-chunk partials of thin_partial (bound as `a`) and applies the epilogue; one thread per output.
@compute @workgroup_size(WG)
fn thin_reduce(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let i = (wid.y * nwg.x + wid.x) * WG + lid.x;
  if (i >= params.total) { return; }
  var s = 0.0;
  for (var c = 0u; c < params.chunks; c++) {
    s += f32(a[c * params.total + i]);
  }
  epilogue(i, i % params.N, s);
}
