// Image preprocessing as timm evaluates: PIL's antialiased bicubic resize (a = −0.5), centre crop,
// scaling to [0, 1] and per-channel normalisation, in two separable passes.
//
// resize_rows (horizontal): RGBA8 pixels packed one per u32 → an f32 intermediate [rows, size] of RGB
//   (vec4, one 16-byte load per tap later), only for the crop's columns and the source rows the vertical
//   filter will touch. Run once per band of uploaded source rows.
// resize_cols (vertical): intermediate → out[out_offset + c·size² + y·size + x], normalised.
//
// Filter (PIL's Resample.c): along an axis resized from `in` to `out` pixels, scale = in / out,
// filterscale = max(scale, 1), support = 2·filterscale; output pixel o has centre c = (o + 0.5)·scale and
// taps s in [trunc(c − support + 0.5), trunc(c + support + 0.5)) ∩ [0, in), weights
// bicubic((s + 0.5 − c) / filterscale) normalised by their sum. Widening the support when downscaling is the
// antialiasing. Like PIL (whose intermediate and result are uint8), each pass clamps to [0, 1]; by default
// nothing is rounded to 1/255 steps, and with ROUND_LIKE_PIL each pass rounds to them too, which reproduces
// PIL's (and so timm's) values except where a sum lands within f32 error of a rounding tie.
//
// The tap distance s + 0.5 − c = ((2s + 1)·out − (2o + 1)·in) / (2·out) is computed exactly in integers:
// the two products may wrap in u32, but their difference is small, so the wrapped difference read as i32 is
// exact. Far from the origin of a large image an f32 centre would be off by up to ~1e-3 pixel.

struct Params {
  src_w: u32,
  src_h: u32,
  band_start: u32,
  band_rows: u32,
  row_start: u32,
  row_count: u32,
  size: u32,
  resized_w: u32,
  resized_h: u32,
  left: i32,
  top: i32,
  out_offset: u32,
  scale_x: f32,
  support_x: f32,
  inv_fscale_x: f32,
  inv_two_out_x: f32,
  scale_y: f32,
  support_y: f32,
  inv_fscale_y: f32,
  inv_two_out_y: f32,
  mean_r: f32,
  mean_g: f32,
  mean_b: f32,
  inv_std_r: f32,
  inv_std_g: f32,
  inv_std_b: f32,
}

@group(0) @binding(0) var<uniform> params: Params;

const WG: u32 = 256u;

fn thread_index(wid: vec3<u32>, nwg: vec3<u32>, lid: vec3<u32>) -> u32 {
  return (wid.y * nwg.x + wid.x) * WG + lid.x;
}

// Keys' cubic convolution kernel with a = −0.5, as PIL's bicubic_filter.
fn bicubic(x: f32) -> f32 {
  let t = abs(x);
  if (t < 1.0) {
    return (1.5 * t - 2.5) * t * t + 1.0;
  }
  if (t < 2.0) {
    return ((-0.5 * t + 2.5) * t - 4.0) * t + 2.0;
  }
  return 0.0;
}

// Clamps a pass's result as PIL's uint8 does, and optionally rounds it to 8 bits (half up, as clip8).
fn settle(v: vec3<f32>) -> vec3<f32> {
  let c = clamp(v, vec3<f32>(0.0), vec3<f32>(1.0));
  if (ROUND_LIKE_PIL) {
    return floor(c * 255.0 + 0.5) / 255.0;
  }
  return c;
}

// Source taps [first, end) of output coordinate `o`. f32 here can only add or drop a tap at the edge of
// the support, where the kernel is ~0 (it vanishes quadratically at |t| = 2).
fn tap_span(o: u32, scale: f32, support: f32, in_size: u32) -> vec2<i32> {
  let center = (f32(o) + 0.5) * scale;
  let first = max(i32(center - support + 0.5), 0);
  let end = min(i32(center + support + 0.5), i32(in_size));
  return vec2<i32>(first, end);
}

// Signed distance (s + 0.5 − centre) in source pixels, from the exact integer numerator.
fn tap_distance(s: i32, centre2: u32, out_size: u32, inv_two_out: f32) -> f32 {
  return f32(bitcast<i32>((2u * u32(s) + 1u) * out_size - centre2)) * inv_two_out;
}

@group(0) @binding(1) var<storage, read> src: array<u32>;
@group(0) @binding(2) var<storage, read_write> rows_out: array<vec4<f32>>;

// One thread per (source row, crop column); neighbouring threads read neighbouring source pixels.
@compute @workgroup_size(WG)
fn resize_rows(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let i = thread_index(wid, nwg, lid);
  if (i >= params.band_rows * params.size) {
    return;
  }
  let x = i % params.size;
  let r = i / params.size;
  let rx = params.left + i32(x);
  var rgb = vec3<f32>(0.0);
  // Columns outside the resized image are torchvision's zero padding (only when crop_pct > 1).
  if (rx >= 0 && rx < i32(params.resized_w)) {
    let span = tap_span(u32(rx), params.scale_x, params.support_x, params.src_w);
    let centre2 = (2u * u32(rx) + 1u) * params.src_w;
    let row = r * params.src_w;
    var acc = vec3<f32>(0.0);
    var weight_sum = 0.0;
    for (var s = span.x; s < span.y; s++) {
      let w = bicubic(tap_distance(s, centre2, params.resized_w, params.inv_two_out_x) * params.inv_fscale_x);
      acc += w * unpack4x8unorm(src[row + u32(s)]).xyz;
      weight_sum += w;
    }
    if (weight_sum != 0.0) {
      rgb = settle(acc / weight_sum);
    }
  }
  rows_out[(params.band_start + r - params.row_start) * params.size + x] = vec4<f32>(rgb, 0.0);
}

@group(0) @binding(1) var<storage, read> rows_in: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

// One thread per output pixel; neighbouring threads read neighbouring intermediate texels and write
// neighbouring floats of each channel plane.
@compute @workgroup_size(WG)
fn resize_cols(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let i = thread_index(wid, nwg, lid);
  let plane = params.size * params.size;
  if (i >= plane) {
    return;
  }
  let x = i % params.size;
  let y = i / params.size;
  let ry = params.top + i32(y);
  let rx = params.left + i32(x);
  var rgb = vec3<f32>(0.0);
  if (ry >= 0 && ry < i32(params.resized_h) && rx >= 0 && rx < i32(params.resized_w)) {
    let span = tap_span(u32(ry), params.scale_y, params.support_y, params.src_h);
    // The host keeps a row of margin around every span; clamping only guards the f32 edge taps.
    let first = max(span.x, i32(params.row_start));
    let end = min(span.y, i32(params.row_start + params.row_count));
    let centre2 = (2u * u32(ry) + 1u) * params.src_h;
    var acc = vec3<f32>(0.0);
    var weight_sum = 0.0;
    for (var s = first; s < end; s++) {
      let w = bicubic(tap_distance(s, centre2, params.resized_h, params.inv_two_out_y) * params.inv_fscale_y);
      acc += w * rows_in[(u32(s) - params.row_start) * params.size + x].xyz;
      weight_sum += w;
    }
    if (weight_sum != 0.0) {
      rgb = settle(acc / weight_sum);
    }
  }
  let mean = vec3<f32>(params.mean_r, params.mean_g, params.mean_b);
  let inv_std = vec3<f32>(params.inv_std_r, params.inv_std_g, params.inv_std_b);
  let v = (rgb - mean) * inv_std;
  let o = params.out_offset + y * params.size + x;
  dst[o] = v.x;
  dst[o + plane] = v.y;
  dst[o + 2u * plane] = v.z;
}
