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

// torch.optim.AdamW (amsgrad off), in PyTorch's operation order:
//   p *= 1 - lr·wd;  m = lerp(m, g, 1-β1);  v = β2·v + (1-β2)·g²;  p -= step_size · m / (sqrt(v)/bc2_sqrt + eps)
@compute @workgroup_size(WG)
fn adamw(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let i = index(wid, nwg, lid);
  if (i >= params.n4) { return; }
  let grad = g[i];
  let decayed = p[i] * select(1.0, params.decay_factor, i < params.decay_end4);
  let m_old = m[i];
  let m_new = m_old + params.one_minus_beta1 * (grad - m_old);
  let v_new = params.beta2 * v[i] + params.one_minus_beta2 * grad * grad;
  m[i] = m_new;
  v[i] = v_new;
  let denom = sqrt(v_new) / params.bc2_sqrt + params.eps;
  p[i] = decayed - params.step_size * (m_new / denom);
}

// Plain SGD: p -= lr·(g + wd·p) on the decayed range, p -= lr·g elsewhere.
@compute @workgroup_size(WG)
fn sgd(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let i = index(wid, nwg, lid);
  if (i >= params.n4) { return; }
  let value = p[i];
  let wd = select(0.0, params.decay_factor, i < params.decay_end4);
  p[i] = value - params.lr * (g[i] + wd * value);
}
