// Shared by the elementwise kernel files (`// @include elementwise_common`): their parameter block and the
// flat thread index. One thread per element; the grid folds into y past 65,535 workgroups (src/kernels/grid.ts).

struct Params {
  n: u32,
  inner: u32,
  alpha: f32,
  beta: f32,
}

@group(0) @binding(0) var<uniform> params: Params;

const WG: u32 = 256u;

fn index(wid: vec3<u32>, nwg: vec3<u32>, lid: vec3<u32>) -> u32 {
  return (wid.y * nwg.x + wid.x) * WG + lid.x;
}
