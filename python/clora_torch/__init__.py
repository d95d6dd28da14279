"""clora_torch: the PyTorch companion of clora-web, for training the same CLoRA, LoRA, head and full
adapters on a cluster (same files, same contract: ../shared/docs/clora-spec.md).

Entry points, run from python/: `python3 -m clora_torch.train` (the engine's `train`, also under torchrun),
`python3 -m clora_torch.eval`, `python3 -m clora_torch.forward`.
"""

__version__ = "0.1.0"

try:  # a sentence instead of a traceback when this Python lacks them (a pyenv python3 on PATH, say)
    import numpy  # noqa: F401
    import PIL  # noqa: F401
    import torch  # noqa: F401
except ImportError as missing:
    raise SystemExit(f"clora_torch needs PyTorch, numpy and PIL, and this Python ({__import__('sys').executable}) has no {missing.name}. "
                     "On Debian: apt-get install python3-torch python3-numpy python3-pil, and run /usr/bin/python3.") from None
