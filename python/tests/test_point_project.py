"""Point-cloud projects (format version 2) in PyTorch: a project the page saved on the small point fixture backbone
(tests/fixtures/project/points-*.zip: three classes of the sample point set, 44 clouds, a CLoRA run with the page's
point augmentation paused part-way through 6 steps, then carried on to the end in the page; written by the point project flow
of tests/e2e/projects.test.ts as test-results/projects-points-*.zip) gives the companion the page's clouds, split and
settings; the paused run resumes here to the page's own continuation; the project written back opens with the page's
readers; a point project with an image backbone, or a cloud stored for another point count, is refused with a
sentence."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from clora_torch import train
from clora_torch.project import open_project
from clora_torch.project_data import project_samples
from conftest import BACKBONE, REPO, contract_error, tensors
from test_checkpoint import sampler_state
from test_project import read_in_page, record, rewritten

PROJECTS = REPO / "tests" / "fixtures" / "project"
PAUSED, DONE = PROJECTS / "points-paused.zip", PROJECTS / "points-done.zip"
POINT_BACKBONE = REPO / "tests" / "fixtures" / "train_points" / "backbone.safetensors"
MODEL = ["--model", str(POINT_BACKBONE)]


def test_the_clouds_and_split_are_the_pages():
    project = open_project(PAUSED)
    assert project.json["kind"] == "points" and project.json["points"] == {"count": 48, "groups": 8, "groupSize": 8}
    s = project_samples(project)
    assert sorted(s.classes) == ["armchair", "bed", "lamp"] and len(s.keys) == 44
    assert s.fingerprint == record(PAUSED)["fingerprint"]  # the page's order, keys and share
    assert int(s.validation.sum()) == 8
    cloud = np.load(io.BytesIO(project.files[s.paths[0]]))
    # The stored 16-bit values, as float32: q / 32767 exactly.
    assert cloud.dtype == np.float32 and cloud.shape == (48, 3)
    q = np.round(cloud.astype(np.float64) * 32767)
    assert np.array_equal((q / 32767).astype(np.float32), cloud)


def test_the_pages_paused_point_run_resumes_here_as_the_page_continued_it(tmp_path, capsys):
    paused, done = tmp_path / "paused.safetensors", tmp_path / "done.safetensors"
    for path, zip_path in ((paused, PAUSED), (done, DONE)):
        with zipfile.ZipFile(zip_path) as z:
            path.write_bytes(z.read("checkpoint.safetensors"))
    out, state, again = tmp_path / "a.safetensors", tmp_path / "s.safetensors", tmp_path / "again.zip"
    assert train.main(["--project", str(PAUSED), "--resume", *MODEL, "--out", str(out), "--save-state", str(state), "--save-project", str(again)]) == 0
    err = capsys.readouterr().err
    paused_at = record(PAUSED)["step"]
    assert f"training clora on 36 point clouds of points-paused.zip of 3 classes from step {paused_at}: 6 steps" in err
    assert "epoch 2: train accuracy " in err and "(8 point clouds held out)" in err
    ratio, worst = contract_error(tensors(state), tensors(done), tensors(paused))
    print(f"resumed from the page's step {paused_at}: {ratio:.2e} of the largest change ({worst})")
    assert ratio <= 1e-4, f"worst tensor {worst} at {ratio:.2e} of the largest change"
    assert sampler_state(state) == sampler_state(done)
    ours, theirs = record(again)["accuracy"], record(DONE)["accuracy"]
    assert [(p["step"], p["epoch"]) for p in ours] == [(p["step"], p["epoch"]) for p in theirs] == [(3, 1), (6, 2)]
    for a, b in zip(ours, theirs):
        assert a["train"] == pytest.approx(b["train"]) and a["validation"] == pytest.approx(b["validation"])

    # Written back as a version 2 point project that the page's readers open: the same clouds, byte for byte.
    written, original = read_in_page(again, PAUSED, backbone=POINT_BACKBONE)
    assert written["ok"], written
    assert (written["kind"], written["classes"], written["images"], written["sizes"], written["fingerprint"]) == \
        ("points", original["classes"], 44, [48], original["fingerprint"])
    assert written["checkpoint"]["step"] == 6 and written["checkpoint"]["trainer"] == "clora_torch"
    document = json.loads(zipfile.ZipFile(again).read("project.json"))
    assert (document["format_version"], document["kind"], document["points"]) == (2, "points", {"count": 48, "groups": 8, "groupSize": 8})
    with zipfile.ZipFile(PAUSED) as a, zipfile.ZipFile(again) as b:
        clouds = [n for n in a.namelist() if n.startswith("clouds/")]
        assert len(clouds) == 44 and sorted(clouds) == sorted(n for n in b.namelist() if n.startswith("clouds/"))
        assert all(a.read(n) == b.read(n) for n in clouds)


def test_a_point_project_that_cannot_be_used_is_refused(tmp_path, capsys):
    def refused(project: Path, *args: str) -> str:
        assert train.main(["--project", str(project), *args, "--out", str(tmp_path / "a.safetensors")]) == 1
        err = capsys.readouterr().err
        assert err.startswith("error: ") and "training " not in err
        return err

    assert "points-paused.zip holds point clouds, and" in refused(PAUSED, "--model", str(BACKBONE))
    # A cloud the page stored for a backbone of another point count.
    with zipfile.ZipFile(PAUSED) as z:
        first = next(n for n in z.namelist() if n.startswith("clouds/"))
    other = tmp_path / "other.zip"
    with zipfile.ZipFile(PAUSED) as a, zipfile.ZipFile(other, "w") as b:
        for info in a.infolist():
            data = a.read(info)
            if info.filename == first:
                buffer = io.BytesIO()
                np.save(buffer, np.zeros((32, 3), np.float32))
                data = buffer.getvalue()
            b.writestr(info.filename, data)
    assert f"{first} holds 32 points, and the backbone takes 48" in refused(other, *MODEL)
    missing = rewritten(tmp_path / "missing.zip", PAUSED, drop=(first,))
    assert f"1 of its point clouds are missing ({first})" in refused(missing, *MODEL)
