// Shared by the clora_*.wgsl kernels that stream a wide operand (X or dOut, rows of `stride` floats) through
// the binding `wide: array<vec4<f32>>`. VEC_WIDE: its rows, offset and width are multiples of 4.

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
