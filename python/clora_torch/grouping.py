"""Point-MAE's grouping (clora-spec §4), as the engine's kernels compute it (shaders/point_fps.wgsl,
point_knn.wgsl, point_gather.wgsl), so both pick the same points:

- farthest point sampling: c_0 = point 0; d_i = |p_i − c_0|²; then G − 1 times c_g = argmax_i d_i (ties: the
  lowest i) and d_i ← min(d_i, |p_i − c_g|²);
- k nearest neighbours of each centre: the K smallest |p_i − c_g|², nearest first, ties by the lower index
  (the centre itself, at distance 0, is one of them);
- each neighbourhood relative to its centre.

Distances are float32 `e.x·e.x + e.y·e.y + e.z·e.z` with e = p − c, summed in that order as the kernels do, so
equal inputs give equal choices. No gradients: points are data.
"""

from __future__ import annotations

import torch


def _squared(points: torch.Tensor, centre: torch.Tensor) -> torch.Tensor:
    """|p − c|² in float32, x then y then z: points [..., P, 3], centre [..., 1, 3] -> [..., P]."""
    e = points - centre
    return e[..., 0] * e[..., 0] + e[..., 1] * e[..., 1] + e[..., 2] * e[..., 2]


@torch.no_grad()
def farthest_point_sample(points: torch.Tensor, groups: int) -> tuple[torch.Tensor, torch.Tensor]:
    """points [B, P, 3] -> (indices [B, G] int64, centres [B, G, 3])."""
    b, p, _ = points.shape
    rows = torch.arange(b, device=points.device)
    chosen = torch.zeros(b, dtype=torch.long, device=points.device)
    nearest = torch.full((b, p), 3.4e38, dtype=points.dtype, device=points.device)
    indices = torch.empty(b, groups, dtype=torch.long, device=points.device)
    for g in range(groups):
        indices[:, g] = chosen
        if g + 1 == groups:
            break
        nearest = torch.minimum(nearest, _squared(points, points[rows, chosen].unsqueeze(1)))
        chosen = torch.argmax(nearest, dim=1)  # the first of equal maxima: the lowest index
    return indices, points[rows.unsqueeze(1), indices]


@torch.no_grad()
def nearest_neighbours(points: torch.Tensor, centres: torch.Tensor, k: int) -> torch.Tensor:
    """points [B, P, 3], centres [B, G, 3] -> the K nearest point indices of each centre [B, G, K]."""
    distance = _squared(points.unsqueeze(1), centres.unsqueeze(2))  # [B, G, P]
    return torch.sort(distance, dim=-1, stable=True).indices[..., :k]  # a stable sort keeps ties in index order


@torch.no_grad()
def group_points(points: torch.Tensor, groups: int, group_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """§4's grouping: (neighbourhoods [B, G, K, 3] relative to their centres, centres [B, G, 3])."""
    _, centres = farthest_point_sample(points, groups)
    neighbours = nearest_neighbours(points, centres, group_size)
    rows = torch.arange(points.shape[0], device=points.device).view(-1, 1, 1)
    return points[rows, neighbours] - centres.unsqueeze(2), centres
