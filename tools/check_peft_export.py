#!/usr/bin/python3
"""Checks a PEFT export (spec §2.3) against the PyTorch reference in tests/fixtures/train/.

    /usr/bin/python3 tools/check_peft_export.py DIR                      # DIR: adapter_config.json + adapter_model.safetensors
    /usr/bin/python3 tools/check_peft_export.py DIR --reference tests/fixtures/train/peft_expected_lora_all.safetensors
    /usr/bin/python3 tools/check_peft_export.py --self-test              # checks this checker on exports it writes itself

Rebuilds every adapted module's update the way stock PEFT does: scaling · lora_B · lora_A with
scaling = alpha / r (alpha / sqrt(r) with use_rslora), r and alpha taken from rank_pattern /
alpha_pattern with PEFT's matching rule. It adds that update to the backbone, puts in the exported head,
and runs the model on the data. Then it compares each module's update with the reference's `delta.*`
and the logits with the reference's `logits`, printing the largest absolute difference of each.
It also checks the spec's config rules: peft_type LORA, scaling 1 for every module, modules_to_save
["head"], auto_mapping for timm's VisionTransformer, target_modules covering every adapted module.
Exit status: 0 when everything holds within --tolerance (default 1e-4), 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
import make_fixtures as mf  # noqa: E402  (the timm-layout ViT, the safetensors reader and writer, the reference)

PREFIX = "base_model.model."
KEY = re.compile(r"^base_model\.model\.(.+)\.lora_([AB])\.weight$")
DEFAULT_REFERENCE = mf.REPO_ROOT / "tests" / "fixtures" / "train" / "peft_expected_clora_all.safetensors"


def config_from_weights(weights: dict[str, np.ndarray], metadata: dict[str, str], classes: int) -> mf.VitConfig:
    """The ViT's shape from its tensors; the head count from the file's `num_heads` (spec §2.1)."""
    dim = weights["cls_token"].shape[-1]
    patch = weights["patch_embed.proj.weight"].shape[-1]
    tokens = weights["pos_embed"].shape[1]
    side = math.isqrt(tokens - 1)
    depth = sum(1 for k in weights if re.fullmatch(r"blocks\.\d+\.norm1\.weight", k))
    heads = int(metadata.get("num_heads", max(1, dim // 64)))
    return mf.VitConfig(img=side * patch, patch=patch, dim=dim, depth=depth, heads=heads,
                        mlp=weights["blocks.0.mlp.fc1.weight"].shape[0], classes=classes)


def pattern_key(patterns: list[str], module: str) -> str:
    """PEFT's lookup: the first rank_pattern / alpha_pattern key that equals the module's name or matches a
    dotted suffix of it (keys are regular expressions); the module's own name when none does."""
    for key in patterns:
        if key == module or re.match(rf"(.*\.)?{key}$", module):
            return key
    return module


def module_scaling(config: dict, module: str) -> tuple[int, float, float]:
    """(r, alpha, scaling) PEFT gives this module."""
    rank_pattern = config.get("rank_pattern") or {}
    alpha_pattern = config.get("alpha_pattern") or {}
    key = pattern_key(list(rank_pattern) + list(alpha_pattern), module)
    r = int(rank_pattern.get(key, config.get("r", 8)))
    alpha = float(alpha_pattern.get(key, config.get("lora_alpha", 8)))
    scaling = alpha / math.sqrt(r) if config.get("use_rslora") else alpha / r
    return r, alpha, scaling


def targeted(target_modules, module: str) -> bool:
    """PEFT's check_target_module_exists for a list or a regular expression string."""
    if isinstance(target_modules, str):
        return re.fullmatch(target_modules, module) is not None
    return any(module == t or module.endswith("." + t) for t in target_modules or [])


