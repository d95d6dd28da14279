// Fused scaled-dot-product attention, flash-attention style: out = softmax(q·kᵀ·scale)·v per (batch, head),
// q [BH, NQ, DH], k and v [BH, NK, DH] (row-major), forward and backward.
//
// Why memory stays bounded: a workgroup owns ROWS rows of one (b, h) and streams the other operand through
// workgroup memory TILE rows at a time. The forward keeps a running max and a running sum per query row
// (online softmax), rescaling its output accumulators whenever the max grows, so a row's scores only ever
// exist one tile at a time. Workgroup memory is a few ROWS×DH and TILE×DH tiles — independent of N — and
// the N×N score matrix never reaches global memory: the only extra global buffers are the per-row
// logsumexp (saved by the forward) and D = rowsum(dO∘O) for the backward, each O(B·H·N). The backward
// recomputes the probabilities from q, k and the logsumexp instead of storing them.
//
// Defines (src/kernels/attention.ts picks them so every entry point fits 16 KiB of workgroup memory and
// 128 invocations): DH head dim; ROWS rows owned per workgroup; TILE rows streamed per step; TPR threads per
// owned row. Thread lid.x owns row lid.x / TPR and the columns lane + TPR·t (lane = lid.x % TPR): the lanes
// of a row touch neighbouring addresses, in global memory (coalesced) and in workgroup memory (no bank
// conflicts). Grid: x = row blocks, y = batch·head.
//
// Binding numbers repeat across entry points (each one binds 1..n in its own order); no entry point uses two
// variables with the same number.

struct Params {
  nq: u32,    // query rows per (b, h)
  nk: u32,    // key/value rows per (b, h)
  scale: f32, // multiplies q·k
}

@group(0) @binding(0) var<uniform> params: Params;

// Storage type of q, k, v, out and their gradients: f32 unless the launcher asks for f16 (mixed
// precision); loads widen to f32, and scores, softmax statistics, lse and D stay f32.
alias act = f32; // @storage

const WG: u32 = ROWS * TPR;
// Row stride of DH-wide tiles in workgroup memory, made odd: rows read at the same column fall in
// different banks.
const DHS: u32 = DH | 1u;
// Transposed K tile stride, odd for the same reason when the tile is written.
const KTS: u32 = TILE + 1u;
const TILE_COLS: u32 = (TILE + TPR - 1u) / TPR; // streamed rows per thread in the score step
const HEAD_COLS: u32 = (DH + TPR - 1u) / TPR;   // head-dim columns per thread
// Scores live in the log2 domain: exp2 is the hardware instruction, exp costs a multiply more.
const LOG2E: f32 = 1.4426950408889634;
const LN2: f32 = 0.6931471805599453;
// Finite stand-in for −∞: exp2(NEG_BIG − m) is 0 and NEG_BIG − NEG_BIG never happens (each tile has a key).
const NEG_BIG: f32 = -3.0e38;

// ---------------------------------------------------------------------------------------------------------
// Forward: q, k, v → out, lse (logsumexp of the scaled scores, natural log, per query row).
// ---------------------------------------------------------------------------------------------------------

@group(0) @binding(1) var<storage, read> q: array<act>;
@group(0) @binding(2) var<storage, read> k: array<act>;
@group(0) @binding(3) var<storage, read> v: array<act>;
@group(0) @binding(4) var<storage, read_write> out: array<act>;
@group(0) @binding(5) var<storage, read_write> lse_out: array<f32>;

var<workgroup> fw_q: array<f32, ROWS * DHS>;
// Kᵀ (DH × KTS) while scores are formed, then V (TILE × DH) while it is accumulated: one buffer, two uses.
var<workgroup> fw_kv: array<f32, DH * KTS>;
var<workgroup> fw_p: array<f32, ROWS * TILE>;
// Per-thread partial maxima (then partial sums) combined across the TPR lanes of a row.
var<workgroup> fw_part: array<f32, WG>;

