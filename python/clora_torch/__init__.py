"""clora_torch: the PyTorch companion of clora-web, for training the same CLoRA, LoRA, head and full
adapters on a cluster (same files, same contract: ../shared/docs/clora-spec.md).

Entry points, run from python/: `python3 -m clora_torch.train` (the engine's `train`, also under torchrun),
`python3 -m clora_torch.eval`, `python3 -m clora_torch.forward`.
"""

__version__ = "0.1.0"
