// Shared by the clora_*.wgsl kernels: CLoRA's shared-base low-rank branch (docs: clora-spec.md §1;
// launchers: src/kernels/clora.ts).
//
// One adapted linear map j with input X [T, a] adds  s · Σ_h dropout((X·D_h)·Q_h^j) · U_h  into columns
// [offset, offset + b) of the frozen output. With P = p·r the p spaces are concatenated:
//   D_cat [a, P]   D_cat[i, h·r + c]  = D[h, i, c]      (down bank D [p, a, r])
//   U_cat [P, b]   U_cat[h·r + c, n]  = U[h, c, n]      (up bank U [p, r, b], the same memory)
//   cores          Q_h^j[c, c']       = cores[core_base + (h·r + c)·r + c']
// Every entry point has its own file; sizes are runtime parameters (this block), layouts are defines, so every
// shape of one P bucket shares its pipelines.

struct Params {
  rows: u32,        // T
  k: u32,           // lowrank_in: inner length (a or b); other entries: output columns n
  stride: u32,      // row stride of the wide operand / output
  offset: u32,      // column offset into the wide operand / output
  p: u32,           // spaces
  r: u32,           // rank
  core_base: u32,   // module j's first element in the cores tensor
  threshold: u32,   // dropout: an element is dropped when its hash is below this
  seed: u32,
  keep_scale: f32,  // 1 / (1 - dropout)
  alpha: f32,
  chunk_rows: u32,  // rows per chunk (weight_grad, core_grad)
  out_size: u32,    // sum_chunks: output elements; split entries: elements per chunk
  out_offset: u32,  // sum_chunks: where the summed block starts in the output
  chunks: u32,
}

@group(0) @binding(0) var<uniform> params: Params;

const THREADS: u32 = 256u;

// Dropout: a counter hash of (seed, element index), recomputed wherever the mask is needed (forward and
// backward agree without storing a mask).
fn hash_u32(x: u32) -> u32 {
  var v = x;
  v ^= v >> 16u;
  v *= 0x7feb352du;
  v ^= v >> 15u;
  v *= 0x846ca68bu;
  v ^= v >> 16u;
  return v;
}

// keep_scale where element `index` (row·P + column of the [T, P] bottleneck) survives, 0 where it is dropped;
// 1 without dropout.
fn dropout_factor(index: u32, dropout: bool) -> f32 {
  if (!dropout) { return 1.0; }
  let h = hash_u32(hash_u32(index ^ hash_u32(params.seed)) + params.seed);
  return select(params.keep_scale, 0.0, h < params.threshold);
}

// bank(q, n) of a bank whose long side is n_len: U_cat[q, n] = U[q·n_len + n], or with `down` D_catᵀ[q, n] =
// D[h, n, c] with q = h·r + c.
fn bank_index(q: u32, n: u32, n_len: u32, R: u32, down: bool) -> u32 {
  if (down) { return ((q / R) * n_len + n) * R + q % R; }
  return q * n_len + n;
}
