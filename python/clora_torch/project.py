"""The web app's project file (Save project), read as the page's Open project reads it (src/io/project-file.ts,
src/app/project.ts): one .zip holding

    project.json                  classes (id, name, folder, files), validation share, settings, backbone, checkpoint
    images/<folder>/<seq>.png     an image project: each stored sample, square 8-bit RGB at the model's input size
    clouds/<folder>/<seq>.npy     a point project (format version 2, "kind": "points"): each stored cloud, float32
                                  [count, 3], already centred, in the unit sphere and at the backbone's point count
    checkpoint.safetensors        the latest training checkpoint (clora-checkpoint), when there is one

project.json is checked field by field with the page's rules and sentences (validate_project); the zip must hold
exactly the sample files it lists. Entries are read into memory with a cap per entry, whatever their headers claim.
Each class's files are kept under "files" whatever project.json lists them under ("images" or "clouds");
project_document writes them back under the kind's key.
"""

from __future__ import annotations

import json
import math
import re
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

PROJECT_FORMAT = "clora-web-project"
PROJECT_FORMAT_VERSION = 2  # the newest read here: 1 holds images, 2 adds point projects
PROJECT_JSON = "project.json"
CHECKPOINT_ENTRY = "checkpoint.safetensors"
# Per kind: the folder of its files in the zip, the key listing them in project.json, their extension, their noun.
SAMPLE_FILES = {"images": ("images", "images", "png", "image"), "points": ("clouds", "clouds", "npy", "point cloud")}
MAX_PROJECT_CLOUD_POINTS = 1 << 20
MAX_ENTRY_BYTES = 256_000_000  # the page's per-entry limit (src/io/zip.ts)
MAX_SAFE_INTEGER = 2**53 - 1
CHECKPOINT_REASONS = ("interval", "pause", "stop", "done")


class ProjectError(ValueError):
    """A project that cannot be used, said as a sentence: what is wrong and what to do."""


_DAMAGED = "The project file is damaged or was not saved by clora-web"


def _fail(what: str):
    raise ProjectError(f"{_DAMAGED}: {what}. Use the original .zip again, or save the project again from the browser that made it.")


def damaged(what: str) -> ProjectError:
    """The page's sentence for a project whose parts do not agree (src/app/project.ts)."""
    return ProjectError(f"This project file is damaged: {what}. Use the original .zip again, or save the project again where it was made.")


def format_version_for(kind: str) -> int:
    """The oldest version that holds a project of this kind (what the page writes)."""
    return 2 if kind == "points" else 1


def seq_of_sample_file(kind: str, name: str) -> int | None:
    m = re.fullmatch(r"(\d{1,9})\." + SAMPLE_FILES[kind][2], name)
    return int(m.group(1)) if m else None


def sample_path(kind: str, folder: str, file: str) -> str:
    return f"{SAMPLE_FILES[kind][0]}/{folder}/{file}"


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _text(v, what: str, limit: int = 1000) -> str:
    # JavaScript's length counts UTF-16 units.
    if not isinstance(v, str) or len(v) == 0 or len(v.encode("utf-16-le")) // 2 > limit:
        _fail(f"{what} is not a name")
    return v


def _integer(v, what: str, low: int = 0, high: int = MAX_SAFE_INTEGER) -> int:
    if not _is_number(v) or not math.isfinite(v) or int(v) != v or v < low or v > high:
        _fail(f"{what} is not a whole number from {low} to {high}")
    return int(v)


def _share(v, what: str) -> float:
    if not _is_number(v) or not math.isfinite(v) or v < 0 or v > 1:
        _fail(f"{what} is not a share between 0 and 1")
    return v


def _safe_folder(v, what: str) -> str:
    folder = _text(v, what, 200)
    if re.search(r"[\\/\x00-\x1f]", folder) or folder in (".", ".."):
        _fail(f'{what} "{folder}" is not a plain folder name')
    return folder


def _checkpoint_of(v) -> dict | None:
    if v is None:
        return None
    if not isinstance(v, dict):
        _fail('"checkpoint" is not an object')
    if v.get("file") != CHECKPOINT_ENTRY:
        _fail(f'"checkpoint.file" is not "{CHECKPOINT_ENTRY}"')
    if v.get("reason") not in CHECKPOINT_REASONS:
        _fail('"checkpoint.reason" is not interval, pause, stop or done')
    total = _integer(v.get("totalSteps"), '"checkpoint.totalSteps"', 1)
    step = _integer(v.get("step"), '"checkpoint.step"', 0, total)
    points = v.get("accuracy")
    if not isinstance(points, list) or len(points) > 1_000_000:
        _fail('"checkpoint.accuracy" is not a list')
    accuracy = []
    for i, p in enumerate(points):
        if not isinstance(p, dict):
            _fail(f'"checkpoint.accuracy[{i}]" is not an object')
        validation = None if p.get("validation") is None else _share(p["validation"], f'"checkpoint.accuracy[{i}].validation"')
        epoch = p.get("epoch")
        if not _is_number(epoch) or not math.isfinite(epoch) or epoch < 0:
            _fail(f'"checkpoint.accuracy[{i}].epoch" is not a number')
        accuracy.append({"step": _integer(p.get("step"), f'"checkpoint.accuracy[{i}].step"'), "epoch": epoch,
                         "train": _share(p.get("train"), f'"checkpoint.accuracy[{i}].train"'), "validation": validation})
    created = v.get("createdAt")
    if not _is_number(created) or not math.isfinite(created):
        _fail('"checkpoint.createdAt" is not a time')
    if not isinstance(v.get("quick"), bool):
        _fail('"checkpoint.quick" is not true or false')
    return {"file": CHECKPOINT_ENTRY, "runId": _text(v.get("runId"), '"checkpoint.runId"', 200), "step": step, "totalSteps": total,
            "createdAt": created, "reason": v["reason"], "checkpointEvery": _integer(v.get("checkpointEvery"), '"checkpoint.checkpointEvery"', 1),
            "quick": v["quick"], "fingerprint": _text(v.get("fingerprint"), '"checkpoint.fingerprint"', 200), "accuracy": accuracy}