@compute @workgroup_size(WG)
fn forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let bh = wid.y;
  let row0 = wid.x * ROWS;
  let r = lid.x / TPR;
  let lane = lid.x % TPR;
  let qi = row0 + r;
  let q_base = bh * params.nq * DH;
  let kv_base = bh * params.nk * DH;
  let scale2 = params.scale * LOG2E;

  for (var e = lid.x; e < ROWS * DH; e += WG) {
    let rr = e / DH;
    var x = 0.0;
    if (row0 + rr < params.nq) { x = f32(q[q_base + row0 * DH + e]); }
    fw_q[rr * DHS + e % DH] = x;
  }

  var m = NEG_BIG; // running max of the row (log2 domain), the same in every lane of the row
  var l = 0.0;     // this lane's share of the running sum of exp2(s − m)
  var acc: array<f32, HEAD_COLS>;
  for (var t = 0u; t < HEAD_COLS; t++) { acc[t] = 0.0; }

  for (var j0 = 0u; j0 < params.nk; j0 += TILE) {
    workgroupBarrier(); // the previous tile's V and P are consumed (and fw_q is staged)
    for (var e = lid.x; e < TILE * DH; e += WG) {
      let j = e / DH;
      var x = 0.0;
      if (j0 + j < params.nk) { x = f32(k[kv_base + j0 * DH + e]); }
      fw_kv[(e % DH) * KTS + j] = x;
    }
    workgroupBarrier();

    var s: array<f32, TILE_COLS>;
    var part_max = NEG_BIG;
    for (var t = 0u; t < TILE_COLS; t++) {
      let c = lane + t * TPR;
      var score = NEG_BIG;
      if (c < TILE && j0 + c < params.nk) {
        var qk = 0.0;
        for (var d = 0u; d < DH; d++) { qk += fw_q[r * DHS + d] * fw_kv[d * KTS + c]; }
        score = qk * scale2;
      }
      s[t] = score;
      part_max = max(part_max, score);
    }
    fw_part[lid.x] = part_max;
    workgroupBarrier(); // Kᵀ reads are done: the buffer may take V; partial maxima are visible

    for (var e = lid.x; e < TILE * DH; e += WG) {
      var x = 0.0;
      if (j0 + e / DH < params.nk) { x = f32(v[kv_base + j0 * DH + e]); }
      fw_kv[e] = x;
    }
    var tile_max = NEG_BIG;
    for (var u = 0u; u < TPR; u++) { tile_max = max(tile_max, fw_part[r * TPR + u]); }
    let m_new = max(m, tile_max);
    let rescale = exp2(m - m_new);
    m = m_new;
    var p_sum = 0.0;
    for (var t = 0u; t < TILE_COLS; t++) {
      let c = lane + t * TPR;
      let p = exp2(s[t] - m_new);
      if (c < TILE) { fw_p[r * TILE + c] = p; }
      p_sum += p;
    }
    l = l * rescale + p_sum;
    for (var t = 0u; t < HEAD_COLS; t++) { acc[t] *= rescale; }
    workgroupBarrier(); // V and P are visible

    for (var j = 0u; j < TILE; j++) {
      let p = fw_p[r * TILE + j];
      for (var t = 0u; t < HEAD_COLS; t++) {
        let c = lane + t * TPR;
        if (c < DH) { acc[t] += p * fw_kv[j * DH + c]; }
      }
    }
  }

  // Every lane read its last fw_part value before the final barrier of the loop, so it may be reused.
  fw_part[lid.x] = l;
  workgroupBarrier();
  var row_sum = 0.0;
  for (var u = 0u; u < TPR; u++) { row_sum += fw_part[r * TPR + u]; }
  if (qi < params.nq) {
    let inv = 1.0 / row_sum;
    for (var t = 0u; t < HEAD_COLS; t++) {
      let c = lane + t * TPR;
      if (c < DH) { out[q_base + qi * DH + c] = act(acc[t] * inv); }
    }
    if (lane == 0u) { lse_out[bh * params.nq + qi] = (m + log2(row_sum)) * LN2; }
  }
}

// ---------------------------------------------------------------------------------------------------------
// Backward, step 1: D[i] = Σ_c dO[i, c]·O[i, c] over all BH·NQ rows (params.nq holds the row count).
// ---------------------------------------------------------------------------------------------------------

@group(0) @binding(1) var<storage, read> rd_dout: array<act>;
@group(0) @binding(2) var<storage, read> rd_out: array<act>;
@group(0) @binding(3) var<storage, read_write> rd_dsum: array<f32>;

var<workgroup> rd_part: array<f32, WG>;

