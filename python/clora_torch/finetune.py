"""A backbone (ViT or point transformer) plus one fine-tuning method (clora, lora, head, full): which tensors
train, under which native keys, how they start (the engine's initialisation, draw for draw), and the rules
the engine applies around a step (weight decay by tensor, the inert key-bias gradient of `full`). On a point
backbone `full` trains every parameter but never BatchNorm's running statistics, which are buffers.
"""

from __future__ import annotations

from typing import Callable, Mapping

import numpy as np
import torch
import torch.nn as nn

from .adapters import CloraAdapter, LoraAdapter, plan_branches
from .backbone import BackboneConfig, backbone_shapes, create_backbone, decays, feature_width, has_qkv_bias, trains_in_full
from .blocks import ShapeError
from .rng import Rng
from .settings import AdapterSettings


class FineTuneModel(nn.Module):
    def __init__(self, cfg: BackboneConfig, settings: AdapterSettings, classes: list[str]):
        super().__init__()
        if len(classes) < 2:
            raise ShapeError(f"Training needs at least two classes (got {len(classes)}).")
        self.cfg, self.settings, self.classes = cfg, settings, list(classes)
        self.backbone = create_backbone(cfg)
        self.head = nn.Linear(feature_width(cfg), len(classes))
        self.adapter: CloraAdapter | LoraAdapter | None = (
            CloraAdapter(cfg, settings) if settings.method == "clora" else LoraAdapter(cfg, settings) if settings.method == "lora" else None)
        self.backbone.requires_grad_(settings.method == "full")

    def forward(self, inputs: torch.Tensor, training: bool = False, dropout_seed: int | None = None) -> torch.Tensor:
        """Logits [B, classes] of images or point clouds; in training the bottleneck dropout draws its masks
        from `dropout_seed`."""
        if self.adapter is not None:
            self.adapter.dropout_active = training
            self.adapter.generator = None
            if training and self.settings.dropout > 0:
                self.adapter.generator = torch.Generator(device=inputs.device)
                self.adapter.generator.manual_seed(int(dropout_seed or 0))
        return self.head(self.backbone.features(inputs, self.adapter))

    def trainable(self) -> dict[str, nn.Parameter]:
        """Every trained tensor under its native key (§2.2), in the native file's order."""
        out: dict[str, nn.Parameter] = dict(self.adapter.native()) if self.adapter is not None else {}
        if self.settings.method == "full":
            params = dict(self.backbone.named_parameters())
            out.update({key: params[key] for key in backbone_shapes(self.cfg) if trains_in_full(self.cfg, key)})
        out["head.weight"], out["head.bias"] = self.head.weight, self.head.bias
        return out

    def decay_split(self) -> tuple[list[nn.Parameter], list[nn.Parameter]]:
        """(tensors weight decay applies to, the rest), by the contract's rule on native key and shape."""
        decayed, plain = [], []
        for key, param in self.trainable().items():
            (decayed if decays(self.cfg, key, tuple(param.shape)) else plain).append(param)
        return decayed, plain

    def sade(self) -> torch.Tensor | None:
        return self.adapter.sade() if self.adapter is not None else None

    def zero_inert_gradients(self) -> None:
        """`full` only: the key rows [d, 2d) of every qkv bias shift all scores of a softmax row equally, so
        their exact gradient is zero; cleared here as the engine clears it, so rounding noise does not reach
        AdamW (which would blow it up to ±lr)."""
        if self.settings.method != "full" or not has_qkv_bias(self.cfg):
            return
        d = self.cfg.dim
        for block in self.blocks():
            grad = block.attn.qkv.bias.grad
            if grad is not None:
                grad[d:2 * d] = 0

    def blocks(self) -> nn.ModuleList:
        return self.backbone.blocks.blocks if self.cfg.kind == "point" else self.backbone.blocks

    @torch.no_grad()
    def load_backbone(self, read: Callable[[str], np.ndarray]) -> None:
        """Every backbone tensor (BatchNorm's running statistics included) from the weights file."""
        state = {name: torch.from_numpy(read(name)) for name in backbone_shapes(self.cfg)}
        self.backbone.load_state_dict(state)

    @torch.no_grad()
    def load_frozen(self, tensors: Mapping[str, np.ndarray]) -> None:
        """The backbone tensors `full` does not train (a point backbone's running statistics) that a `full`
        file holds beside what trained: they replace the backbone's, as the rest of such a file does."""
        if self.settings.method != "full":
            return
        buffers = dict(self.backbone.named_buffers())
        for key, shape in backbone_shapes(self.cfg).items():
            if not trains_in_full(self.cfg, key) and key in tensors and tuple(np.shape(tensors[key])) == shape:
                buffers[key].copy_(torch.from_numpy(np.asarray(tensors[key], np.float32)))

    def frozen_tensors(self) -> dict[str, np.ndarray]:
        """What a `full` file holds beside what trained, so that it is a whole backbone (the engine's modelFile)."""
        if self.settings.method != "full":
            return {}
        buffers = dict(self.backbone.named_buffers())
        return {key: buffers[key].detach().cpu().numpy().astype(np.float32, copy=True)
                for key in backbone_shapes(self.cfg) if not trains_in_full(self.cfg, key)}

    @torch.no_grad()
    def load_native(self, tensors: Mapping[str, np.ndarray]) -> None:
        """Sets every trained tensor from native-keyed arrays (an adapter file, a checkpoint, an init)."""
        for key, param in self.trainable().items():
            if key not in tensors:
                raise ShapeError(f'Internal: no starting value for "{key}".')
            value = np.asarray(tensors[key], dtype=np.float32)
            if tuple(value.shape) != tuple(param.shape):
                raise ShapeError(f'"{key}" is {list(value.shape)}, expected {list(param.shape)}.')
            param.copy_(torch.from_numpy(value))

    def native_tensors(self) -> dict[str, np.ndarray]:
        return {key: param.detach().cpu().numpy().astype(np.float32, copy=True) for key, param in self.trainable().items()}


