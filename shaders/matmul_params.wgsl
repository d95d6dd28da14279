// Shared by matmul.wgsl and matmul_thin.wgsl: the launcher's parameters (src/kernels/matmul.ts), one order for
// every program.
struct Params {
  M: u32,
  K: u32,
  N: u32,
  strideA: u32, // elements between batch entries of A (0: shared)
  strideB: u32,
  kChunk: u32, // K per workgroup when K is split (a multiple of the program's K step)
  batch: u32,
  total: u32, // batch·M·N: the distance between chunks in the partials, and thin_reduce's output count
  chunks: u32, // K chunks
}

@group(0) @binding(0) var<uniform> params: Params;
