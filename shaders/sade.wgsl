// SADE, sample-agnostic diversity enhancement (docs: clora-spec.md §1; launchers: src/kernels/sade.ts).
//
// Gram tensors of a bank, [p, p, r, r], computed once per step per bank:
//   down bank D [p, L, r]: G[h, k] = D_hᵀ·D_k      G[h, k, c, c'] = Σ_i D[h, i, c] · D[k, i, c']
//   up bank   U [p, r, L]: G[k, h] = U_k·U_hᵀ      G[k, h, c, c'] = Σ_n U[k, c, n] · U[h, c', n]
// Both are the Gram matrix of P = p·r vectors v = (space, c) of length L, stored at ((h1·p + h2)·r + c1)·r + c2.
//
// Per module j (cores Q_h = cores[j, h], r×r), with A = G^D[h, k] and B = G^U[k, h]:
//   I_hk = ⟨M_h, M_k⟩ = tr(Q_hᵀ·A·Q_k·B) = Σ_ab Q_h[a, b] · (A·Q_k·B)[a, b]
//   n_h = I_hh + eps,  c_hk = I_hk / sqrt(n_h·n_k),  S_j = Σ_{h<k} c_hk²
// Only r×r products: an a×b matrix is never formed. One workgroup per module.
//
// Backward: S_j depends on I_hk (h ≤ k) with weights ω_hk = dS/dI_hk:
//   h < k: ω = 2·c_hk / sqrt(n_h·n_k);   h = k: ω = −Σ_{k≠h} c_hk² / n_h
// and for each such I = tr(Q_hᵀ·A·Q_k·B):
//   dQ_h += ω·A·Q_k·B,   dQ_k += ω·Aᵀ·Q_h·Bᵀ,   dA = ω·Q_h·Bᵀ·Q_kᵀ,   dB = ω·Q_kᵀ·Aᵀ·Q_h.
//
// Defines: UP (the bank is an up bank [p, r, L]), SPLIT (gram_partial writes one partial per chunk).
// r ≤ 32 and p ≤ 8 (the launchers check): r×r products fit in workgroup memory.

struct Params {
  p: u32,
  r: u32,
  len: u32,         // L, the bank's long dimension
  chunk_len: u32,   // gram_partial: L per chunk (grid x)
  first: u32,       // first module of the range
  count: u32,       // modules in the range
  eps: f32,
}

@group(0) @binding(0) var<uniform> params: Params;

const THREADS: u32 = 256u;
const KT: u32 = 16u;
const OUT_PER_THREAD: u32 = 4u;

// ---- gram ------------------------------------------------------------------------------------------------

@group(0) @binding(1) var<storage, read> bank: array<f32>;
@group(0) @binding(2) var<storage, read_write> gram_out: array<f32>;

var<workgroup> tile_a: array<f32, KT * 128u>; // [i][v], P ≤ 128

fn gram_index(v1: u32, v2: u32) -> u32 {
  let R = params.r;
  return (((v1 / R) * params.p + v2 / R) * R + v1 % R) * R + v2 % R;
}

// Element i of vector v (= space·r + c) in the bank's own layout.
fn bank_index(i: u32, v: u32) -> u32 {
  let R = params.r;
  if (UP) { return v * params.len + i; }
  return ((v / R) * params.len + i) * R + v % R;
}

// A workgroup sums one chunk of L (grid x) for 1024 of the P² outputs (grid y); the [KT][P] tile is loaded
// in the bank's memory order.
@compute @workgroup_size(256)
fn gram_partial(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let t = lid.x;
  let R = params.r;
  let P = params.p * R;
  let L = params.len;
  let start = wid.x * params.chunk_len;
  let end = min(L, start + params.chunk_len);
  var v1: array<u32, OUT_PER_THREAD>;
  var v2: array<u32, OUT_PER_THREAD>;
  for (var u = 0u; u < OUT_PER_THREAD; u++) {
    let o = min((wid.y * OUT_PER_THREAD + u) * THREADS + t, P * P - 1u);
    v1[u] = o / P;
    v2[u] = o % P;
  }

  var acc: array<f32, OUT_PER_THREAD>;
  for (var i0 = start; i0 < end; i0 += KT) {
    for (var g = t; g < KT * P; g += THREADS) {
      var kk: u32;
      var v: u32;
      if (UP) { // U[v, i] contiguous along i
        kk = g % KT;
        v = g / KT;
      } else { // D[h, i, c] contiguous along (i, c)
        kk = (g / R) % KT;
        v = (g / (R * KT)) * R + g % R;
      }
      var x = 0.0;
      if (i0 + kk < end) { x = bank[bank_index(i0 + kk, v)]; }
      tile_a[kk * P + v] = x;
    }
    workgroupBarrier();
    for (var kk = 0u; kk < KT; kk++) {
      for (var u = 0u; u < OUT_PER_THREAD; u++) { acc[u] += tile_a[kk * P + v1[u]] * tile_a[kk * P + v2[u]]; }
    }
    workgroupBarrier();
  }
  let base = select(0u, wid.x * P * P, SPLIT);
  for (var u = 0u; u < OUT_PER_THREAD; u++) {
    let o = (wid.y * OUT_PER_THREAD + u) * THREADS + t;
    if (o < P * P) { gram_out[base + gram_index(v1[u], v2[u])] = acc[u]; }
  }
}

