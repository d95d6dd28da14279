// Data movement for the ViT's token plumbing: class token + position embedding, column slices and
// concatenation, and the head split/merge of attention. One thread per destination element, in
// destination order, so writes are contiguous and reads come in contiguous runs (a row segment or a head).
// The host fills only the Params fields an entry point reads (the rest are 0).
// Storage type `act` of the moved data is f32 unless the launcher asks for f16 (mixed precision; cls_pos
// always runs in f32).

alias act = f32; // @storage

struct Params {
  total: u32,
  // column copies: views as [rows, stride]
  rows: u32,
  width: u32,
  srcStride: u32,
  srcOffset: u32,
  dstStride: u32,
  dstOffset: u32,
  // heads: [B, H, N, Dh] against token rows of `rowStride` columns
  H: u32,
  N: u32,
  Dh: u32,
  rowStride: u32,
  colOffset: u32,
  // class token + positions: x [B, n, D]
  n: u32,
  D: u32,
}

@group(0) @binding(0) var<uniform> params: Params;

const WG: u32 = 256u;

fn index(wid: vec3<u32>, nwg: vec3<u32>, lid: vec3<u32>) -> u32 {
  return (wid.y * nwg.x + wid.x) * WG + lid.x;
}

@group(0) @binding(1) var<storage, read> src: array<act>;
@group(0) @binding(2) var<storage, read_write> dst: array<act>;

// dst[r, dstOffset + j] = src[r, srcOffset + j] for j < width (slices, concatenation, dropping a token).
@compute @workgroup_size(WG)
fn copy_cols(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let i = index(wid, nwg, lid);
  if (i >= params.total) { return; }
  let r = i / params.width;
  let j = i % params.width;
  dst[r * params.dstStride + params.dstOffset + j] = src[r * params.srcStride + params.srcOffset + j];
}

// Adjoint of a slice: dst [rows, dstStride] holds src [rows, width] at column dstOffset and zeros elsewhere,
// written in one pass (no separate clear).
@compute @workgroup_size(WG)
fn pad_cols(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let i = index(wid, nwg, lid);
  if (i >= params.total) { return; }
  let r = i / params.dstStride;
  let c = i % params.dstStride;
  var v = act(0.0);
  if (c >= params.dstOffset && c < params.dstOffset + params.width) {
    v = src[r * params.width + c - params.dstOffset];
  }
  dst[i] = v;
}

// dst [B, H, N, Dh] ← columns [colOffset, colOffset + H·Dh) of token rows src [B·N, rowStride].
@compute @workgroup_size(WG)
fn tokens_to_heads(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let i = index(wid, nwg, lid);
  if (i >= params.total) { return; }
  let e = i % params.Dh;
  let t = (i / params.Dh) % params.N;
  let bh = i / (params.Dh * params.N);
  let h = bh % params.H;
  let b = bh / params.H;
  dst[i] = src[(b * params.N + t) * params.rowStride + params.colOffset + h * params.Dh + e];
}

// Columns [colOffset, colOffset + H·Dh) of token rows dst [B·N, rowStride] ← src [B, H, N, Dh].
// Other columns are left as they are.
@compute @workgroup_size(WG)
fn heads_to_tokens(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let i = index(wid, nwg, lid);
  if (i >= params.total) { return; }
  let width = params.H * params.Dh;
  let col = i % width;
  let bt = i / width;
  let h = col / params.Dh;
  let e = col % params.Dh;
  let t = bt % params.N;
  let b = bt / params.N;
  dst[bt * params.rowStride + params.colOffset + col] = src[((b * params.H + h) * params.N + t) * params.Dh + e];
}

@group(0) @binding(2) var<storage, read_write> q_out: array<act>;
@group(0) @binding(3) var<storage, read_write> k_out: array<act>;
@group(0) @binding(4) var<storage, read_write> v_out: array<act>;

// timm's qkv.reshape(B, N, 3, H, Dh).permute(2, 0, 3, 1, 4) in one pass: src [B, N, 3·H·Dh] → q, k, v [B, H, N, Dh].
@compute @workgroup_size(WG)
fn split_qkv(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let i = index(wid, nwg, lid);
  if (i >= params.total) { return; }
  let e = i % params.Dh;
  let t = (i / params.Dh) % params.N;
  let bh = i / (params.Dh * params.N);
  let h = bh % params.H;
  let b = bh / params.H;
  let D = params.H * params.Dh;
  let base = (b * params.N + t) * 3u * D + h * params.Dh + e;
  q_out[i] = src[base];
  k_out[i] = src[base + D];
  v_out[i] = src[base + 2u * D];
}

@group(0) @binding(2) var<storage, read> gk: array<act>;
@group(0) @binding(3) var<storage, read> gv: array<act>;
@group(0) @binding(4) var<storage, read_write> dqkv: array<act>;

// Adjoint of split_qkv when all three gradients exist: dqkv [B, N, 3D] from gq (src), gk, gv.
@compute @workgroup_size(WG)
fn merge_qkv(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let i = index(wid, nwg, lid);
  if (i >= params.total) { return; }
  let D = params.H * params.Dh;
  let col = i % (3u * D);
  let bt = i / (3u * D);
  let part = col / D;
  let h = (col % D) / params.Dh;
  let e = col % params.Dh;
  let t = bt % params.N;
  let b = bt / params.N;
  let at = ((b * params.H + h) * params.N + t) * params.Dh + e;
  // Divergent only at the two section boundaries of a row.
  var v: act;
  if (part == 0u) {
    v = src[at];
  } else if (part == 1u) {
    v = gk[at];
  } else {
    v = gv[at];
  }
  dqkv[i] = v;
}

@group(0) @binding(2) var<storage, read> cls: array<f32>;
@group(0) @binding(3) var<storage, read> pos: array<f32>;
@group(0) @binding(4) var<storage, read_write> tokens: array<f32>;

// tokens [B, 1 + n, D] = concat(cls, x (src) [B, n, D]) along tokens, plus pos [1 + n, D].
@compute @workgroup_size(WG)
fn cls_pos(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let i = index(wid, nwg, lid);
  if (i >= params.total) { return; }
  let D = params.D;
  let d = i % D;
  let t = (i / D) % (params.n + 1u);
  let b = i / (D * (params.n + 1u));
  var v: f32;
  if (t == 0u) {
    v = cls[d];
  } else {
    v = f32(src[(b * params.n + t - 1u) * D + d]);
  }
  tokens[i] = v + pos[t * D + d];
}