def check_export(folder: Path, reference: Path, model: Path | None, data: Path | None,
                 tolerance: float) -> tuple[bool, list[str]]:
    """(passed, report lines)."""
    lines: list[str] = []
    problems: list[str] = []
    warnings: list[str] = []

    config = json.loads((folder / "adapter_config.json").read_text())
    tensors, _ = mf.read_safetensors(folder / "adapter_model.safetensors")
    ref, ref_meta = mf.read_safetensors(reference)
    model_path = model or mf.REPO_ROOT / ref_meta.get("model", "tests/fixtures/train/backbone.safetensors")
    data_path = data or mf.REPO_ROOT / ref_meta.get("data", "tests/fixtures/train/data.safetensors")
    backbone, backbone_meta = mf.read_safetensors(model_path)
    samples, _ = mf.read_safetensors(data_path)

    if config.get("peft_type") != "LORA":
        problems.append(f"peft_type is {config.get('peft_type')!r}, not 'LORA'")
    if config.get("modules_to_save") != ["head"]:
        problems.append(f"modules_to_save is {config.get('modules_to_save')!r}, not ['head']")
    mapping = config.get("auto_mapping")
    if not isinstance(mapping, dict) or mapping.get("base_model_class") != "VisionTransformer" \
            or "timm" not in str(mapping.get("parent_library", "")):
        problems.append(f"auto_mapping is {mapping!r}, not timm's VisionTransformer "
                        "({'base_model_class': 'VisionTransformer', 'parent_library': 'timm.models.vision_transformer'})")
    for flag, wanted in (("bias", "none"), ("fan_in_fan_out", False), ("use_dora", False)):
        if flag in config and config[flag] != wanted:
            problems.append(f"{flag} is {config[flag]!r}; the export needs {wanted!r}")

    pairs: dict[str, dict[str, np.ndarray]] = {}
    head: dict[str, np.ndarray] = {}
    for name, array in tensors.items():
        match = KEY.match(name)
        if match:
            pairs.setdefault(match.group(1), {})[match.group(2)] = array.astype(np.float64)
        elif name in (PREFIX + "head.weight", PREFIX + "head.bias"):
            head[name.removeprefix(PREFIX)] = array.astype(np.float64)
        else:
            problems.append(f"unexpected tensor {name!r}")
    if set(head) != {"head.weight", "head.bias"}:
        problems.append(f"the head is missing: found {sorted(head)}")
        return False, problems
    classes = head["head.weight"].shape[0]
    cfg = config_from_weights(backbone, backbone_meta, classes)
    if head["head.weight"].shape != (classes, cfg.dim) or head["head.bias"].shape != (classes,):
        problems.append(f"head shapes {head['head.weight'].shape}, {head['head.bias'].shape} do not fit d = {cfg.dim}")
        return False, problems

    weights = {k: v.astype(np.float64) for k, v in backbone.items() if not k.startswith("head.")}
    ref_deltas = {k.removeprefix("delta."): v.astype(np.float64) for k, v in ref.items() if k.startswith("delta.")}
    worst_delta = 0.0
    for module in sorted(set(pairs) | set(ref_deltas)):
        pair = pairs.get(module)
        if pair is None:
            problems.append(f"{module}: the reference adapts it but the export has no lora_A/lora_B for it")
            continue
        if set(pair) != {"A", "B"}:
            problems.append(f"{module}: only lora_{''.join(pair)} is present")
            continue
        key = f"{module}.weight"
        if key not in weights:
            problems.append(f"{module}: not a module of the backbone")
            continue
        out_width, in_width = weights[key].shape
        lora_a, lora_b = pair["A"], pair["B"]
        rank = lora_a.shape[0]
        r, alpha, scaling = module_scaling(config, module)
        if lora_a.shape != (rank, in_width) or lora_b.shape != (out_width, rank):
            problems.append(f"{module}: lora_A {lora_a.shape} and lora_B {lora_b.shape} do not fit [R, {in_width}] and [{out_width}, R]")
            continue
        if r != rank:
            problems.append(f"{module}: the tensors have rank {rank} but the config gives r = {r} (rank_pattern)")
        if abs(scaling - 1.0) > 1e-6:
            problems.append(f"{module}: scaling {alpha:g}/{r} = {scaling:g}; the spec keeps every module's scaling at 1")
        if not targeted(config.get("target_modules"), module):
            problems.append(f"{module}: not matched by target_modules {config.get('target_modules')!r}")
        delta = scaling * (lora_b @ lora_a)
        weights[key] = weights[key] + delta
        expected = ref_deltas.get(module)
        if expected is None:
            problems.append(f"{module}: the export adapts it but the reference does not")
            continue
        diff = float(np.abs(delta - expected).max())
        worst_delta = max(worst_delta, diff)
        lines.append(f"  {module}: R {rank}, scaling {scaling:g}, max |update - reference| {diff:.3e} (largest |reference| {float(np.abs(expected).max()):.3e})")
        if diff > tolerance:
            problems.append(f"{module}: the update differs from the reference by {diff:.3e} > {tolerance:g}")

    # What else a stock PEFT would wrap with these target_modules: harmless (zero update) but PEFT warns.
    probe = mf.VisionTransformer(cfg)
    for name, module in probe.named_modules():
        if isinstance(module, (nn.Linear, nn.Conv2d)) and name not in pairs and name != "head" \
                and targeted(config.get("target_modules"), name):
            warnings.append(f"target_modules also matches {name!r}, which has no weights in the export: PEFT wraps it "
                            "with a zero update and reports missing keys; list full module names to avoid it")

    weights.update(head)
    vit = mf.VisionTransformer(cfg).double().eval()  # the nn.Module ViT: not the path that made the reference
    vit.load_state_dict({k: torch.from_numpy(v) for k, v in weights.items()})
    with torch.no_grad():
        logits = vit(torch.from_numpy(samples["pixel_values"].astype(np.float64))).numpy()
    expected_logits = ref["logits"].astype(np.float64)
    if logits.shape != expected_logits.shape:
        problems.append(f"logits {logits.shape} vs reference {expected_logits.shape}")
        logit_diff = math.inf
    else:
        logit_diff = float(np.abs(logits - expected_logits).max())
        if logit_diff > tolerance:
            problems.append(f"logits differ from the reference by {logit_diff:.3e} > {tolerance:g}")
    lines.insert(0, f"{folder}: {len(pairs)} adapted modules, {classes} classes; reference {reference}")
    lines.append(f"max |update - reference| over modules: {worst_delta:.3e}")
    lines.append(f"logits: max |export - reference| {logit_diff:.3e} (tolerance {tolerance:g})")
    lines += [f"warning: {w}" for w in warnings]
    lines += [f"FAIL: {p}" for p in problems]
    lines.append("OK" if not problems else f"FAILED ({len(problems)} problems)")
    return not problems, lines


