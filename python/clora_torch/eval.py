"""python -m clora_torch.eval --model M --adapter A --data DATA [--json] [--heads H] [--points P --groups G
--group-size K] [--device D]: accuracy, per-class accuracy and the confusion matrix, printed as the engine's
`eval` prints them."""

from __future__ import annotations

import argparse
import json
import sys

from .cli import BACKBONE_OPTIONS, open_model_option, require, run_main
from .data import load_data
from .evaluate import as_js_json, evaluate, format_evaluation
from .files import read_adapter
from .predict import model_from_adapter, predict_logits


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m clora_torch.eval", description=__doc__.splitlines()[0], allow_abbrev=False)
    for name in ("model", "adapter", "data", *BACKBONE_OPTIONS, "device"):
        parser.add_argument(f"--{name}", dest=name)
    parser.add_argument("--json", action="store_true")
    values = vars(parser.parse_args(argv))

    def body() -> None:
        backbone = open_model_option(values)
        try:
            adapter = read_adapter(require(values, "adapter"), backbone.cfg)
            data = load_data(require(values, "data"), backbone, adapter.classes)
            for path, reason in data.skipped:
                sys.stderr.write(f"skipped {path}: {reason}\n")
            logits = predict_logits(model_from_adapter(backbone, adapter), data.inputs, values.get("device") or "cpu")
            result = evaluate(logits, data.labels, adapter.classes)
            sys.stdout.write(json.dumps(as_js_json(result), indent=2) + "\n" if values["json"] else format_evaluation(result, "point clouds" if data.inputs.ndim == 3 else "images"))
        finally:
            backbone.close()

    return run_main(body)


if __name__ == "__main__":
    sys.exit(main())