@compute @workgroup_size(WG)
fn backward_rowdot(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let row = (wid.y * nwg.x + wid.x) * ROWS + lid.x / TPR;
  let lane = lid.x % TPR;
  var partial = 0.0;
  if (row < params.nq) {
    for (var c = lane; c < DH; c += TPR) { partial += f32(rd_dout[row * DH + c]) * f32(rd_out[row * DH + c]); }
  }
  rd_part[lid.x] = partial;
  workgroupBarrier();
  if (lane == 0u && row < params.nq) {
    var total = 0.0;
    for (var u = 0u; u < TPR; u++) { total += rd_part[lid.x + u]; }
    rd_dsum[row] = total;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Backward, step 2: dK and dV. A workgroup owns ROWS key rows and streams query tiles:
//   P[j, i] = exp(s_ij − lse_i), dV[j] += Σ_i P[j, i]·dO[i], dS = P∘(dO[i]·V[j] − D[i]), dK[j] += scale·Σ_i dS·Q[i].
// ---------------------------------------------------------------------------------------------------------

@group(0) @binding(1) var<storage, read> bq: array<act>;
@group(0) @binding(2) var<storage, read> bk: array<act>;
@group(0) @binding(3) var<storage, read> bv: array<act>;
@group(0) @binding(4) var<storage, read> bdout: array<act>;
@group(0) @binding(5) var<storage, read> blse: array<f32>;
@group(0) @binding(6) var<storage, read> bdsum: array<f32>;
@group(0) @binding(7) var<storage, read_write> dk: array<act>;
@group(0) @binding(8) var<storage, read_write> dv: array<act>;

var<workgroup> kv_k: array<f32, ROWS * DHS>;
var<workgroup> kv_v: array<f32, ROWS * DHS>;
var<workgroup> kv_q: array<f32, TILE * DHS>;
var<workgroup> kv_do: array<f32, TILE * DHS>;
var<workgroup> kv_p: array<f32, ROWS * TILE>;
var<workgroup> kv_ds: array<f32, ROWS * TILE>;
var<workgroup> kv_lse: array<f32, TILE>;
var<workgroup> kv_dsum: array<f32, TILE>;

@compute @workgroup_size(WG)
fn backward_dkdv(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let bh = wid.y;
  let row0 = wid.x * ROWS;
  let r = lid.x / TPR;
  let lane = lid.x % TPR;
  let kj = row0 + r;
  let q_base = bh * params.nq * DH;
  let kv_base = bh * params.nk * DH;
  let scale2 = params.scale * LOG2E;

  for (var e = lid.x; e < ROWS * DH; e += WG) {
    let rr = e / DH;
    var xk = 0.0;
    var xv = 0.0;
    if (row0 + rr < params.nk) {
      xk = f32(bk[kv_base + row0 * DH + e]);
      xv = f32(bv[kv_base + row0 * DH + e]);
    }
    kv_k[rr * DHS + e % DH] = xk;
    kv_v[rr * DHS + e % DH] = xv;
  }

  var acc_dk: array<f32, HEAD_COLS>;
  var acc_dv: array<f32, HEAD_COLS>;
  for (var t = 0u; t < HEAD_COLS; t++) {
    acc_dk[t] = 0.0;
    acc_dv[t] = 0.0;
  }

  for (var i0 = 0u; i0 < params.nq; i0 += TILE) {
    workgroupBarrier(); // the previous query tile is consumed (and the key rows are staged)
    for (var e = lid.x; e < TILE * DH; e += WG) {
      let i = e / DH;
      var xq = 0.0;
      var xdo = 0.0;
      if (i0 + i < params.nq) {
        xq = f32(bq[q_base + i0 * DH + e]);
        xdo = f32(bdout[q_base + i0 * DH + e]);
      }
      kv_q[i * DHS + e % DH] = xq;
      kv_do[i * DHS + e % DH] = xdo;
    }
    if (lid.x < TILE) {
      var lse2 = 0.0;
      var dsum = 0.0;
      if (i0 + lid.x < params.nq) {
        lse2 = blse[bh * params.nq + i0 + lid.x] * LOG2E;
        dsum = bdsum[bh * params.nq + i0 + lid.x];
      }
      kv_lse[lid.x] = lse2;
      kv_dsum[lid.x] = dsum;
    }
    workgroupBarrier();

    for (var t = 0u; t < TILE_COLS; t++) {
      let i = lane + t * TPR;
      if (i < TILE) {
        var p = 0.0;
        var ds = 0.0;
        if (i0 + i < params.nq) {
          var qk = 0.0;
          var dov = 0.0;
          for (var d = 0u; d < DH; d++) {
            qk += kv_k[r * DHS + d] * kv_q[i * DHS + d];
            dov += kv_v[r * DHS + d] * kv_do[i * DHS + d];
          }
          p = exp2(qk * scale2 - kv_lse[i]);
          ds = p * (dov - kv_dsum[i]);
        }
        kv_p[r * TILE + i] = p;
        kv_ds[r * TILE + i] = ds;
      }
    }
    workgroupBarrier();

    for (var i = 0u; i < TILE; i++) {
      let p = kv_p[r * TILE + i];
      let ds = kv_ds[r * TILE + i];
      for (var t = 0u; t < HEAD_COLS; t++) {
        let c = lane + t * TPR;
        if (c < DH) {
          acc_dv[t] += p * kv_do[i * DHS + c];
          acc_dk[t] += ds * kv_q[i * DHS + c];
        }
      }
    }
  }

  if (kj < params.nk) {
    for (var t = 0u; t < HEAD_COLS; t++) {
      let c = lane + t * TPR;
      if (c < DH) {
        dk[kv_base + kj * DH + c] = act(acc_dk[t] * params.scale);
        dv[kv_base + kj * DH + c] = act(acc_dv[t]);
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------------------
// Backward, step 3: dQ. A workgroup owns ROWS query rows and streams key/value tiles:
//   dS = P∘(dO[i]·V[j] − D[i]), dQ[i] = scale·Σ_j dS·K[j]. Each output row is written by one workgroup, so no
//   atomics are needed (WGSL has none on floats).
// ---------------------------------------------------------------------------------------------------------

@group(0) @binding(7) var<storage, read_write> dq: array<act>;

var<workgroup> qd_q: array<f32, ROWS * DHS>;
var<workgroup> qd_do: array<f32, ROWS * DHS>;
var<workgroup> qd_k: array<f32, TILE * DHS>;
var<workgroup> qd_v: array<f32, TILE * DHS>;
var<workgroup> qd_ds: array<f32, ROWS * TILE>;

@compute @workgroup_size(WG)
fn backward_dq(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let bh = wid.y;
  let row0 = wid.x * ROWS;
  let r = lid.x / TPR;
  let lane = lid.x % TPR;
  let qi = row0 + r;
  let q_base = bh * params.nq * DH;
  let kv_base = bh * params.nk * DH;
  let scale2 = params.scale * LOG2E;

  for (var e = lid.x; e < ROWS * DH; e += WG) {
    let rr = e / DH;
    var xq = 0.0;
    var xdo = 0.0;
    if (row0 + rr < params.nq) {
      xq = f32(bq[q_base + row0 * DH + e]);
      xdo = f32(bdout[q_base + row0 * DH + e]);
    }
    qd_q[rr * DHS + e % DH] = xq;
    qd_do[rr * DHS + e % DH] = xdo;
  }
  var lse2 = 0.0;
  var dsum = 0.0;
  if (qi < params.nq) {
    lse2 = blse[bh * params.nq + qi] * LOG2E;
    dsum = bdsum[bh * params.nq + qi];
  }

  var acc: array<f32, HEAD_COLS>;
  for (var t = 0u; t < HEAD_COLS; t++) { acc[t] = 0.0; }

  for (var j0 = 0u; j0 < params.nk; j0 += TILE) {
    workgroupBarrier(); // the previous key tile is consumed (and the query rows are staged)
    for (var e = lid.x; e < TILE * DH; e += WG) {
      let j = e / DH;
      var xk = 0.0;
      var xv = 0.0;
      if (j0 + j < params.nk) {
        xk = f32(bk[kv_base + j0 * DH + e]);
        xv = f32(bv[kv_base + j0 * DH + e]);
      }
      qd_k[j * DHS + e % DH] = xk;
      qd_v[j * DHS + e % DH] = xv;
    }
    workgroupBarrier();

    for (var t = 0u; t < TILE_COLS; t++) {
      let j = lane + t * TPR;
      if (j < TILE) {
        var ds = 0.0;
        if (j0 + j < params.nk && qi < params.nq) {
          var qk = 0.0;
          var dov = 0.0;
          for (var d = 0u; d < DH; d++) {
            qk += qd_q[r * DHS + d] * qd_k[j * DHS + d];
            dov += qd_do[r * DHS + d] * qd_v[j * DHS + d];
          }
          ds = exp2(qk * scale2 - lse2) * (dov - dsum);
        }
        qd_ds[r * TILE + j] = ds;
      }
    }
    workgroupBarrier();

    for (var j = 0u; j < TILE; j++) {
      let ds = qd_ds[r * TILE + j];
      for (var t = 0u; t < HEAD_COLS; t++) {
        let c = lane + t * TPR;
        if (c < DH) { acc[t] += ds * qd_k[j * DHS + c]; }
      }
    }
  }

  if (qi < params.nq) {
    for (var t = 0u; t < HEAD_COLS; t++) {
      let c = lane + t * TPR;
      if (c < DH) { dq[q_base + qi * DH + c] = act(acc[t] * params.scale); }
    }
  }
}
