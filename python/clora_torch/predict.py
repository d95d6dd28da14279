"""Logits of a backbone plus an adapter (eval mode, no dropout), in chunks, as the engine's forward and
eval commands compute them; and the model an adapter file describes (a `full` file's BatchNorm statistics
included)."""

from __future__ import annotations

import numpy as np
import torch

from .files import AdapterFile
from .finetune import FineTuneModel
from .models import Backbone
from .settings import AdapterSettings

CHUNK = 64


def model_from_adapter(backbone: Backbone, adapter: AdapterFile) -> FineTuneModel:
    model = FineTuneModel(backbone.cfg, adapter.settings, adapter.classes)
    model.load_backbone(backbone.read)
    model.load_native(adapter.tensors)
    model.load_frozen(adapter.tensors)
    return model.eval()


def backbone_head(backbone: Backbone) -> AdapterFile:
    """The backbone's own head as a `head` adapter (classes numbered), for logits without an adapter."""
    classes = [str(i) for i in range(backbone.cfg.classes)]
    tensors = {"head.weight": backbone.read("head.weight"), "head.bias": backbone.read("head.bias")}
    return AdapterFile(AdapterSettings(method="head"), classes, tensors, {})


@torch.no_grad()
def predict_logits(model: FineTuneModel, inputs: np.ndarray, device: torch.device | str = "cpu") -> np.ndarray:
    """`inputs`: images [N, 3, H, W] or point clouds [N, P, 3]."""
    model.to(device)
    out = [model(torch.from_numpy(inputs[i:i + CHUNK]).to(device)).cpu().numpy() for i in range(0, len(inputs), CHUNK)]
    return np.concatenate(out).astype(np.float32) if out else np.zeros((0, len(model.classes)), np.float32)
