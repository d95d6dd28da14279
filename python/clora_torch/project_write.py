"""--save-project: the project again with the companion's run as its checkpoint, in the page's format
(src/io/project-file.ts), so the page's Open project restores the same classes, images and split and can
Resume the run or use its model:

    project.json               the opened project's classes, images, split and backbone; its settings with the
                               run's written into the form's fields; `checkpoint` describing the new one
    checkpoint.safetensors     the run's training checkpoint (clora-checkpoint)
    images/<folder>/<seq>.png  the opened project's own sample files (or clouds/<folder>/<seq>.npy), byte for byte

The zip is written next to its destination and renamed into place once complete.
"""

from __future__ import annotations

import json
import os
import time
import zipfile
from datetime import datetime, timezone
from pathlib import Path

from .project import CHECKPOINT_ENTRY, PROJECT_JSON, Project, project_document, validate_project


def _base36(n: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = digits[r] + out
        if n == 0:
            return out


def new_run_id() -> str:
    """A run name like the page's ("run-<milliseconds in base 36>"), marked as the companion's."""
    return f"run-torch-{_base36(int(time.time() * 1000))}"


def checkpoint_record(run_id: str, step: int, total_steps: int, checkpoint_every: int, quick: bool, fingerprint: str,
                      accuracy: list[dict]) -> dict:
    """project.json's `checkpoint`: what the checkpoint file does not say and the page needs to resume with its curves."""
    return {"file": CHECKPOINT_ENTRY, "runId": run_id, "step": step, "totalSteps": total_steps, "createdAt": int(time.time() * 1000),
            "reason": "done" if step >= total_steps else "stop", "checkpointEvery": max(1, int(checkpoint_every)), "quick": quick,
            "fingerprint": fingerprint, "accuracy": accuracy}


def write_project(out: str | Path, project: Project, settings: dict, checkpoint: bytes, record: dict) -> None:
    saved_at = datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    document = project_document({**project.json, "savedAt": saved_at, "settings": settings, "checkpoint": record})
    validate_project(json.loads(json.dumps(document)))  # what the page will check, checked here first
    out = Path(out)
    partial = out.with_name(out.name + ".partial")
    try:
        with zipfile.ZipFile(partial, "w") as archive:
            archive.writestr(zipfile.ZipInfo(PROJECT_JSON, _now()), json.dumps(document, indent=1, ensure_ascii=False) + "\n",
                             compress_type=zipfile.ZIP_DEFLATED)
            archive.writestr(zipfile.ZipInfo(CHECKPOINT_ENTRY, _now()), checkpoint, compress_type=zipfile.ZIP_STORED)
            for path, data in project.files.items():
                archive.writestr(zipfile.ZipInfo(path, _now()), data, compress_type=zipfile.ZIP_STORED)
        os.replace(partial, out)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def _now() -> tuple[int, int, int, int, int, int]:
    return time.localtime()[:6]
