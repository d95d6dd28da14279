"""python -m clora_torch.forward --model M [--adapter A] [--heads H] --input X --output Y: the logits of the
backbone (plus adapter) for `pixel_values` [N,3,H,W] in X, written to Y as `logits` [N,C] (the engine's
`forward`, §2.5)."""

from __future__ import annotations

import argparse
import json
import sys

from .cli import number, require, run_main
from .files import read_adapter
from .models import open_backbone
from .predict import backbone_head, model_from_adapter, predict_logits
from .safetensors import open_safetensors, write_safetensors
from .settings import UsageError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m clora_torch.forward", description=__doc__.splitlines()[0], allow_abbrev=False)
    for name in ("model", "adapter", "heads", "input", "output", "device"):
        parser.add_argument(f"--{name}", dest=name)
    values = vars(parser.parse_args(argv))

    def body() -> None:
        with open_safetensors(require(values, "input")) as file:
            if not file.has("pixel_values"):
                raise UsageError(f'{values["input"]} has no "pixel_values" tensor (it has: {", ".join(file.names()[:8]) or "nothing"}).')
            pixels = file.read_f32("pixel_values")
        output = require(values, "output")
        backbone = open_backbone(require(values, "model"), number(values, "heads", None, True))
        try:
            cfg = backbone.cfg
            if pixels.ndim != 4 or pixels.shape[1:] != (cfg.channels, cfg.image_size, cfg.image_size):
                raise UsageError(f"pixel_values in {values['input']} is {list(pixels.shape)}; this model takes [N, {cfg.channels}, {cfg.image_size}, {cfg.image_size}].")
            if values.get("adapter"):
                adapter = read_adapter(values["adapter"], cfg)
            elif cfg.classes == 0:
                raise UsageError(f"{backbone.spec} has no classifier head (head.weight), so it has no logits to give; pass --adapter.")
            else:
                adapter = backbone_head(backbone)
            logits = predict_logits(model_from_adapter(backbone, adapter), pixels, values.get("device") or "cpu")
            write_safetensors(output, [("logits", logits)], {"format": "logits", "model": backbone.spec, "classes": json.dumps(adapter.classes, separators=(",", ":"))})
            sys.stderr.write(f"wrote logits [{logits.shape[0]}, {logits.shape[1]}] to {output}\n")
        finally:
            backbone.close()

    return run_main(body)


if __name__ == "__main__":
    sys.exit(main())