def initial_tensors(cfg: BackboneConfig, settings: AdapterSettings, class_count: int, rng: Rng) -> dict[str, np.ndarray]:
    """The method's initialisation (§1) drawn exactly as the engine's initialTensors draws it from the same
    seed: D ~ U(±1/√a) per bank in first use, U = 0, Q = I; LoRA A Kaiming-uniform (bound 1/√a, drawn in
    the engine's [a, r] layout), B = 0; head weight trunc-normal(0.02) at ±2σ, bias 0. `full` starts from
    the backbone, so only its head is here."""
    out: dict[str, np.ndarray] = {}
    p, r = settings.spaces, settings.rank
    branches = plan_branches(cfg, settings)
    if settings.method == "clora":
        for b in branches:  # the engine's insertion order: down then up, per branch, each bank once
            for key, shape in ((f"clora.down.{b.in_width}", (p, b.in_width, r)), (f"clora.up.{b.out_width}", (p, r, b.out_width))):
                if key in out:
                    continue
                if key.startswith("clora.down."):
                    bound = 1 / np.sqrt(b.in_width)
                    out[key] = rng.uniforms(int(np.prod(shape)), -bound, bound).reshape(shape).astype(np.float32)
                else:
                    out[key] = np.zeros(shape, np.float32)
        for b in branches:
            out[f"clora.core.{b.path}"] = np.broadcast_to(np.eye(r, dtype=np.float32), (p, r, r)).copy()
    elif settings.method == "lora":
        for b in branches:
            bound = 1 / np.sqrt(b.in_width)
            down = rng.uniforms(b.in_width * r, -bound, bound).reshape(b.in_width, r)
            out[f"lora.A.{b.path}"] = down.T.astype(np.float32)
            out[f"lora.B.{b.path}"] = np.zeros((b.out_width, r), np.float32)
    width = feature_width(cfg)
    out["head.weight"] = rng.truncated_normals(class_count * width, 0.02).reshape(class_count, width).astype(np.float32)
    out["head.bias"] = np.zeros(class_count, np.float32)
    return out


def init_seed(seed: int) -> int:
    """The engine's initialisation stream: new Rng(seed ^ 0x5eed), apart from the trainer's own Rng(seed)."""
    return ((seed & 0xFFFFFFFF) ^ 0x5EED) & 0xFFFFFFFF
