// CLoRA branch, core gradients: per chunk of rows, part[chunk][h, c, c'] = Σ_{t in chunk} Z[t, h·r + c] ·
// dY[t, h·r + c'] for every space h (dQ_h = Z_hᵀ·dY_h once sum_chunks adds the chunks).
// One output per thread; grid y over blocks of 256 outputs, grid x over chunks of T.
// @include clora_common

@group(0) @binding(1) var<storage, read> z: array<f32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

const CKT: u32 = 8u;
var<workgroup> tile_z: array<f32, CKT * 128u>;
var<workgroup> tile_dy: array<f32, CKT * 128u>;

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
      var zv = 0.0;
      var dyv = 0.0;
      if (t0 + g / P < end) {
        zv = z[t0 * P + g];
        dyv = dy[t0 * P + g];
      }
      tile_z[g] = zv;
      tile_dy[g] = dyv;
    }
    workgroupBarrier();
    for (var kk = 0u; kk < CKT; kk++) { acc += tile_z[kk * P + zi] * tile_dy[kk * P + yi]; }
    workgroupBarrier();
  }
  if (o < outputs) { out[chunk * outputs + o] = acc; }
}
