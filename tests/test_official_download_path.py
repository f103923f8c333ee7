"""The whole path of chapter 8, offline: a local HTTP server serves stand-in files in the four official
layouts; each is downloaded, verified against its digest, converted to timm and analysed."""

import dataclasses
import functools
import hashlib
import http.server
import threading

import pytest
import torch

from official_stand_ins import SMALL, save_stand_in
from sslvit_lite.data import IMAGENET_MEAN, IMAGENET_STD
from sslvit_lite.download import DownloadError
from sslvit_lite.measure import compute_metrics
from sslvit_lite.official import load_pretrained
from sslvit_lite.registry import CHECKPOINTS

NAMES = ("mocov3_vit_base", "simmim_vit_base", "mae_vit_base", "dino_vit_base")


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # no request log in the test output
        pass


@pytest.fixture
def server(tmp_path, monkeypatch):
    """A local web server over ``tmp_path / "web"``; yields its base URL."""
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")  # never route the local server through a proxy
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    web = tmp_path / "web"
    web.mkdir()
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(web)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", web
    httpd.shutdown()
    httpd.server_close()


def publish(monkeypatch, server, name, **changes):
    """Serve a stand-in of ``name`` and point the registry at it with its real digests; returns the weights."""
    base, web = server
    path, encoder = save_stand_in(web, name)
    body = path.read_bytes()
    digests = {"sha256": hashlib.sha256(body).hexdigest(), "google_drive_id": None, "md5_prefix": None}
    if CHECKPOINTS[name].md5_prefix:  # MAE publishes an MD5 prefix, not a SHA-256
        digests.update(sha256=None, md5_prefix=hashlib.md5(body).hexdigest()[:6])
    info = dataclasses.replace(CHECKPOINTS[name], url=f"{base}/{path.name}", **{**digests, **changes})
    monkeypatch.setitem(CHECKPOINTS, name, info)
    return encoder


@pytest.mark.parametrize("name", NAMES)
def test_download_verify_convert_and_analyse_each_official_layout(name, server, tmp_path, monkeypatch):
    encoder = publish(monkeypatch, server, name)
    model = load_pretrained(name, cache_dir=tmp_path / "cache", progress=False, **SMALL)
    assert (tmp_path / "cache" / CHECKPOINTS[name].filename).is_file()  # cached under the upstream name
    assert torch.equal(model.cls_token, encoder["cls_token"])  # the served weights, converted
    images = torch.randint(0, 256, (4, 3, 32, 32), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    result = compute_metrics(model, images, IMAGENET_MEAN, IMAGENET_STD, batch_size=4, seed=0, tsne=False)
    distance = torch.tensor(result["metrics"]["attention_distance"])  # (L, H)
    assert distance.shape == (SMALL["depth"], SMALL["num_heads"]) and bool(torch.isfinite(distance).all())


def test_a_file_that_changed_upstream_is_refused_and_not_cached(server, tmp_path, monkeypatch):
    publish(monkeypatch, server, "mocov3_vit_base", sha256="0" * 64)
    with pytest.raises(DownloadError, match="SHA-256|sha256"):
        load_pretrained("mocov3_vit_base", cache_dir=tmp_path / "cache", progress=False, **SMALL)
    assert not (tmp_path / "cache" / CHECKPOINTS["mocov3_vit_base"].filename).exists()


def test_a_missing_file_is_reported_with_its_url(server, tmp_path, monkeypatch):
    base, _ = server
    info = dataclasses.replace(CHECKPOINTS["dino_vit_base"], url=f"{base}/missing.pth", google_drive_id=None)
    monkeypatch.setitem(CHECKPOINTS, "dino_vit_base", info)
    with pytest.raises(DownloadError, match="404"):
        load_pretrained("dino_vit_base", cache_dir=tmp_path / "cache", progress=False, **SMALL)
