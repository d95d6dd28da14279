// BatchNorm in evaluation mode folded into the linear map before it (the mini-PointNet's Conv1d(k=1) →
// BatchNorm1d pairs; clora-spec §4: running statistics fixed, eps 1e-5). Per output channel o:
//   a_o = γ_o / √(σ²_o + eps)
//   forward:   W'[o, i] = a_o·W[o, i],   b'[o] = a_o·(b[o] − μ_o) + β_o
//              so that BN(x·Wᵀ + b) = x·W'ᵀ + b' (then matmul's fused epilogue adds b' and applies ReLU);
//   backward:  dW[o, i] = a_o·dW'[o, i],   db[o] = a_o·db'[o],   dβ_o = db'[o],
//              dγ_o = (Σ_i W[o, i]·dW'[o, i] + (b[o] − μ_o)·db'[o]) / √(σ²_o + eps);
//              μ and σ² get no gradient (running statistics never train).
// The BatchNorm vectors γ, β, μ, σ² are separate bindings, each [O] (at most 8 storage bindings an entry). f32.

struct Params {
  total: u32, // fold, fold_backward_weight: O·I; fold_backward_channel: O
  O: u32,
  I: u32,
  eps: f32,
}

@group(0) @binding(0) var<uniform> params: Params;

const WG: u32 = 256u;

fn flat(wid: vec3<u32>, nwg: vec3<u32>, lid: vec3<u32>) -> u32 {
  return (wid.y * nwg.x + wid.x) * WG + lid.x;
}

// Each entry point binds its buffers as 1, 2, … in the order its launcher passes them (src/kernels/pointnet.ts).

@group(0) @binding(1) var<storage, read> w: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read> gamma: array<f32>;
@group(0) @binding(4) var<storage, read> beta: array<f32>;
@group(0) @binding(5) var<storage, read> mean: array<f32>;
@group(0) @binding(6) var<storage, read> variance: array<f32>;
@group(0) @binding(7) var<storage, read_write> wOut: array<f32>;
@group(0) @binding(8) var<storage, read_write> bOut: array<f32>;

// One thread per weight element; the first thread of each row also writes the bias.
@compute @workgroup_size(WG)
fn fold(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let e = flat(wid, nwg, lid);
  if (e >= params.total) { return; }
  let o = e / params.I;
  let a = gamma[o] / sqrt(variance[o] + params.eps);
  wOut[e] = a * w[e];
  if (e % params.I == 0u) { bOut[o] = a * (b[o] - mean[o]) + beta[o]; }
}

@group(0) @binding(1) var<storage, read> weightGamma: array<f32>;
@group(0) @binding(2) var<storage, read> weightVariance: array<f32>;
@group(0) @binding(3) var<storage, read> weightGrad: array<f32>; // dW'
@group(0) @binding(4) var<storage, read_write> dw: array<f32>;

// dW = a·dW', one thread per weight element.
@compute @workgroup_size(WG)
fn fold_backward_weight(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let e = flat(wid, nwg, lid);
  if (e >= params.total) { return; }
  let o = e / params.I;
  dw[e] = weightGamma[o] / sqrt(weightVariance[o] + params.eps) * weightGrad[e];
}

@group(0) @binding(4) var<storage, read> channelMean: array<f32>;
@group(0) @binding(5) var<storage, read> channelVariance: array<f32>;
@group(0) @binding(6) var<storage, read> channelWeightGrad: array<f32>; // dW'
@group(0) @binding(7) var<storage, read> channelBiasGrad: array<f32>; // db'
@group(0) @binding(8) var<storage, read_write> dChannel: array<f32>; // [db | dγ | dβ], each [O]

// db, dγ, dβ: one thread per channel, summing its row (rows of at most 512 here).
@compute @workgroup_size(WG)
fn fold_backward_channel(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let o = flat(wid, nwg, lid);
  if (o >= params.total) { return; }
  let r = 1.0 / sqrt(channelVariance[o] + params.eps);
  let dbFolded = channelBiasGrad[o];
  var s = (b[o] - channelMean[o]) * dbFolded;
  for (var i = 0u; i < params.I; i++) { s += w[o * params.I + i] * channelWeightGrad[o * params.I + i]; }
  let O = params.O;
  dChannel[o] = gamma[o] * r * dbFolded;
  dChannel[O + o] = s * r;
  dChannel[2u * O + o] = dbFolded;
}