@group(0) @binding(1) var<storage, read> bank_gb: array<f32>;
@group(0) @binding(2) var<storage, read> dgram: array<f32>;
@group(0) @binding(3) var<storage, read_write> dbank: array<f32>;

// G = AᵀA over vectors: dA(i, v1) = Σ_v2 A(i, v2)·(dG[v1, v2] + dG[v2, v1]); one thread per bank element.
@compute @workgroup_size(256)
fn gram_backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let e = (wid.y * nwg.x + wid.x) * THREADS + lid.x;
  let R = params.r;
  let P = params.p * R;
  let L = params.len;
  if (e >= P * L) { return; }
  var i: u32;
  var v1: u32;
  if (UP) {
    v1 = e / L;
    i = e % L;
  } else {
    i = (e / R) % L;
    v1 = (e / (L * R)) * R + e % R;
  }
  var acc = 0.0;
  for (var v2 = 0u; v2 < P; v2++) {
    acc += bank_gb[bank_index(i, v2)] * (dgram[gram_index(v1, v2)] + dgram[gram_index(v2, v1)]);
  }
  dbank[e] = acc;
}

// ---- SADE ------------------------------------------------------------------------------------------------

@group(0) @binding(1) var<storage, read> cores: array<f32>;
@group(0) @binding(2) var<storage, read> gd: array<f32>;
@group(0) @binding(3) var<storage, read> gu: array<f32>;
@group(0) @binding(4) var<storage, read_write> sums: array<f32>;
// Backward only.
@group(0) @binding(4) var<storage, read> gout: array<f32>;
@group(0) @binding(5) var<storage, read_write> dcores: array<f32>;
@group(0) @binding(6) var<storage, read_write> dgd: array<f32>;
@group(0) @binding(7) var<storage, read_write> dgu: array<f32>;

var<workgroup> t1: array<f32, 1024>; // A·Q_k
var<workgroup> t2: array<f32, 1024>; // Aᵀ·Q_h (backward)
var<workgroup> t3: array<f32, 1024>; // Q_k·B (backward)
var<workgroup> red: array<f32, THREADS>;
var<workgroup> inner: array<f32, 64>; // I[h, k], h ≤ k
var<workgroup> omega: array<f32, 64>;

fn q_at(j: u32, h: u32, a: u32, b: u32) -> u32 { return ((j * params.p + h) * params.r + a) * params.r + b; }
fn g_at(h: u32, k: u32, a: u32, b: u32) -> u32 { return ((h * params.p + k) * params.r + a) * params.r + b; }

// inner[h·p + k] = tr(Q_hᵀ·G^D[h, k]·Q_k·G^U[k, h]); every thread of the workgroup calls it.
fn pair_inner(j: u32, h: u32, k: u32, t: u32) {
  let R = params.r;
  for (var e = t; e < R * R; e += THREADS) {
    let a = e / R;
    let b = e % R;
    var s = 0.0;
    for (var c = 0u; c < R; c++) { s += gd[g_at(h, k, a, c)] * cores[q_at(j, k, c, b)]; }
    t1[e] = s;
  }
  workgroupBarrier();
  var acc = 0.0;
  for (var e = t; e < R * R; e += THREADS) {
    let a = e / R;
    let b = e % R;
    var s = 0.0;
    for (var c = 0u; c < R; c++) { s += t1[a * R + c] * gu[g_at(k, h, c, b)]; }
    acc += cores[q_at(j, h, a, b)] * s;
  }
  red[t] = acc;
  workgroupBarrier();
  for (var stride = THREADS / 2u; stride > 0u; stride >>= 1u) {
    if (t < stride) { red[t] += red[t + stride]; }
    workgroupBarrier();
  }
  if (t == 0u) { inner[h * params.p + k] = red[0]; }
  workgroupBarrier();
}

