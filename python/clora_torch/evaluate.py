"""Accuracy, per-class accuracy and the confusion matrix from logits, as the engine computes and prints
them (src/train/evaluate.ts): the first of equal logits wins; rows of the matrix are the true class."""

from __future__ import annotations

import numpy as np


def evaluate(logits: np.ndarray, labels: np.ndarray, classes: list[str]) -> dict:
    c = len(classes)
    predicted = np.argmax(logits, axis=1)  # the first maximum, as the engine's strict comparison
    confusion = np.zeros((c, c), dtype=np.int64)
    np.add.at(confusion, (labels.astype(np.int64), predicted), 1)
    n = int(labels.shape[0])
    per_class = []
    for k, name in enumerate(classes):
        count = int(confusion[k].sum())
        per_class.append({"class": name, "count": count, "accuracy": float(confusion[k, k] / count) if count else 0.0})
    correct = int(np.trace(confusion))
    return {"count": n, "accuracy": correct / n if n else 0.0, "classes": list(classes), "perClass": per_class,
            "confusion": confusion.tolist()}


def as_js_json(value):
    """Whole floats as integers, so json.dumps writes what the engine's JSON.stringify writes (1, not 1.0)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: as_js_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [as_js_json(v) for v in value]
    return value


def format_evaluation(e: dict, samples: str = "images") -> str:
    """The report `eval` prints, as the engine's; `samples` names what was classified."""
    lines = [f"accuracy {100 * e['accuracy']:.2f}% on {e['count']} {samples}", "", "per class:"]
    for p in e["perClass"]:
        lines.append(f"  {p['class']:<16} {100 * p['accuracy']:6.1f}%  ({p['count']} {samples})")
    lines += ["", "confusion matrix (rows: true class, columns: predicted):"]
    width = max([5] + [len(str(v)) + 1 for row in e["confusion"] for v in row])
    for k, row in enumerate(e["confusion"]):
        lines.append(f"  {e['classes'][k][:16]:<16} " + "".join(str(v).rjust(width) for v in row))
    return "\n".join(lines) + "\n"
