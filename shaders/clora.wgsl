// CLoRA's shared-base low-rank branch (docs: clora-spec.md §1; launchers: src/kernels/clora.ts).
//
// One adapted linear map j with input X [T, a] adds  s · Σ_h dropout((X·D_h)·Q_h^j) · U_h  into columns
// [offset, offset + b) of the frozen output. With P = p·r the p spaces are concatenated:
//   D_cat [a, P]   D_cat[i, h·r + c]  = D[h, i, c]      (down bank D [p, a, r])
//   U_cat [P, b]   U_cat[h·r + c, n]  = U[h, c, n]      (up bank U [p, r, b], the same memory)
//   cores          Q_h^j[c, c']       = cores[core_base + (h·r + c)·r + c']
//
// Entry points (all 256 threads; the matrices they stream are read along their contiguous dimension):
//   lowrank_in    forward:  Z = X·D_cat, W = mask·keep_scale·(Z_h·Q_h)             (stage1 = Z, stage2 = W)
//                 backward: dY = alpha·mask·keep_scale·(dOut[:, cols]·U_catᵀ), dZ = dY_h·Q_hᵀ
//                 (stage1 = dY, stage2 = dZ). A workgroup owns TM rows and all P columns: the wide
//                 operand (X or dOut's column window) streams through workgroup memory KT columns at a
//                 time, the bank tile beside it; the r×r core product then reads the finished row tile
//                 from the same workgroup memory (stage 1 is written out for the backward, never read back).
//   lowrank_out   out[t, offset + n] (+)= alpha · Σ_q L[t, q] · bank(q, n): forward s·W·U_cat added into
//                 the base columns, backward dX = dZ·D_catᵀ. 64×64 output tiles, 4×4 per thread.
//   weight_grad   alpha · Lᵀ·wide over a chunk of rows (dU = s·Wᵀ·dOut[:, cols], dD = Xᵀ·dZ), written in the
//                 bank's own layout; long T is split across workgroups (grid y) into partial sums.
//   core_grad     per row chunk, Z_hᵀ·dY_h for every h (dQ partial sums).
//   sum_chunks    adds the chunk partials (no float atomics anywhere), writing zeros around the block.
//   lowrank_in_rows, lowrank_out_rows, weight_grad_rows: the same products for P ≤ 16 without workgroup memory
//                 or barriers (see their section at the end); the launcher picks them by P.
//
// Defines (layout only; sizes are runtime parameters so every shape of one P bucket shares pipelines):
//   TX, RM, CN: lowrank_in's thread grid (TX threads across P, 256/TX down the rows, RM rows and CN
//   columns per thread, TM = (256/TX)·RM rows per workgroup); weight_grad uses CN = ceil(P/16).
//   BACKWARD, DROPOUT, VEC_WIDE (the wide operand's rows, offset and width are multiples of 4),
//   BANK_DOWN (bank(q, n) addresses the down bank [p, n, r] instead of U_cat [P, n]), ACCUMULATE, SPLIT.
//   QV, RO: the *_rows entries' register blocks (P ≤ 4·QV per thread; RO rows per thread in lowrank_out_rows).

struct Params {
  rows: u32,        // T
  k: u32,           // lowrank_in: inner length (a or b); other entries: output columns n
  stride: u32,      // row stride of the wide operand / output
  offset: u32,      // column offset into the wide operand / output
  p: u32,           // spaces
  r: u32,           // rank
  core_base: u32,   // module j's first element in the cores tensor
  threshold: u32,   // dropout: an element is dropped when its hash is below this
  seed: u32,
  keep_scale: f32,  // 1 / (1 - dropout)
  alpha: f32,
  chunk_rows: u32,  // rows per chunk (weight_grad, core_grad)
  out_size: u32,    // sum_chunks: output elements; split entries: elements per chunk
  out_offset: u32,  // sum_chunks: where the summed block starts in the output
  chunks: u32,
}

@group(0) @binding(0) var<uniform> params: Params;

const THREADS: u32 = 256u;
const KT: u32 = 16u;
// lowrank_in stages KT_IN columns per barrier pair (a define: 32 where its tiles fit, fewer barriers).

