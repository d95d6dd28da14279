// Farthest point sampling (clora-spec §4 grouping), one workgroup per cloud:
//   c_0 = point 0;  d_i = |p_i − c_0|²;
//   for g = 1 … G−1:  c_g = argmax_i d_i (ties: the lowest i),  then  d_i ← min(d_i, |p_i − c_g|²).
// No backward: points are data.
//
// Each round is a parallel arg-max: every thread updates the distances of its own points (i = t, t + WG, …,
// read in increasing i, so a strict > keeps the lowest index of a tie), then a tree reduction in workgroup
// memory compares (value, index) pairs, the larger value winning and the lower index breaking ties.
// REGISTERS: a thread keeps its PER_THREAD points and their distances in registers (P ≤ WG·PER_THREAD);
// otherwise the distances live in `dist` [B, P] and the points are re-read each round (any P).
//
// Bindings: points [B, P, 3] f32; index [B, G] u32 (the chosen point of each round); centres [B, G, 3] f32;
// dist [B, P] f32 scratch (a stand-in when REGISTERS). Defines: WG, PER_THREAD, REGISTERS.

struct Params {
  P: u32,
  G: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> points: array<f32>;
@group(0) @binding(2) var<storage, read_write> index: array<u32>;
@group(0) @binding(3) var<storage, read_write> centres: array<f32>;
@group(0) @binding(4) var<storage, read_write> dist: array<f32>;

var<workgroup> bestValue: array<f32, WG>;
var<workgroup> bestIndex: array<u32, WG>;
var<workgroup> chosen: u32;

// Whether (v1, i1) beats (v0, i0): a larger distance, or the same distance at a lower index.
fn beats(v1: f32, i1: u32, v0: f32, i0: u32) -> bool {
  return v1 > v0 || (v1 == v0 && i1 < i0);
}

fn point(base: u32, i: u32) -> vec3<f32> {
  let at = base + 3u * i;
  return vec3<f32>(points[at], points[at + 1u], points[at + 2u]);
}

fn squared(a: vec3<f32>, b: vec3<f32>) -> f32 {
  let e = a - b;
  return e.x * e.x + e.y * e.y + e.z * e.z;
}

@compute @workgroup_size(WG)
fn fps(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let P = params.P;
  let G = params.G;
  let cloud = wid.x;
  let base = cloud * P * 3u;
  let t = lid.x;

  var mine: array<vec3<f32>, PER_THREAD>;
  var near: array<f32, PER_THREAD>;
  if (REGISTERS) {
    for (var j = 0u; j < PER_THREAD; j++) {
      let i = t + j * WG;
      if (i < P) { mine[j] = point(base, i); }
      near[j] = 3.4e38;
    }
  } else {
    for (var i = t; i < P; i += WG) { dist[cloud * P + i] = 3.4e38; }
  }
  if (t == 0u) { chosen = 0u; }
  workgroupBarrier();

  for (var g = 0u; g < G; g++) {
    let c = workgroupUniformLoad(&chosen);
    let centre = point(base, c);
    if (t == 0u) {
      index[cloud * G + g] = c;
      let at = (cloud * G + g) * 3u;
      centres[at] = centre.x;
      centres[at + 1u] = centre.y;
      centres[at + 2u] = centre.z;
    }
    if (g + 1u == G) { break; }

    var value = -1.0;
    var which = 0u;
    if (REGISTERS) {
      for (var j = 0u; j < PER_THREAD; j++) {
        let i = t + j * WG;
        if (i < P) {
          let d = min(near[j], squared(mine[j], centre));
          near[j] = d;
          if (d > value) { value = d; which = i; }
        }
      }
    } else {
      for (var i = t; i < P; i += WG) {
        let d = min(dist[cloud * P + i], squared(point(base, i), centre));
        dist[cloud * P + i] = d;
        if (d > value) { value = d; which = i; }
      }
    }
    bestValue[t] = value;
    bestIndex[t] = which;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s >>= 1u) {
      if (t < s && beats(bestValue[t + s], bestIndex[t + s], bestValue[t], bestIndex[t])) {
        bestValue[t] = bestValue[t + s];
        bestIndex[t] = bestIndex[t + s];
      }
      workgroupBarrier();
    }
    if (t == 0u) { chosen = bestIndex[0]; }
    workgroupBarrier();
  }
}
