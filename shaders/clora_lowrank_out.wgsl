// CLoRA branch, second half (tiled): out[t, offset + n] (+)= alpha · Σ_q L[t, q] · bank(q, n).
//   forward:  L = W [T, P], bank = U_cat: s·W·U_cat added into the frozen output's columns
//   backward: L = dZ, bank = D_catᵀ (BANK_DOWN): dX = dZ·D_catᵀ
// 64×64 output tiles, 4×4 per thread; the L tile and the bank tile are staged KT = 16 bottleneck columns at a
// time. Defines: BANK_DOWN, ACCUMULATE (add into out instead of overwriting it).
// @include clora_common

@group(0) @binding(1) var<storage, read> lhs: array<f32>;
@group(0) @binding(2) var<storage, read> bank: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

const KT: u32 = 16u;
const OT: u32 = 64u;       // output tile side
const LS: u32 = KT + 1u;   // padded row of the staged L tile
var<workgroup> tile_l: array<f32, OT * LS>;            // [row][q]
var<workgroup> tile_bank: array<vec4<f32>, KT * 16u>;  // [q][n/4]

@compute @workgroup_size(256)
fn lowrank_out(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let t = lid.x;
  let tx = t % 16u; // columns n0 + 4·tx .. +3
  let ty = t / 16u; // rows row0 + 4·ty .. +3
  let rows = params.rows;
  let N = params.k;
  let R = params.r;
  let P = params.p * R;
  let n0 = wid.x * OT;
  let row0 = wid.y * OT;

  var acc: array<vec4<f32>, 4>;
  for (var k0 = 0u; k0 < P; k0 += KT) {
    for (var g = t; g < OT * KT; g += THREADS) {
      let rr = g / KT;
      let kk = g % KT;
      let row = row0 + rr;
      let q = k0 + kk;
      var v = 0.0;
      if (row < rows && q < P) { v = lhs[row * P + q]; }
      tile_l[rr * LS + kk] = v;
    }
    for (var g = t; g < OT * KT; g += THREADS) {
      var kk: u32;
      var nn: u32;
      if (BANK_DOWN) { kk = g % KT; nn = g / KT; } // consecutive c of one space are adjacent in D
      else { nn = g % OT; kk = g / OT; }            // U rows are contiguous along n
      let q = k0 + kk;
      let n = n0 + nn;
      var v = 0.0;
      if (q < P && n < N) { v = bank[bank_index(q, n, N, R, BANK_DOWN)]; }
      tile_bank[kk * 16u + nn / 4u][nn % 4u] = v;
    }
    workgroupBarrier();
    for (var kk = 0u; kk < KT; kk++) {
      let b4 = tile_bank[kk * 16u + tx];
      for (var i = 0u; i < 4u; i++) { acc[i] += tile_l[(ty * 4u + i) * LS + kk] * b4; }
    }
    workgroupBarrier();
  }

  for (var i = 0u; i < 4u; i++) {
    let row = row0 + ty * 4u + i;
    if (row >= rows) { break; }
    for (var j = 0u; j < 4u; j++) {
      let n = n0 + tx * 4u + j;
      if (n < N) {
        let index = row * params.stride + params.offset + n;
        var v = params.alpha * acc[i][j];
        if (ACCUMULATE) { v += out[index]; }
        out[index] = v;
      }
    }
  }
}