// ---- dropout: a counter hash of (seed, element index), recomputed wherever the mask is needed --------------

fn hash_u32(x: u32) -> u32 {
  var v = x;
  v ^= v >> 16u;
  v *= 0x7feb352du;
  v ^= v >> 15u;
  v *= 0x846ca68bu;
  v ^= v >> 16u;
  return v;
}

// keep_scale where element `index` survives, 0 where it is dropped (1 without dropout).
fn dropout_factor(index: u32) -> f32 {
  if (!DROPOUT) { return 1.0; }
  let h = hash_u32(hash_u32(index ^ hash_u32(params.seed)) + params.seed);
  return select(params.keep_scale, 0.0, h < params.threshold);
}

// ---- lowrank_in ------------------------------------------------------------------------------------------

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
var<workgroup> smem_in: array<f32, 4096>;

// Four consecutive elements of the wide operand from flat index i, of which `avail` exist (≤ 0: none).
fn read4_wide(i: u32, avail: i32) -> vec4<f32> {
  if (avail <= 0) { return vec4<f32>(0.0); }
  if (VEC_WIDE) { return wide[i >> 2u]; } // aligned, and avail ≥ 4 since widths are multiples of 4
  var v = vec4<f32>(wide[i >> 2u][i & 3u], 0.0, 0.0, 0.0);
  if (avail > 1) { v.y = wide[(i + 1u) >> 2u][(i + 1u) & 3u]; }
  if (avail > 2) { v.z = wide[(i + 2u) >> 2u][(i + 2u) & 3u]; }
  if (avail > 3) { v.w = wide[(i + 3u) >> 2u][(i + 3u) & 3u]; }
  return v;
}

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
    // Wide tile [TM][KT_IN]: each row's KT_IN columns are 4 consecutive vec4s in memory.
    for (var g = t; g < TM * (KT_IN / 4u); g += THREADS) {
      let rr = g / (KT_IN / 4u);
      let kq = g % (KT_IN / 4u);
      let row = row0 + rr;
      let kk = k0 + kq * 4u;
      let v = read4_wide(row * params.stride + params.offset + kk, select(0, i32(K) - i32(kk), row < rows));
      let s = rr * XS + kq * 4u;
      smem_in[s] = v.x;
      smem_in[s + 1u] = v.y;
      smem_in[s + 2u] = v.z;
      smem_in[s + 3u] = v.w;
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
      smem_in[TM * XS + kk * DS + q] = v;
    }
    workgroupBarrier();
    for (var kk = 0u; kk < KT_IN; kk++) {
      var xv: array<f32, RM>;
      for (var i = 0u; i < RM; i++) { xv[i] = smem_in[(ty + TY * i) * XS + kk]; }
      for (var j = 0u; j < CN; j++) {
        let dv = smem_in[TM * XS + kk * DS + tx + TX * j];
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
        if (BACKWARD) { v *= params.alpha * dropout_factor(row * P + q); }
        smem_in[local * P + q] = v;
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
          y += smem_in[zrow + c] * cores[coreIndex];
        }
        if (!BACKWARD) { y *= dropout_factor(row * P + q); }
        stage2[row * P + q] = y;
      }
    }
  }
}

// ---- lowrank_out -----------------------------------------------------------------------------------------

@group(0) @binding(1) var<storage, read> lhs_out: array<f32>;
@group(0) @binding(2) var<storage, read> bank_out: array<f32>;
@group(0) @binding(3) var<storage, read_write> out_cols: array<f32>;

const OT: u32 = 64u;       // output tile side
const LS: u32 = KT + 1u;   // padded row of the staged L tile
var<workgroup> tile_l: array<f32, OT * LS>;            // [row][q]
var<workgroup> tile_bank: array<vec4<f32>, KT * 16u>;  // [q][n/4]

