"""python -m clora_torch.forward --model M [--adapter A] [--heads H] [--points P --groups G --group-size K]
--input X --output Y: the logits of the backbone (plus adapter) for `pixel_values` [N,3,H,W] in X (for a point
backbone `points` [N,P,3]), written to Y as `logits` [N,C] (the engine's `forward`, §2.5 and §4)."""

from __future__ import annotations

import argparse
import json
import sys

from .backbone import check_sample_shape, input_key, is_point
from .cli import BACKBONE_OPTIONS, open_model_option, require, run_main
from .files import read_adapter
from .predict import backbone_head, model_from_adapter, predict_logits
from .safetensors import open_safetensors, write_safetensors
from .settings import UsageError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m clora_torch.forward", description=__doc__.splitlines()[0], allow_abbrev=False)
    for name in ("model", "adapter", *BACKBONE_OPTIONS, "input", "output", "device"):
        parser.add_argument(f"--{name}", dest=name)
    values = vars(parser.parse_args(argv))

    def body() -> None:
        source, output = require(values, "input"), require(values, "output")
        backbone = open_model_option(values)
        try:
            cfg = backbone.cfg
            key = input_key(cfg)
            with open_safetensors(source) as file:
                if not file.has(key):
                    kind = "point" if is_point(cfg) else "image"
                    raise UsageError(f'{source} has no "{key}" tensor, which this {kind} backbone reads (it has: {", ".join(file.names()[:8]) or "nothing"}).')
                inputs = file.read_f32(key)
            if is_point(cfg):
                if inputs.ndim != 3:
                    raise UsageError(f"{key} in {source} is {list(inputs.shape)}; this model takes [N, P, 3].")
                check_sample_shape(cfg, tuple(inputs.shape[1:]), f"{key} in {source}")
            elif inputs.ndim != 4 or inputs.shape[1:] != (cfg.channels, cfg.image_size, cfg.image_size):
                raise UsageError(f"{key} in {source} is {list(inputs.shape)}; this model takes [N, {cfg.channels}, {cfg.image_size}, {cfg.image_size}].")
            if values.get("adapter"):
                adapter = read_adapter(values["adapter"], cfg)
            elif cfg.classes == 0:
                raise UsageError(f"{backbone.spec} has no classifier head (head.weight), so it has no logits to give; pass --adapter.")
            else:
                adapter = backbone_head(backbone)
            logits = predict_logits(model_from_adapter(backbone, adapter), inputs, values.get("device") or "cpu")
            write_safetensors(output, [("logits", logits)], {"format": "logits", "model": backbone.spec, "classes": json.dumps(adapter.classes, separators=(",", ":"))})
            sys.stderr.write(f"wrote logits [{logits.shape[0]}, {logits.shape[1]}] to {output}\n")
        finally:
            backbone.close()

    return run_main(body)


if __name__ == "__main__":
    sys.exit(main())