# ---------------------------------------------------------------------------------------------
# Self-test: exports written here from the native init adapters by spec §2.3's expansion.


def write_export(folder: Path, native: dict[str, np.ndarray], metadata: dict[str, str],
                 alpha_factor: float = 1.0, use_patterns: bool = True, module_names: str = "full") -> None:
    """§2.3 export of a native clora or lora adapter. CLoRA: lora_A stacks (D_h·Q_h)ᵀ over targets and h,
    lora_B stacks s·U_hᵀ in each target's rows; LoRA: lora_A stacks A, lora_B stacks s·B."""
    cfg = mf.TRAIN_CFG
    method, scale = metadata["format"], float(metadata["scale"])
    targets = tuple(metadata["targets"].split(","))
    tensors: list[tuple[str, np.ndarray]] = []
    ranks: dict[str, int] = {}
    for block in range(cfg.depth):
        for module in mf.adapted_modules(targets, cfg):
            out_width, in_width = mf.module_shape(module, cfg)
            a_rows, b_cols = [], []
            for target in mf.ALL_TARGETS:
                t_module, path, a, b, row0 = mf.target_spec(target, cfg)
                if t_module != module or target not in targets:
                    continue
                if method == "clora":
                    down = native[f"clora.down.{a}"].astype(np.float64)
                    core = native[f"clora.core.blocks.{block}.{path}"].astype(np.float64)
                    up = native[f"clora.up.{b}"].astype(np.float64)
                    pieces = [((down[h] @ core[h]).T, scale * up[h].T) for h in range(down.shape[0])]
                else:
                    pieces = [(native[f"lora.A.blocks.{block}.{path}"].astype(np.float64),
                               scale * native[f"lora.B.blocks.{block}.{path}"].astype(np.float64))]
                for a_piece, b_piece in pieces:
                    column = np.zeros((out_width, b_piece.shape[1]))
                    column[row0:row0 + b] = b_piece
                    a_rows.append(a_piece)
                    b_cols.append(column)
            name = f"blocks.{block}.{module}"
            lora_a, lora_b = np.concatenate(a_rows, 0), np.concatenate(b_cols, 1)
            ranks[name] = lora_a.shape[0]
            tensors += [(f"{PREFIX}{name}.lora_A.weight", lora_a.astype(np.float32)),
                        (f"{PREFIX}{name}.lora_B.weight", (lora_b / alpha_factor).astype(np.float32))]
    tensors += [(PREFIX + "head.weight", native["head.weight"]), (PREFIX + "head.bias", native["head.bias"])]
    base = min(ranks.values())
    patterns = {n: r for n, r in ranks.items() if r != base} if use_patterns else {}
    if module_names == "full":
        target_modules = sorted(ranks)
    else:  # leaf names, as a user might write them: "proj" also matches patch_embed.proj
        target_modules = sorted({n.rsplit(".", 1)[1] for n in ranks})
    config = {
        "peft_type": "LORA", "r": base, "lora_alpha": base * alpha_factor, "target_modules": target_modules,
        "rank_pattern": patterns, "alpha_pattern": {n: r * alpha_factor for n, r in patterns.items()},
        "modules_to_save": ["head"], "lora_dropout": 0.0, "bias": "none", "fan_in_fan_out": False,
        "use_rslora": False, "init_lora_weights": True, "task_type": None,
        "auto_mapping": {"base_model_class": "VisionTransformer", "parent_library": "timm.models.vision_transformer"},
    }
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "adapter_config.json").write_text(json.dumps(config, indent=2))
    mf.write_safetensors(folder / "adapter_model.safetensors", tensors, {"format": "pt"})