// bank(q, n): U_cat[q, n] = U[q·n_len + n], or D_catᵀ[q, n] = D[h, n, c] with q = h·r + c.
fn bank_index(q: u32, n: u32, n_len: u32, R: u32) -> u32 {
  if (BANK_DOWN) { return ((q / R) * n_len + n) * R + q % R; }
  return q * n_len + n;
}

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
      if (row < rows && q < P) { v = lhs_out[row * P + q]; }
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
      if (q < P && n < N) { v = bank_out[bank_index(q, n, N, R)]; }
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
        if (ACCUMULATE) { v += out_cols[index]; }
        out_cols[index] = v;
      }
    }
  }
}

// ---- weight_grad -----------------------------------------------------------------------------------------

@group(0) @binding(1) var<storage, read> wide_wg: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> lhs_wg: array<f32>;
@group(0) @binding(3) var<storage, read_write> out_wg: array<f32>;

var<workgroup> tile_q: array<f32, KT * 128u>;         // [row][q], P ≤ 128
var<workgroup> tile_wide: array<vec4<f32>, KT * 16u>; // [row][n/4]

fn read4_wg(i: u32, avail: i32) -> vec4<f32> {
  if (avail <= 0) { return vec4<f32>(0.0); }
  if (VEC_WIDE) { return wide_wg[i >> 2u]; }
  var v = vec4<f32>(wide_wg[i >> 2u][i & 3u], 0.0, 0.0, 0.0);
  if (avail > 1) { v.y = wide_wg[(i + 1u) >> 2u][(i + 1u) & 3u]; }
  if (avail > 2) { v.z = wide_wg[(i + 2u) >> 2u][(i + 2u) & 3u]; }
  if (avail > 3) { v.w = wide_wg[(i + 3u) >> 2u][(i + 3u) & 3u]; }
  return v;
}

// out(q, n) = alpha · Σ_{t in chunk} L[t, q] · wide[t, offset + n]; a workgroup owns 64 columns × all P rows
// of the result for one chunk of T (grid y). Each thread keeps 4 consecutive n for CN values of q.
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
      if (t0 + g / P < end) { v = lhs_wg[t0 * P + g]; }
      tile_q[g] = v;
    }
    {
      let rr = t / 16u;
      let nq = t % 16u;
      let row = t0 + rr;
      let n = n0 + nq * 4u;
      tile_wide[t] = read4_wg(row * params.stride + params.offset + n, select(0, i32(N) - i32(n), row < end));
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
      if (n < N) { out_wg[base + bank_index(q, n, N, R)] = params.alpha * acc[j][c]; }
    }
  }
}

// ---- core_grad -------------------------------------------------------------------------------------------

@group(0) @binding(1) var<storage, read> z_cg: array<f32>;
@group(0) @binding(2) var<storage, read> dy_cg: array<f32>;
@group(0) @binding(3) var<storage, read_write> out_cg: array<f32>;

const CKT: u32 = 8u;
var<workgroup> tile_z: array<f32, CKT * 128u>;
var<workgroup> tile_dy: array<f32, CKT * 128u>;

// part[chunk][h, c, c'] = Σ_{t in chunk} Z[t, h·r + c] · dY[t, h·r + c']; one output per thread, grid y over
// blocks of 256 outputs, grid x over chunks of T.
@compute @workgroup_size(256)
fn core_grad(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let t = lid.x;
  let R = params.r;
  let P = params.p * R;
  let outputs = P * R;
  let o = wid.y * THREADS + t;
  let h = o / (R * R);
  let c = (o / R) % R;
  let c2 = o % R;
  let zi = min(h * R + c, P - 1u);
  let yi = min(h * R + c2, P - 1u);
  let chunk = wid.x;
  let start = chunk * params.chunk_rows;
  let end = min(params.rows, start + params.chunk_rows);

  var acc = 0.0;
  for (var t0 = start; t0 < end; t0 += CKT) {
    for (var g = t; g < CKT * P; g += THREADS) {
      var z = 0.0;
      var dy = 0.0;
      if (t0 + g / P < end) {
        z = z_cg[t0 * P + g];
        dy = dy_cg[t0 * P + g];
      }
      tile_z[g] = z;
      tile_dy[g] = dy;
    }
    workgroupBarrier();
    for (var kk = 0u; kk < CKT; kk++) { acc += tile_z[kk * P + zi] * tile_dy[kk * P + yi]; }
    workgroupBarrier();
  }
  if (o < outputs) { out_cg[chunk * outputs + o] = acc; }
}

