"""Downloading the official checkpoints (sslvit_lite.download), against a fake web: nothing leaves this machine."""

import hashlib
import socket
import urllib.error

import pytest
import torch

from official_stand_ins import SMALL, FakeWeb, fake_entry, save_stand_in
from sslvit_lite import download as downloads
from sslvit_lite.download import DownloadError, default_cache_dir, download, drive_confirm_url
from sslvit_lite.official import CHECKPOINTS, load_official, load_pretrained


def test_download_resumes_after_an_interruption(tmp_path, monkeypatch):
    path, enc = save_stand_in(tmp_path, "mocov3_vit_small")
    body = path.read_bytes()
    info, web = fake_entry(monkeypatch, "mocov3_vit_small", body, sha256=hashlib.sha256(body).hexdigest())
    web.drop_first_after = len(body) // 3
    cache = tmp_path / "cache"
    with pytest.raises(DownloadError, match=f"bytes received so far are kept in .*{info.filename}.part.*resume"):
        download("mocov3_vit_small", cache_dir=cache, progress=False)
    part = cache / (info.filename + ".part")
    assert part.stat().st_size == len(body) // 3 and not (cache / info.filename).exists()

    target = download("mocov3_vit_small", cache_dir=cache, progress=False)
    assert web.requests[-1] == (info.url, f"bytes={len(body) // 3}-")
    assert target == cache / info.filename and target.read_bytes() == body and not part.exists()
    model = load_official("mocov3_vit_small", target, **SMALL)
    torch.testing.assert_close(model.cls_token, enc["cls_token"])


def test_complete_part_file_is_finished_without_downloading_again(tmp_path, monkeypatch):
    body = b"PK\x03\x04" + b"x" * 1000
    info, web = fake_entry(monkeypatch, "dino_vit_base", body)
    (tmp_path / (info.filename + ".part")).write_bytes(body)
    assert download("dino_vit_base", cache_dir=tmp_path, progress=False).read_bytes() == body
    assert web.requests == [(info.url, f"bytes={len(body)}-")]  # answered 416: already complete


def test_wrong_sha256_is_refused_and_deleted(tmp_path, monkeypatch):
    info, _ = fake_entry(monkeypatch, "mae_vit_base", b"PK\x03\x04 corrupted", sha256="0" * 64)
    with pytest.raises(DownloadError, match="SHA-256 .* expected 0000"):
        download("mae_vit_base", cache_dir=tmp_path, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_html_page_instead_of_a_checkpoint_is_refused(tmp_path, monkeypatch):
    fake_entry(monkeypatch, "mae_vit_base", b"<!DOCTYPE html><html>Sign in</html>")
    with pytest.raises(DownloadError, match="not a torch checkpoint .*HTML page"):
        download("mae_vit_base", cache_dir=tmp_path, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_offline_download_says_which_url_and_how_to_place_the_file(tmp_path, monkeypatch):
    def offline(request, timeout=None):
        raise urllib.error.URLError(socket.gaierror(-3, "Temporary failure in name resolution"))

    monkeypatch.setattr(downloads, "_urlopen", offline)
    info = CHECKPOINTS["mocov3_vit_base"]
    with pytest.raises(DownloadError) as err:
        load_pretrained("mocov3_vit_base", cache_dir=tmp_path, progress=False)
    message = str(err.value)
    for expected in (info.url, "seems to be offline", str(tmp_path / info.filename), "load_official("):
        assert expected in message
    assert list(tmp_path.iterdir()) == []


def test_http_error_is_reported_with_the_url(tmp_path, monkeypatch):
    monkeypatch.setattr(downloads, "_urlopen", FakeWeb({}))
    with pytest.raises(DownloadError, match="dino_vitbase16_pretrain.pth answered HTTP 404"):
        download("dino_vit_base", cache_dir=tmp_path, progress=False)


def test_cached_file_is_used_without_network(tmp_path, monkeypatch):
    def no_network(request, timeout=None):
        raise AssertionError("the network was used")

    monkeypatch.setattr(downloads, "_urlopen", no_network)
    monkeypatch.setenv("SSLVIT_CACHE", str(tmp_path))
    assert default_cache_dir() == tmp_path / "checkpoints"
    target = tmp_path / "checkpoints" / CHECKPOINTS["mae_vit_base"].filename
    target.parent.mkdir()
    target.write_bytes(b"placed by hand")
    assert download("mae_vit_base") == target


DRIVE_WARNING_PAGE = """<!DOCTYPE html><html><head><title>Google Drive - Virus scan warning</title></head><body>
<div class="uc-main"><div id="uc-text"><p class="uc-warning-caption">Google Drive can't scan this file for
viruses.</p><p class="uc-warning-subcaption"><span class="uc-name-size"><a href="/open?id={id}">simmim.pth</a>
(345M)</span> is too large for Google to scan for viruses. Would you still like to download this file?</p>
<form id="download-form" action="https://drive.usercontent.google.com/download" method="get">
<input type="submit" id="uc-download-link" class="goog-inline-block jfk-button" value="Download anyway"/>
<input type="hidden" name="id" value="{id}"><input type="hidden" name="export" value="download">
<input type="hidden" name="confirm" value="t"><input type="hidden" name="uuid" value="4d1c-&amp;-9f"></form>
</div></div></body></html>"""


def test_google_drive_virus_scan_page_is_answered(tmp_path, monkeypatch):
    drive_id = CHECKPOINTS["simmim_vit_base"].google_drive_id
    body = b"PK\x03\x04 simmim weights"
    confirm = ("https://drive.usercontent.google.com/download"
               f"?id={drive_id}&export=download&confirm=t&uuid=4d1c-%26-9f")
    web = FakeWeb({
        f"https://drive.google.com/uc?export=download&id={drive_id}":
            (DRIVE_WARNING_PAGE.replace("{id}", drive_id).encode(), "text/html; charset=utf-8"),
        confirm: (body, "application/octet-stream"),
    })
    monkeypatch.setattr(downloads, "_urlopen", web)
    target = download("simmim_vit_base", cache_dir=tmp_path, progress=False)
    assert target.read_bytes() == body and web.requests[-1] == (confirm, None)


def test_drive_confirm_url_old_link_and_quota_page():
    old = '<a id="uc-download-link" href="/uc?export=download&amp;confirm=AbCd&amp;id=XYZ">Download anyway</a>'
    assert drive_confirm_url(old, base="https://drive.google.com/uc?export=download&id=XYZ") == \
        "https://drive.google.com/uc?export=download&confirm=AbCd&id=XYZ"
    quota = ('<p class="uc-error-caption">Sorry, you can\'t view or download this file at this time.</p>'
             '<p class="uc-error-subcaption">Too many users have viewed or downloaded this file recently.</p>')
    with pytest.raises(DownloadError, match="Too many users have viewed or downloaded this file recently"):
        drive_confirm_url(quota)


def test_mae_download_is_checked_against_its_published_md5_prefix(tmp_path, monkeypatch):
    assert CHECKPOINTS["mae_vit_base"].md5_prefix == "8cad7c"
    body = b"PK\x03\x04 not the published file"
    fake_entry(monkeypatch, "mae_vit_base", body)
    with pytest.raises(DownloadError, match="MD5 .* upstream publishes 8cad7c"):
        download("mae_vit_base", cache_dir=tmp_path, progress=False)
    assert list(tmp_path.iterdir()) == []
    fake_entry(monkeypatch, "mae_vit_base", body, md5_prefix=hashlib.md5(body).hexdigest()[:6])
    assert download("mae_vit_base", cache_dir=tmp_path, progress=False).read_bytes() == body