def _kind_of(value: dict, version: int) -> str:
    kind = value.get("kind")
    if kind is None or kind == "images":
        return "images"
    if kind == "points" and version >= 2:
        return "points"
    if kind == "points":
        _fail('it says "kind": "points", which needs format version 2')
    _fail(f'its "kind" is {json.dumps(kind)}, not "images" or "points"')


def _points_of(v) -> dict:
    if not isinstance(v, dict):
        _fail('"points" (the point settings of a point project) is not an object')
    count = _integer(v.get("count"), '"points.count"', 1, MAX_PROJECT_CLOUD_POINTS)
    return {"count": count, "groups": _integer(v.get("groups"), '"points.groups"', 1, count),
            "groupSize": _integer(v.get("groupSize"), '"points.groupSize"', 1, count)}


def validate_project(value) -> dict:
    """The page's validateProject: the project described by `value` (parsed project.json), checked field by field;
    a ProjectError sentence for anything that is not a clora-web project, a newer format version, and every
    inconsistency (duplicate classes, folders or samples, unsafe folder names, numbers out of range)."""
    if not isinstance(value, dict) or value.get("format") != PROJECT_FORMAT:
        raise ProjectError(f'This is not a clora-web project: its project.json does not say "format": "{PROJECT_FORMAT}". '
                           "Pass a .zip saved with the page's Save project (a folder of class folders goes in as --data).")
    version = value.get("format_version")
    if _is_number(version) and math.isfinite(version) and int(version) == version and version > PROJECT_FORMAT_VERSION:
        raise ProjectError(f"This project was saved by a newer version of clora-web (project format version {int(version)}; this companion reads "
                           f"version {PROJECT_FORMAT_VERSION}). Update python/clora_torch to the clora-web version that saved it, or save the "
                           "project again from a page of this version.")
    if not (_is_number(version) and version in (1, 2)):
        _fail(f'its "format_version" is {json.dumps(version)}, not 1 or 2')
    version = int(version)
    kind = _kind_of(value, version)
    _, listing, extension, noun = SAMPLE_FILES[kind]
    b = value.get("backbone")
    if not isinstance(b, dict):
        _fail('"backbone" is not an object')
    backbone = {"spec": _text(b.get("spec"), '"backbone.spec"', 4000), "label": _text(b.get("label"), '"backbone.label"', 4000),
                "url": None if b.get("url") is None else _text(b["url"], '"backbone.url"', 4000)}
    next_seq = _integer(value.get("nextSeq"), '"nextSeq"', 1, 999_999_999)
    raw_classes = value.get("classes")
    if not isinstance(raw_classes, list) or len(raw_classes) > 100_000:
        _fail('"classes" is not a list')
    ids, names, folders, classes = set(), set(), set(), []
    for i, c in enumerate(raw_classes):
        if not isinstance(c, dict):
            _fail(f"class {i + 1} is not an object")
        cid = _text(c.get("id"), f"the id of class {i + 1}", 100)
        if not re.fullmatch(r"[A-Za-z0-9_-]+", cid):
            _fail(f'the id of class {i + 1} ("{cid}") has characters other than letters, digits, - and _')
        name = _text(c.get("name"), f"the name of class {i + 1}", 1000)
        folder = _safe_folder(c.get("folder"), f'the folder of class "{name}"')
        if cid in ids:
            _fail(f'two classes have the id "{cid}"')
        if name in names:
            _fail(f'two classes are named "{name}"')
        if folder.lower() in folders:
            _fail(f'two classes use the folder "{folder}"')
        ids.add(cid)
        names.add(name)
        folders.add(folder.lower())
        files = c.get(listing)
        if not isinstance(files, list) or len(files) > 10_000_000:
            _fail(f'the {listing} of class "{name}" are not a list')
        seen = set()
        for f in files:
            seq = seq_of_sample_file(kind, f) if isinstance(f, str) else None
            if seq is None:
                _fail(f"class \"{name}\" lists {json.dumps(f)}, which is not {'an image' if kind == 'images' else 'a ' + noun} file name like 000000001.{extension}")
            if seq >= next_seq:
                _fail(f'class "{name}" lists {f}, at or past nextSeq {next_seq}')
            if seq in seen:
                _fail(f'class "{name}" lists {noun} {seq} twice')
            seen.add(seq)
        classes.append({"id": cid, "name": name, "folder": folder, "files": list(files)})
    settings = value.get("settings")
    if not isinstance(settings, dict):
        _fail('"settings" is not an object')
    share = _share(value.get("validationShare"), '"validationShare"')
    if share > 0.9:
        _fail('"validationShare" is over 0.9')
    return {"format": PROJECT_FORMAT, "format_version": version, "savedAt": value.get("savedAt") if isinstance(value.get("savedAt"), str) else "",
            "kind": kind, "points": _points_of(value.get("points")) if kind == "points" else None,
            "backbone": backbone, "classes": classes, "validationShare": share, "nextSeq": next_seq, "settings": settings,
            "checkpoint": _checkpoint_of(value.get("checkpoint"))}