// ---- sum_chunks ------------------------------------------------------------------------------------------

@group(0) @binding(1) var<storage, read> part_sc: array<f32>;
@group(0) @binding(2) var<storage, read_write> out_sc: array<f32>;

// out[e] = alpha · Σ_c part[c][e − out_offset] inside the block [out_offset, out_offset + n), 0 elsewhere.
// Consecutive threads read consecutive partials of one chunk (coalesced).
@compute @workgroup_size(256)
fn sum_chunks(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let e = (wid.y * nwg.x + wid.x) * THREADS + lid.x;
  if (e >= params.out_size) { return; }
  let n = params.k;
  var v = 0.0;
  if (e >= params.out_offset && e < params.out_offset + n) {
    let i = e - params.out_offset;
    for (var c = 0u; c < params.chunks; c++) { v += part_sc[c * n + i]; }
    v *= params.alpha;
  }
  out_sc[e] = v;
}

// ---- barrier-free variants for small bottlenecks -----------------------------------------------------------
//
// At rank ≤ 16 the tiled entries above do little arithmetic between their barriers: the bank tiles are a few
// hundred floats and every K step pays two workgroup barriers (and on emulators a context switch per group of
// invocations). These entries keep no workgroup memory at all. Each thread owns outputs along the wide
// dimension and reads the wide operand once, as vec4s; the small operand (the bank, or the [T, P] bottleneck)
// is read at addresses that are the same for every thread of a row group, i.e. broadcast from cache.

@group(0) @binding(1) var<storage, read> wide_r: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> bank_r: array<f32>;
@group(0) @binding(3) var<storage, read> cores_r: array<f32>;
@group(0) @binding(4) var<storage, read_write> stage1_r: array<f32>;
@group(0) @binding(5) var<storage, read_write> stage2_r: array<f32>;

fn read4_r(i: u32, avail: i32) -> vec4<f32> {
  if (avail <= 0) { return vec4<f32>(0.0); }
  if (VEC_WIDE) { return wide_r[i >> 2u]; }
  var v = vec4<f32>(wide_r[i >> 2u][i & 3u], 0.0, 0.0, 0.0);
  if (avail > 1) { v.y = wide_r[(i + 1u) >> 2u][(i + 1u) & 3u]; }
  if (avail > 2) { v.z = wide_r[(i + 2u) >> 2u][(i + 2u) & 3u]; }
  if (avail > 3) { v.w = wide_r[(i + 3u) >> 2u][(i + 3u) & 3u]; }
  return v;
}