fn all_inner(j: u32, t: u32) {
  for (var h = 0u; h < params.p; h++) {
    for (var k = h; k < params.p; k++) { pair_inner(j, h, k, t); }
  }
}

fn cosine(h: u32, k: u32) -> f32 {
  let p = params.p;
  let a = min(h, k);
  let b = max(h, k);
  return inner[a * p + b] / sqrt((inner[a * p + a] + params.eps) * (inner[b * p + b] + params.eps));
}

// sums[i] = S_j for module j = first + i (grid x = count).
@compute @workgroup_size(256)
fn sade_forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let t = lid.x;
  let j = params.first + wid.x;
  all_inner(j, t);
  if (t == 0u) {
    var s = 0.0;
    for (var h = 0u; h < params.p; h++) {
      for (var k = h + 1u; k < params.p; k++) {
        let c = cosine(h, k);
        s += c * c;
      }
    }
    sums[wid.x] = s;
  }
}

// Grid x = all m modules: those outside [first, first + count) get zero core gradients. dgd / dgu receive
// one [p, p, r, r] block per module of the range (summed by the launcher when count > 1); every element is
// written, zeros where a Gram block does not enter S.
@compute @workgroup_size(256)
fn sade_backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let t = lid.x;
  let j = wid.x;
  let p = params.p;
  let R = params.r;
  let R2 = R * R;
  if (j < params.first || j >= params.first + params.count) {
    for (var e = t; e < p * R2; e += THREADS) { dcores[j * p * R2 + e] = 0.0; }
    return;
  }
  let jj = j - params.first;
  all_inner(j, t);
  if (t == 0u) {
    let g = gout[0];
    for (var h = 0u; h < p; h++) {
      let nh = inner[h * p + h] + params.eps;
      var diag = 0.0;
      for (var k = 0u; k < p; k++) {
        if (k == h) { continue; }
        let c = cosine(h, k);
        diag -= c * c / nh;
        if (k > h) { omega[h * p + k] = g * 2.0 * c / sqrt(nh * (inner[k * p + k] + params.eps)); }
      }
      omega[h * p + h] = g * diag;
    }
  }
  // Each thread owns the same elements e of every r×r block, here and in the accumulation below, so its
  // read-modify-writes of dcores follow its own zeroing in program order (no storage barrier needed).
  for (var h = 0u; h < p; h++) {
    for (var e = t; e < R2; e += THREADS) { dcores[(j * p + h) * R2 + e] = 0.0; }
  }
  let blocks = jj * p * p * R2;
  for (var h = 0u; h < p; h++) {
    for (var k = 0u; k < h; k++) {
      for (var e = t; e < R2; e += THREADS) {
        dgd[blocks + (h * p + k) * R2 + e] = 0.0; // G^D[h, k] with h > k never enters
        dgu[blocks + (k * p + h) * R2 + e] = 0.0; // G^U[k, h] with k < h never enters
      }
    }
  }
  workgroupBarrier();

  for (var h = 0u; h < p; h++) {
    for (var k = h; k < p; k++) {
      let w = omega[h * p + k];
      for (var e = t; e < R2; e += THREADS) {
        let a = e / R;
        let b = e % R;
        var s1 = 0.0;
        var s2 = 0.0;
        var s3 = 0.0;
        for (var c = 0u; c < R; c++) {
          s1 += gd[g_at(h, k, a, c)] * cores[q_at(j, k, c, b)];
          s2 += gd[g_at(h, k, c, a)] * cores[q_at(j, h, c, b)];
          s3 += cores[q_at(j, k, a, c)] * gu[g_at(k, h, c, b)];
        }
        t1[e] = s1;
        t2[e] = s2;
        t3[e] = s3;
      }
      workgroupBarrier();
      for (var e = t; e < R2; e += THREADS) {
        let a = e / R;
        let b = e % R;
        var dqh = 0.0;
        var dqk = 0.0;
        var dA = 0.0;
        var dB = 0.0;
        for (var c = 0u; c < R; c++) {
          dqh += t1[a * R + c] * gu[g_at(k, h, c, b)];
          dqk += t2[a * R + c] * gu[g_at(k, h, b, c)];
          dA += cores[q_at(j, h, a, c)] * t3[b * R + c];
          dB += t1[c * R + a] * cores[q_at(j, h, c, b)];
        }
        dcores[q_at(j, h, a, b)] += w * dqh;
        dcores[q_at(j, k, a, b)] += w * dqk;
        dgd[blocks + (h * p + k) * R2 + e] = w * dA;
        dgu[blocks + (k * p + h) * R2 + e] = w * dB;
      }
      workgroupBarrier();
    }
  }
}
