"""The web app's project file (Save project) in PyTorch: projects the page itself saved (tests/fixtures/project, by
tools/make-project-fixture.ts in headless Chromium) give the companion the page's own samples, split and settings;
the paused run resumes here and its next steps equal the page's own continuation (done.zip); a new run from the
project's settings equals the page's whole run; the project written back opens with the page's readers and checks
(tests/helpers/read-project.ts); and a project that cannot be used is refused with a sentence."""

from __future__ import annotations

import io
import json
import subprocess
import zipfile
from pathlib import Path

import numpy as np
import pytest

from clora_torch import train
from clora_torch.project import open_project
from clora_torch.project_data import js_string, project_samples, validation_flags
from clora_torch.settings import AdapterSettings
from conftest import BACKBONE, DATA, REPO, TSX, contract_error, engine_script, initial, tensors
from test_checkpoint import sampler_state

PROJECTS = REPO / "tests" / "fixtures" / "project"
PAUSED, DONE = PROJECTS / "paused.zip", PROJECTS / "done.zip"
# The fixture projects name the backbone by the address the page loaded it from (a test server long gone).
MODEL = ["--model", str(BACKBONE)]


def entry(zip_path: Path, name: str) -> bytes:
    with zipfile.ZipFile(zip_path) as z:
        return z.read(name)


def record(zip_path: Path) -> dict:
    return json.loads(entry(zip_path, "project.json"))["checkpoint"]


@pytest.fixture(scope="module")
def page_runs(tmp_path_factory):
    """The checkpoints of the page's run: paused part-way and done (step 12), as files."""
    folder = tmp_path_factory.mktemp("page")
    for name, zip_path in (("paused", PAUSED), ("done", DONE)):
        (folder / f"{name}.safetensors").write_bytes(entry(zip_path, "checkpoint.safetensors"))
    return folder / "paused.safetensors", folder / "done.safetensors"


def test_the_split_is_the_pages():
    split = json.loads((PROJECTS / "split.json").read_text())
    s = project_samples(open_project(PAUSED))
    assert s.classes == split["classes"] == ["trouser", "bag", "Stiefel 👢 / boot?"]  # the empty class has no label
    assert s.keys == split["keys"] and s.labels.tolist() == split["labels"] and s.validation.tolist() == split["validation"]
    assert int(s.validation.sum()) == 7 and s.fingerprint == record(PAUSED)["fingerprint"]


def test_validation_flags_are_the_engines():
    cases = [(count, share) for count in (0, 1, 2, 3, 7, 10, 33) for share in (0, 0.05, 0.1, 0.2, 0.25, 0.3, 1 / 3, 0.5, 0.9)]
    code = ("import { validationFlags } from './src/data/intake.ts';"
            f"console.log(JSON.stringify({json.dumps(cases)}.map(([n, s]) => Array.from(validationFlags(n, s), Boolean))));")
    assert json.loads(engine_script(code)) == [validation_flags(n, s) for n, s in cases]
    assert [js_string(x) for x in (1.0, 0.3, 1e-7, 2e-3, 1e21, 123.5)] == ["1", "0.3", "1e-7", "0.002", "1e+21", "123.5"]


def test_the_pages_paused_run_resumes_here_as_the_page_continued_it(page_runs, tmp_path, capsys):
    paused, done = page_runs
    out, state, project = tmp_path / "a.safetensors", tmp_path / "s.safetensors", tmp_path / "again.zip"
    assert train.main(["--project", str(PAUSED), "--resume", *MODEL, "--out", str(out), "--save-state", str(state), "--save-project", str(project)]) == 0
    err = capsys.readouterr().err
    assert f"training clora on 20 images of paused.zip of 3 classes from step {record(PAUSED)['step']}: 12 steps" in err
    assert "epoch 4: train accuracy " in err and "(7 images held out)" in err
    ratio, worst = contract_error(tensors(state), tensors(done), tensors(paused))
    print(f"resumed from the page's step {record(PAUSED)['step']}: {ratio:.2e} of the largest change ({worst})")
    assert ratio <= 1e-4, f"worst tensor {worst} at {ratio:.2e} of the largest change"
    assert sampler_state(state) == sampler_state(done)
    # The page's accuracy curve, continued as the page continued it.
    ours, theirs = record(project)["accuracy"], record(DONE)["accuracy"]
    assert [(p["step"], p["epoch"]) for p in ours] == [(p["step"], p["epoch"]) for p in theirs] == [(3, 1), (6, 2), (9, 3), (12, 4)]
    for a, b in zip(ours, theirs):
        assert a["train"] == pytest.approx(b["train"]) and a["validation"] == pytest.approx(b["validation"])
    assert record(project)["runId"] == record(PAUSED)["runId"] and record(project)["reason"] == "done"