def project_document(p: dict) -> dict:
    """project.json for the validated project `p` (the page's projectJson): an image project as version 1 wrote it,
    a point project as version 2 with its kind, point settings and the classes' "clouds"."""
    kind = p["kind"]
    listing = SAMPLE_FILES[kind][1]
    return {"format": PROJECT_FORMAT, "format_version": format_version_for(kind), "savedAt": p["savedAt"],
            **({"kind": kind, "points": p["points"]} if kind == "points" else {}), "backbone": p["backbone"],
            "classes": [{"id": c["id"], "name": c["name"], "folder": c["folder"], listing: c["files"]} for c in p["classes"]],
            "validationShare": p["validationShare"], "nextSeq": p["nextSeq"], "settings": p["settings"], "checkpoint": p["checkpoint"]}


@dataclass
class Project:
    """An opened project: its validated project.json, each listed sample file's bytes (PNG or .npy) by zip path, the
    checkpoint's bytes."""

    path: Path
    json: dict
    files: dict[str, bytes]
    checkpoint_bytes: bytes | None

    @property
    def checkpoint(self) -> dict | None:
        return self.json["checkpoint"]


def _read(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    if info.file_size > MAX_ENTRY_BYTES:
        raise damaged(f"its entry {info.filename} would unpack to {info.file_size / 1e6:.0f} MB, over the {MAX_ENTRY_BYTES // 1_000_000} MB limit per entry")
    with archive.open(info) as entry:
        data = entry.read(MAX_ENTRY_BYTES + 1)
    if len(data) > MAX_ENTRY_BYTES:
        raise damaged(f"its entry {info.filename} unpacks to more than {MAX_ENTRY_BYTES // 1_000_000} MB")
    return data


def open_project(path: str | Path) -> Project:
    """Reads and checks a project zip as the page's Open project does: project.json by validate_project, every listed
    sample file present once and nothing else under its folder (images/ or clouds/), the checkpoint when project.json
    lists one."""
    path = Path(path)
    if not path.is_file():
        raise ProjectError(f"--project {path}: no such file.")
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
            listing = next((i for i in infos if i.filename == PROJECT_JSON), None)
            if listing is None:
                raise ProjectError(f"{path.name} holds no project.json, so it is not a clora-web project. Pass a .zip saved with the page's "
                                   "Save project (unpack a zip of class folders and pass the folder as --data).")
            try:
                project = validate_project(json.loads(_read(archive, listing).decode("utf-8")))
            except (UnicodeDecodeError, json.JSONDecodeError):
                raise damaged("its project.json is not valid JSON") from None
            kind = project["kind"]
            listed = {sample_path(kind, c["folder"], f) for c in project["classes"] for f in c["files"]}
            files: dict[str, bytes] = {}
            checkpoint = None
            for info in infos:
                name = info.filename
                if name == CHECKPOINT_ENTRY:
                    checkpoint = _read(archive, info)
                if not name.startswith(f"{SAMPLE_FILES[kind][0]}/") or info.is_dir():
                    continue
                if name not in listed:
                    raise damaged(f"it holds {name}, which its project.json does not list")
                if name in files:
                    raise damaged(f"it holds {name} twice")
                files[name] = _read(archive, info)
    except zipfile.BadZipFile as error:
        raise ProjectError(f"{path.name} cannot be read as a zip ({error}): it is not a project saved by clora-web, or it is damaged. "
                           "Use the original .zip again, or save the project again from the page.") from None
    except (zipfile.LargeZipFile, zlib.error, EOFError, OSError, RuntimeError, NotImplementedError) as error:
        raise damaged(f"its entries cannot be read ({error})") from None
    missing = sorted(listed - files.keys())
    if missing:
        raise damaged(f"{len(missing)} of its {'images' if kind == 'images' else 'point clouds'} are missing ({', '.join(missing[:3])}{', …' if len(missing) > 3 else ''})")
    if project["checkpoint"] is not None and checkpoint is None:
        raise damaged(f"it lists a checkpoint but holds no {CHECKPOINT_ENTRY}")
    return Project(path, project, files, checkpoint if project["checkpoint"] is not None else None)