def self_test() -> int:
    train = mf.REPO_ROOT / "tests" / "fixtures" / "train"
    failures = 0
    with tempfile.TemporaryDirectory(prefix="peft_check_") as tmp:
        root = Path(tmp)
        cases = []
        for method in ("clora", "lora"):
            native, meta = mf.read_safetensors(train / f"init_{method}_all.safetensors")
            reference = train / f"peft_expected_{method}_all.safetensors"
            write_export(root / f"{method}_ok", native, meta)
            cases.append((f"{method}_all export (modules differ in R: rank_pattern)", root / f"{method}_ok", reference, True))
        native, meta = mf.read_safetensors(train / "init_clora_all.safetensors")
        reference = train / "peft_expected_clora_all.safetensors"

        write_export(root / "leaf_names", native, meta, module_names="leaf")
        cases.append(("target_modules as leaf names (warns about patch_embed.proj)", root / "leaf_names", reference, True))

        write_export(root / "alpha2", native, meta, alpha_factor=2.0)
        cases.append(("scaling 2 with lora_B halved: same model, breaks the scaling-1 rule", root / "alpha2", reference, False))

        write_export(root / "no_pattern", native, meta, use_patterns=False)
        cases.append(("rank_pattern left out", root / "no_pattern", reference, False))

        write_export(root / "perturbed", native, meta)
        path = root / "perturbed" / "adapter_model.safetensors"
        tensors, tmeta = mf.read_safetensors(path)
        tensors[f"{PREFIX}blocks.1.mlp.fc2.lora_B.weight"][3, 5] += 1e-3
        mf.write_safetensors(path, list(tensors.items()), tmeta)
        cases.append(("one lora_B entry off by 1e-3", root / "perturbed", reference, False))

        write_export(root / "missing", native, meta)
        path = root / "missing" / "adapter_model.safetensors"
        tensors, tmeta = mf.read_safetensors(path)
        kept = [(k, v) for k, v in tensors.items() if ".blocks.0.mlp.fc1." not in k]
        mf.write_safetensors(path, kept, tmeta)
        cases.append(("blocks.0.mlp.fc1 left out", root / "missing", reference, False))

        for label, folder, reference, should_pass in cases:
            passed, lines = check_export(folder, reference, None, None, 1e-4)
            verdict = "as expected" if passed == should_pass else "WRONG"
            failures += passed != should_pass
            print(f"[{verdict}] {label}: {'passes' if passed else 'fails'}")
            for line in lines[1:]:
                print(f"    {line}")
    print("self-test OK" if not failures else f"self-test FAILED ({failures} cases)")
    return 1 if failures else 0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, nargs="?", help="folder with adapter_config.json and adapter_model.safetensors")
    parser.add_argument("--reference", type=Path, default=DEFAULT_REFERENCE, help="peft_expected_*.safetensors")
    parser.add_argument("--model", type=Path, help="backbone (default: the reference's `model` metadata)")
    parser.add_argument("--data", type=Path, help="pixel_values file (default: the reference's `data` metadata)")
    parser.add_argument("--tolerance", type=float, default=1e-4, help="largest absolute difference allowed")
    parser.add_argument("--self-test", action="store_true", help="check this checker on exports it writes itself")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    if args.self_test:
        return self_test()
    if args.folder is None:
        parser.error("give the export folder, or --self-test")
    passed, lines = check_export(args.folder, args.reference, args.model, args.data, args.tolerance)
    print("\n".join(lines))
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