def test_a_new_run_takes_the_projects_settings(page_runs, tmp_path, capsys):
    _, done = page_runs
    state = tmp_path / "s.safetensors"
    assert train.main(["--project", str(PAUSED), *MODEL, "--out", str(tmp_path / "a.safetensors"), "--save-state", str(state)]) == 0
    assert "note:" not in capsys.readouterr().err
    start = initial(AdapterSettings(method="clora", rank=4, spaces=2, targets=("q", "v"), sade_weight=0.2, dropout=0.0), seed=7)
    ours, theirs = tensors(state, "clora."), tensors(done, "clora.")
    ratio, worst = contract_error({**ours, **tensors(state, "head.")}, {**theirs, **tensors(done, "head.")}, start)
    print(f"a new run of the project's settings against the page's whole run: {ratio:.2e} of the largest change ({worst})")
    assert ratio <= 1e-4 and sampler_state(state) == sampler_state(done)
    # An option replaces the project's value, with a note.
    assert train.main(["--project", str(PAUSED), *MODEL, "--steps", "2", "--lr", "0.02", "--out", str(tmp_path / "b.safetensors")]) == 0
    err = capsys.readouterr().err
    assert "note: --lr 0.02 replaces the project's 0.01." in err and "note: --steps 2 replaces the project's 4 epochs." in err


