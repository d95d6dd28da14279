"""--model as the engine resolves it: the known-model table (the twin of src/nn/models.ts, checked against
it), the bundled backbone by id, a URL downloaded once into the engine's own cache, the head-count rule,
and a file that is not a ViT refused with a sentence."""

from __future__ import annotations

import http.server
import json
import threading

import pytest

from clora_torch.models import KNOWN_MODELS, cache_dir, open_backbone
from clora_torch.settings import UsageError
from clora_torch.vit import ShapeError
from conftest import BACKBONE, DATA, REPO, engine_script


def test_the_known_model_table_is_the_engines():
    theirs = json.loads(engine_script("import { KNOWN_MODELS } from './src/nn/models'; console.log(JSON.stringify(KNOWN_MODELS));"))

    def entry(m):  # the engine's fields of each kind (src/nn/models.ts: KnownImageModel, KnownPointModel)
        common = {"kind": m.kind, "id": m.id, "url": m.url, "heads": m.heads, "bundled": m.bundled}
        if m.kind == "point":
            return {**common, "points": m.points, "groups": m.groups, "groupSize": m.group_size}
        return {**common, "mean": list(m.mean), "std": list(m.std), "inputSize": m.input_size, "cropPct": m.crop_pct}

    ours = [entry(m) for m in KNOWN_MODELS]
    assert len(ours) == len(theirs)
    assert ours == [{k: m.get(k, False) if k == "bundled" else m.get(k) for k in o} for o, m in zip(ours, theirs)]


def test_the_bundled_backbone_by_id():
    backbone = open_backbone("clora-web/vit-mnist")
    try:
        assert backbone.file.path == REPO / "public" / "models" / "vit-mnist.safetensors"
        cfg = backbone.cfg
        assert (cfg.depth, cfg.dim, cfg.heads, cfg.patch, cfg.image_size, cfg.mlp_dim) == (4, 64, 4, 7, 28, 128)
        assert backbone.describe() == {"base_model": "clora-web/vit-mnist", "num_heads": "4", "image_size": "28", "mean": "0.5,0.5,0.5",
                                       "std": "0.5,0.5,0.5", "crop_pct": "1"}
    finally:
        backbone.close()


def test_the_bundled_point_backbone_by_id():
    backbone = open_backbone("clora-web/point-mae-procedural")
    try:
        assert backbone.file.path == REPO / "public" / "models" / "point-mae-procedural.safetensors"
        cfg = backbone.cfg
        assert (cfg.depth, cfg.dim, cfg.heads, cfg.points, cfg.groups, cfg.group_size) == (4, 96, 4, 512, 32, 32)
        assert backbone.notes == []
    finally:
        backbone.close()


def test_heads_come_from_the_option_then_the_metadata_then_width_over_64():
    for heads, expected in ((None, 3), (1, 1), (6, 6)):  # the fixture's metadata says 3
        backbone = open_backbone(str(BACKBONE), heads)
        assert backbone.cfg.heads == expected
        backbone.close()
    with pytest.raises(ShapeError, match="5 attention heads do not divide the width 24"):
        open_backbone(str(BACKBONE), 5)


def test_a_url_is_downloaded_once_into_the_engines_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    served = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's name)
            served.append(self.path)
            if self.path != "/vit.safetensors":
                self.send_error(404)
                return
            body = BACKBONE.read_bytes()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/vit.safetensors"
        for _ in range(2):
            backbone = open_backbone(url)
            assert backbone.cfg.dim == 24 and backbone.file.path.parent == cache_dir()
            backbone.close()
        assert served == ["/vit.safetensors"]
        with pytest.raises(UsageError, match="the download failed .*404"):
            open_backbone(f"http://127.0.0.1:{server.server_port}/missing.safetensors")
        assert len(list(cache_dir().iterdir())) == 1  # a failed download leaves nothing behind
    finally:
        server.shutdown()


def test_what_is_not_a_model_is_refused():
    with pytest.raises(UsageError, match="no such file, and it is neither a URL nor a known model id"):
        open_backbone("nowhere.safetensors")
    with pytest.raises(ShapeError, match='not a timm ViT: the tensor "patch_embed.proj.weight" is missing'):
        open_backbone(str(DATA))
