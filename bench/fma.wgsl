// The device's arithmetic peak, for bench:gpu: every thread runs 8 independent chains of vec4 fused
// multiply-adds, x_c ← x_c·a + b (independent chains hide the FMA latency), `iterations` times, and writes their
// sum so no compiler can drop the work. FLOPs = threads × iterations × 8 chains × 4 lanes × 2 (an FMA is a
// multiply and an add). The values converge to b / (1 − a) = 1, so they stay normal in f32 and f16.
// T is f32 or f16 (bench/gpu-peak.ts rewrites the alias and adds `enable f16;`); the iteration count is a
// uniform, so one pipeline serves every size.
alias T = f32;

@group(0) @binding(0) var<storage, read_write> out: array<vec4<T>>;
@group(0) @binding(1) var<uniform> iterations: vec4<u32>;

@compute @workgroup_size(256)
fn fma_peak(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let a = vec4<T>(T(0.75), T(0.5), T(0.875), T(0.625));
  let b = vec4<T>(1.0) - a;
  let seed = T(gid.x % 7u) * T(0.125);
  var x0 = vec4<T>(seed);
  var x1 = x0 + vec4<T>(T(0.0625));
  var x2 = x0 + vec4<T>(T(0.125));
  var x3 = x0 + vec4<T>(T(0.1875));
  var x4 = x0 + vec4<T>(T(0.25));
  var x5 = x0 + vec4<T>(T(0.3125));
  var x6 = x0 + vec4<T>(T(0.375));
  var x7 = x0 + vec4<T>(T(0.4375));
  for (var i = 0u; i < iterations.x; i++) {
    x0 = fma(x0, a, b);
    x1 = fma(x1, a, b);
    x2 = fma(x2, a, b);
    x3 = fma(x3, a, b);
    x4 = fma(x4, a, b);
    x5 = fma(x5, a, b);
    x6 = fma(x6, a, b);
    x7 = fma(x7, a, b);
  }
  out[gid.y * nwg.x * 256u + gid.x] = ((x0 + x1) + (x2 + x3)) + ((x4 + x5) + (x6 + x7));
}