def read_in_page(*paths: Path, backbone: Path = BACKBONE) -> list[dict]:
    """The page's Open project readers and checks on each project (tests/helpers/read-project.ts)."""
    result = subprocess.run([str(TSX), "tests/helpers/read-project.ts", str(backbone), *map(str, paths)], cwd=REPO, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_the_project_written_back_opens_in_the_page(tmp_path, capsys):
    finished, halfway = tmp_path / "finished.zip", tmp_path / "halfway.zip"
    base = ["--project", str(PAUSED), *MODEL, "--out", str(tmp_path / "a.safetensors")]
    assert train.main([*base, "--resume", "--save-project", str(finished)]) == 0
    assert train.main([*base, "--steps", "4", "--lr", "0.02", "--save-project", str(halfway)]) == 0
    capsys.readouterr()
    finished_in_page, halfway_in_page, paused_in_page = read_in_page(finished, halfway, PAUSED)
    assert finished_in_page["ok"], finished_in_page
    assert (finished_in_page["classes"], finished_in_page["images"], finished_in_page["fingerprint"]) == \
        (paused_in_page["classes"], 27, paused_in_page["fingerprint"])
    assert finished_in_page["checkpoint"]["step"] == 12 and finished_in_page["checkpoint"]["trainer"] == "clora_torch"
    assert halfway_in_page["ok"], halfway_in_page
    assert halfway_in_page["settings"]["lr"] == 0.02 and halfway_in_page["checkpoint"]["step"] == 4
    assert halfway_in_page["checkpoint"]["record"]["reason"] == "done" and halfway_in_page["checkpoint"]["totalSteps"] == 4
    # The images byte for byte.
    with zipfile.ZipFile(PAUSED) as a, zipfile.ZipFile(finished) as b:
        images = [n for n in a.namelist() if n.startswith("images/")]
        assert sorted(images) == sorted(n for n in b.namelist() if n.startswith("images/"))
        assert all(a.read(n) == b.read(n) for n in images)


def rewritten(path: Path, source: Path, change=None, drop: tuple[str, ...] = ()) -> Path:
    """`source` with its project.json changed by `change` and the entries in `drop` left out."""
    with zipfile.ZipFile(source) as a, zipfile.ZipFile(path, "w") as b:
        for info in a.infolist():
            if info.filename in drop:
                continue
            data = a.read(info)
            if info.filename == "project.json" and change is not None:
                document = json.loads(data)
                change(document)
                data = json.dumps(document).encode()
            b.writestr(info.filename, data)
    return path


def test_a_project_that_cannot_be_used_is_refused(tmp_path, capsys):
    def refused(project: Path, *more: str) -> str:
        assert train.main(["--project", str(project), *MODEL, "--out", str(tmp_path / "a.safetensors"), *more]) == 1
        err = capsys.readouterr().err
        assert err.startswith("error: ") and "training " not in err
        return err

    newer = rewritten(tmp_path / "newer.zip", PAUSED, lambda p: p.update(format_version=3))
    assert "saved by a newer version of clora-web (project format version 3" in refused(newer)
    truncated = tmp_path / "truncated.zip"
    truncated.write_bytes(PAUSED.read_bytes()[: PAUSED.stat().st_size // 2])
    assert "cannot be read as a zip" in refused(truncated) and not (tmp_path / "a.safetensors").exists()
    fresh = rewritten(tmp_path / "fresh.zip", PAUSED, lambda p: p.update(checkpoint=None), drop=("checkpoint.safetensors",))
    message = refused(fresh, "--resume")
    assert "fresh.zip holds no checkpoint to resume" in message and "Leave --resume out" in message
    missing = rewritten(tmp_path / "missing.zip", PAUSED, drop=("images/bag/000000014.png",))
    assert "This project file is damaged: 1 of its images are missing (images/bag/000000014.png)" in refused(missing)
    no_checkpoint_file = rewritten(tmp_path / "lost.zip", PAUSED, drop=("checkpoint.safetensors",))
    assert "it lists a checkpoint but holds no checkpoint.safetensors" in refused(no_checkpoint_file, "--resume")

    def other_share(p: dict) -> None:
        p["validationShare"] = 0.2
    assert "its images are not those its checkpoint was trained on" in refused(rewritten(tmp_path / "share.zip", PAUSED, other_share), "--resume")
    # --data replaces the project's images: of the project's classes, for a new run only.
    assert "--data has the classes cat, dog, owl; the project has trouser, bag, Stiefel 👢 / boot?" in refused(PAUSED, "--data", str(DATA))
    assert "--data replaces them: leave --data out to carry the run on" in refused(PAUSED, "--data", str(DATA), "--resume")
    plain = tmp_path / "plain.zip"
    with zipfile.ZipFile(plain, "w") as z:
        z.writestr("cat/1.png", b"")
    assert "holds no project.json, so it is not a clora-web project" in refused(plain)
    # A backbone the companion cannot find: a file chosen in the page, or an address it cannot reach.
    def chosen_file(p: dict) -> None:
        p["backbone"] = {"spec": "my-vit.safetensors", "label": "my-vit.safetensors", "url": None}
    chosen = rewritten(tmp_path / "chosen.zip", PAUSED, chosen_file)
    assert train.main(["--project", str(chosen), "--out", str(tmp_path / "a.safetensors")]) == 1
    err = capsys.readouterr().err
    assert "made with the backbone my-vit.safetensors, a file chosen in the page" in err and "pass the same weights with --model FILE" in err
    assert train.main(["--project", str(PAUSED), "--out", str(tmp_path / "a.safetensors")]) == 1
    err = capsys.readouterr().err
    assert "which cannot be opened here" in err and "Pass its weights with --model FILE" in err


def test_bundled_backbone_is_found_by_its_id(tmp_path):
    # The page's bundled backbone (spec "clora-web/vit-mnist") resolves to public/models without --model.
    from clora_torch.project_run import ProjectSource
    def bundled(p: dict) -> None:
        p["backbone"] = {"spec": "clora-web/vit-mnist", "label": "ViT (MNIST, bundled)", "url": "models/vit-mnist.safetensors"}
    source = ProjectSource({"project": str(rewritten(tmp_path / "bundled.zip", PAUSED, bundled))})
    backbone = source.backbone()
    try:
        assert backbone.known is not None and backbone.known.id == "clora-web/vit-mnist" and backbone.cfg.image_size == 28
    finally:
        backbone.close()