// lowrank_in for P ≤ 4·QV: one thread per row, all P bottleneck columns in registers, so the core product
// needs no exchange between threads.
@compute @workgroup_size(64)
fn lowrank_in_rows(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let row = (wid.y * nwg.x + wid.x) * 64u + lid.x;
  let rows = params.rows;
  if (row >= rows) { return; }
  let K = params.k;
  let R = params.r;
  let P = params.p * R;
  let base = row * params.stride + params.offset;

  // Bank column q of row k sits at start[q] + k·k_step: forward D[h, k, c] (q = h·r + c), backward U[q, k].
  // Columns past P read column P − 1 again; their sums are never used.
  var start: array<u32, 4u * QV>;
  for (var q = 0u; q < 4u * QV; q++) {
    let qc = min(q, P - 1u);
    start[q] = select(((qc / R) * K) * R + qc % R, qc * K, BACKWARD);
  }
  let k_step = select(R, 1u, BACKWARD);

  var acc: array<vec4<f32>, QV>;
  for (var k = 0u; k < K; k += 4u) {
    let x4 = read4_r(base + k, i32(K) - i32(k));
    let kn = min(4u, K - k);
    for (var e = 0u; e < kn; e++) {
      let at = (k + e) * k_step;
      for (var j = 0u; j < QV; j++) {
        let b4 = vec4<f32>(bank_r[start[4u * j] + at], bank_r[start[4u * j + 1u] + at], bank_r[start[4u * j + 2u] + at], bank_r[start[4u * j + 3u] + at]);
        acc[j] += x4[e] * b4;
      }
    }
  }

  var s1: array<vec4<f32>, QV>;
  for (var j = 0u; j < QV; j++) {
    for (var c = 0u; c < 4u; c++) {
      let q = j * 4u + c;
      if (q < P) {
        var v = acc[j][c];
        if (BACKWARD) { v *= params.alpha * dropout_factor(row * P + q); }
        s1[j][c] = v;
        stage1_r[row * P + q] = v;
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
      y += s1[zc / 4u][zc % 4u] * cores_r[coreIndex];
    }
    if (!BACKWARD) { y *= dropout_factor(row * P + q); }
    stage2_r[row * P + q] = y;
  }
}

@group(0) @binding(1) var<storage, read> lhs_or: array<f32>;
@group(0) @binding(2) var<storage, read> bank_or: array<f32>;
@group(0) @binding(3) var<storage, read_write> out_or: array<f32>;

// lowrank_out without tiles: a thread owns 4 consecutive columns of RO rows; a workgroup of 64 covers 64
// columns × 4·RO rows. The K = P reduction is short, so its operands come straight from memory.
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
    for (var c = 0u; c < nn; c++) { b4[c] = bank_or[bank_index(q, n + c, N, R)]; }
    for (var i = 0u; i < RO; i++) {
      let row = min(row0 + i, rows - 1u); // rows past T compute a copy that is never written
      acc[i] += lhs_or[row * P + q] * b4;
    }
  }
  for (var i = 0u; i < RO; i++) {
    let row = row0 + i;
    if (row >= rows) { break; }
    for (var c = 0u; c < nn; c++) {
      let index = row * params.stride + params.offset + n + c;
      var v = params.alpha * acc[i][c];
      if (ACCUMULATE) { v += out_or[index]; }
      out_or[index] = v;
    }
  }
}

@group(0) @binding(1) var<storage, read> wide_wr: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> lhs_wr: array<f32>;
@group(0) @binding(3) var<storage, read_write> out_wr: array<f32>;

fn read4_wr(i: u32, avail: i32) -> vec4<f32> {
  if (avail <= 0) { return vec4<f32>(0.0); }
  if (VEC_WIDE) { return wide_wr[i >> 2u]; }
  var v = vec4<f32>(wide_wr[i >> 2u][i & 3u], 0.0, 0.0, 0.0);
  if (avail > 1) { v.y = wide_wr[(i + 1u) >> 2u][(i + 1u) & 3u]; }
  if (avail > 2) { v.z = wide_wr[(i + 2u) >> 2u][(i + 2u) & 3u]; }
  if (avail > 3) { v.w = wide_wr[(i + 3u) >> 2u][(i + 3u) & 3u]; }
  return v;
}

// weight_grad without tiles: a thread owns 4 consecutive columns n for 4·QV values of q (grid z: blocks of
// 4·QV along P) over one chunk of rows (grid y); 64 threads cover 256 columns.
@compute @workgroup_size(64)
fn weight_grad_rows(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let N = params.k;
  let R = params.r;
  let P = params.p * R;
  let n = (wid.x * 64u + lid.x) * 4u;
  if (n >= N) { return; }
  let q0 = wid.z * 4u * QV;
  let chunk = wid.y;
  let start = chunk * params.chunk_rows;
  let end = min(params.rows, start + params.chunk_rows);

  var acc: array<vec4<f32>, 4u * QV>;
  for (var row = start; row < end; row++) {
    let w4 = read4_wr(row * params.stride + params.offset + n, i32(N) - i32(n));
    for (var j = 0u; j < 4u * QV; j++) {
      acc[j] += lhs_wr[row * P + min(q0 + j, P - 1u)] * w4; // q past P: a copy that is never written
    }
  }

  let base = select(0u, chunk * params.out_size, SPLIT);
  let nn = min(4u, N - n);
  for (var j = 0u; j < 4u * QV; j++) {
    let q = q0 + j;
    if (q >= P) { break; }
    for (var c = 0u; c < nn; c++) { out_wr[base + bank_index(q, n + c, N, R)] = params.alpha * acc[j][c]; }
  }
}
