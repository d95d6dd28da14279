// CLoRA branch, first half (tiled): the bottleneck of one adapted layer, both directions.
//   forward:  stage1 = Z = X·D_cat [T, P],  stage2 = W = dropout(Z_h·Q_h) per space h
//   backward: stage1 = dY = alpha·dropout-mask·(dOut[:, cols]·U_catᵀ),  stage2 = dZ = dY_h·Q_hᵀ
// (the backward of the forward's W·U_cat and of the core product; the mask is the forward's, recomputed).
// A workgroup owns TM rows and all P columns: the wide operand (X or dOut's column window) streams through
// workgroup memory KT_IN columns at a time, the bank tile beside it; the r×r core product then reads the
// finished row tile from the same workgroup memory (stage 1 is written out for the backward, never read back).
// Defines: TX threads across P, 256/TX down the rows, RM rows and CN columns per thread (TM = (256/TX)·RM rows
// per workgroup), KT_IN columns staged per barrier pair, BACKWARD, DROPOUT, VEC_WIDE.
// @include clora_common
// @include clora_wide

@group(0) @binding(1) var<storage, read> wide: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> bank: array<f32>;
@group(0) @binding(3) var<storage, read> cores: array<f32>;
@group(0) @binding(4) var<storage, read_write> stage1: array<f32>;
@group(0) @binding(5) var<storage, read_write> stage2: array<f32>;

const TY: u32 = THREADS / TX;
const TM: u32 = TY * RM;
const XS: u32 = KT_IN + 1u; // padded staged row: threads reading one k-column of different rows hit distinct banks
const DS: u32 = TX * CN; // P rounded up to the thread grid
// 16 KiB: the wide tile and the bank tile while accumulating, then the TM × P row tile for the core product
// (the launcher picks TM so that both fit).
var<workgroup> smem: array<f32, 4096>;

@compute @workgroup_size(256)
fn lowrank_in(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let t = lid.x;
  let tx = t % TX;
  let ty = t / TX;
  let rows = params.rows;
  let K = params.k;
  let P = params.p * params.r;
  let R = params.r;
  let row0 = (wid.y * nwg.x + wid.x) * TM;
  if (row0 >= rows) { return; } // past the folded grid: the whole workgroup leaves together

  var acc: array<array<f32, CN>, RM>;
  for (var k0 = 0u; k0 < K; k0 += KT_IN) {
    // Wide tile [TM][KT_IN]: each row's KT_IN columns are consecutive vec4s in memory.
    for (var g = t; g < TM * (KT_IN / 4u); g += THREADS) {
      let rr = g / (KT_IN / 4u);
      let kq = g % (KT_IN / 4u);
      let row = row0 + rr;
      let kk = k0 + kq * 4u;
      let v = read4_wide(row * params.stride + params.offset + kk, select(0, i32(K) - i32(kk), row < rows));
      let s = rr * XS + kq * 4u;
      smem[s] = v.x;
      smem[s + 1u] = v.y;
      smem[s + 2u] = v.z;
      smem[s + 3u] = v.w;
    }
    // Bank tile [KT_IN][P], loaded in the bank's memory order.
    for (var g = t; g < KT_IN * P; g += THREADS) {
      var kk: u32;
      var q: u32;
      var addr: u32;
      if (BACKWARD) { // U_catᵀ: U[q, k] is contiguous along k
        kk = g % KT_IN;
        q = g / KT_IN;
        addr = q * K + k0 + kk;
      } else { // D[h, k, c] is contiguous along (k, c) within a space
        let c = g % R;
        kk = (g / R) % KT_IN;
        let h = g / (R * KT_IN);
        q = h * R + c;
        addr = (h * K + k0 + kk) * R + c;
      }
      var v = 0.0;
      if (k0 + kk < K) { v = bank[addr]; } // (select would read out of bounds)
      smem[TM * XS + kk * DS + q] = v;
    }
    workgroupBarrier();
    for (var kk = 0u; kk < KT_IN; kk++) {
      var xv: array<f32, RM>;
      for (var i = 0u; i < RM; i++) { xv[i] = smem[(ty + TY * i) * XS + kk]; }
      for (var j = 0u; j < CN; j++) {
        let dv = smem[TM * XS + kk * DS + tx + TX * j];
        for (var i = 0u; i < RM; i++) { acc[i][j] += xv[i] * dv; }
      }
    }
    workgroupBarrier();
  }

  // Stage 1 (Z, or the masked dY) goes to global memory for the backward and stays in workgroup memory.
  for (var i = 0u; i < RM; i++) {
    let local = ty + TY * i;
    let row = row0 + local;
    for (var j = 0u; j < CN; j++) {
      let q = tx + TX * j;
      if (q < P) {
        var v = acc[i][j];
        if (BACKWARD) { v *= params.alpha * dropout_factor(row * P + q, DROPOUT); }
        smem[local * P + q] = v;
        if (row < rows) { stage1[row * P + q] = v; }
      }
    }
  }
  workgroupBarrier();

  // Stage 2: the r×r core of each space (forward Q_h, then dropout; backward Q_hᵀ).
  for (var i = 0u; i < RM; i++) {
    let local = ty + TY * i;
    let row = row0 + local;
    if (row >= rows) { break; }
    for (var j = 0u; j < CN; j++) {
      let q = tx + TX * j;
      if (q < P) {
        let h = q / R;
        let co = q % R;
        let zrow = local * P + h * R;
        let core = params.core_base + h * R * R;
        var y = 0.0;
        for (var c = 0u; c < R; c++) {
          let coreIndex = select(core + c * R + co, core + co * R + c, BACKWARD);
          y += smem[zrow + c] * cores[coreIndex];
        }
        if (!BACKWARD) { y *= dropout_factor(row * P + q, DROPOUT); }
        stage2[row * P + q] = y;
      }
    }
  }
}
