// Optimizer updates over the flat parameter buffer (src/autodiff/params.ts): one thread per vec4, one
// dispatch per step. Weight decay applies to vec4 indices [0, decay_end4) only; the layout puts every
// decayed tensor there and keeps both bounds multiples of 4 floats, so no vec4 straddles the boundary.
// Scalars that depend only on the step (bias corrections, decay factor) come from the CPU: no GPU read.

struct Params {
  n4: u32,            // vec4 count of the flat buffers
  decay_end4: u32,    // first vec4 without weight decay
  lr: f32,
  decay_factor: f32,  // AdamW: 1 - lr·wd (decoupled decay); SGD: wd
  one_minus_beta1: f32,
  beta2: f32,
  one_minus_beta2: f32,
  eps: f32,
  step_size: f32,     // lr / (1 - beta1^t)
  bc2_sqrt: f32,      // sqrt(1 - beta2^t)
  // Loss-scaled entry points only (mixed precision):
  beta1: f32,
  growth_interval: u32, // good steps before the loss scale doubles
  max_scale: f32,
}

@group(0) @binding(0) var<uniform> params: Params;

const WG: u32 = 256u;

fn index(wid: vec3<u32>, nwg: vec3<u32>, lid: vec3<u32>) -> u32 {
  return (wid.y * nwg.x + wid.x) * WG + lid.x;
}

@group(0) @binding(1) var<storage, read_write> p: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> g: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> m: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> v: array<vec4<f32>>;

// torch.optim.AdamW (amsgrad off) on vec4 i, in PyTorch's operation order:
//   p *= 1 - lr·wd;  m = lerp(m, g, 1-β1);  v = β2·v + (1-β2)·g²;  p -= step_size · m / (sqrt(v)/bc2_sqrt + eps)
// Shared by the plain and the loss-scaled entry points, which differ in where grad and the corrections come from.
fn adamw_at(i: u32, grad: vec4<f32>, step_size: f32, bc2_sqrt: f32) {
  let decayed = p[i] * select(1.0, params.decay_factor, i < params.decay_end4);
  let m_old = m[i];
  let m_new = m_old + params.one_minus_beta1 * (grad - m_old);
  let v_new = params.beta2 * v[i] + params.one_minus_beta2 * grad * grad;
  m[i] = m_new;
  v[i] = v_new;
  let denom = sqrt(v_new) / bc2_sqrt + params.eps;
  p[i] = decayed - step_size * (m_new / denom);
}

// Plain SGD on vec4 i: p -= lr·(g + wd·p) on the decayed range, p -= lr·g elsewhere.
fn sgd_at(i: u32, grad: vec4<f32>) {
  let value = p[i];
  let wd = select(0.0, params.decay_factor, i < params.decay_end4);
  p[i] = value - params.lr * (grad + wd * value);
}

@compute @workgroup_size(WG)
fn adamw(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let i = index(wid, nwg, lid);
  if (i >= params.n4) { return; }
  adamw_at(i, g[i], params.step_size, params.bc2_sqrt);
}

@compute @workgroup_size(WG)
fn sgd(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let i = index(wid, nwg, lid);
  if (i >= params.n4) { return; }
  sgd_at(i, g[i]);
}

// ---------------------------------------------------------------------------------------------------------
// Mixed precision: dynamic loss scaling, entirely on the GPU (no read inside a step).
// The backward was seeded with the loss times `scale[0]`, so the flat gradients are scaled. Per step:
//   check_finite  sets `overflow` if any scaled gradient is inf or NaN;
//   *_scaled      skips the whole update when it is set, else unscales each gradient (g / scale) and
//                 updates as above, AdamW's bias corrections from the count of updates actually applied;
//   update_scale  halves the scale after an overflow, doubles it after `growth_interval` good steps, counts
//                 applied and skipped steps, and clears the flag for the next step.
// The counters and the scale are read back with the trainer's asynchronous metrics.
// ---------------------------------------------------------------------------------------------------------

struct ScaleFlags {
  overflow: atomic<u32>,
  good: u32,
  skipped: u32,
  applied: u32,
  last_overflow: u32,
}

struct ScaleCounters {
  overflow: u32,
  good: u32,
  skipped: u32,
  applied: u32,
  last_overflow: u32,
}

@group(0) @binding(1) var<storage, read> check_g: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> flags: ScaleFlags;

// inf and NaN are the floats whose exponent bits are all ones; tested on the bits, which no fast-math
// assumption about NaN can fold away.
fn non_finite(x: vec4<f32>) -> bool {
  let e = bitcast<vec4<u32>>(x) & vec4<u32>(0x7f800000u);
  return any(e == vec4<u32>(0x7f800000u));
}

@compute @workgroup_size(WG)
fn check_finite(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let i = index(wid, nwg, lid);
  if (i >= params.n4) { return; }
  if (non_finite(check_g[i])) { atomicOr(&flags.overflow, 1u); }
}

@group(0) @binding(5) var<storage, read> loss_scale: array<f32>;
@group(0) @binding(6) var<storage, read> counters: ScaleCounters;

@compute @workgroup_size(WG)
fn adamw_scaled(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let i = index(wid, nwg, lid);
  if (i >= params.n4 || counters.overflow != 0u) { return; }
  let t = f32(counters.applied + 1u);
  adamw_at(i, g[i] * (1.0 / loss_scale[0]), params.lr / (1.0 - pow(params.beta1, t)), sqrt(1.0 - pow(params.beta2, t)));
}

@group(0) @binding(3) var<storage, read> sgd_scale: array<f32>;
@group(0) @binding(4) var<storage, read> sgd_counters: ScaleCounters;

@compute @workgroup_size(WG)
fn sgd_scaled(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let i = index(wid, nwg, lid);
  if (i >= params.n4 || sgd_counters.overflow != 0u) { return; }
  sgd_at(i, g[i] * (1.0 / sgd_scale[0]));
}

@group(0) @binding(1) var<storage, read_write> state_scale: array<f32>;
@group(0) @binding(2) var<storage, read_write> state: ScaleCounters;

@compute @workgroup_size(1)
fn update_scale() {
  let overflow = state.overflow != 0u;
  if (overflow) {
    // Never below 1: a scale under 1 would only lose small gradients to underflow.
    state_scale[0] = max(state_scale[0] * 0.5, 1.0);
    state.good = 0u;
    state.skipped += 1u;
  } else {
    state.applied += 1u;
    state.good += 1u;
    if (state.good >= params.growth_interval) {
      state_scale[0] = min(state_scale[0] * 2.0, params.max_scale);
      state.good = 0u;
    }
  }
  state.last_overflow = select(0u, 1u, overflow);
  state.overflow = 0u;
}
