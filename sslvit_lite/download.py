"""Downloading the official checkpoints of :mod:`sslvit_lite.official` into a local cache.

Files go to ``$SSLVIT_CACHE/checkpoints`` (default ``~/.cache/sslvit_lite/checkpoints``), are
fetched to ``<file>.part`` and resumed from there with HTTP Range requests, are checked against
the digest upstream publishes (a SHA-256 where there is one; the MD5 prefix of MAE's README) and
that they look like a torch file rather than an HTML page, then renamed into place atomically.
SimMIM lives on Google Drive, whose virus-scan page for large files is answered with urllib (no
gdown). Every failure is a :class:`DownloadError` that names the URL and says where to put the file
by hand.
"""

from __future__ import annotations

import hashlib
import html
import http.client
import os
import re
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from sslvit_lite.registry import CheckpointInfo, checkpoint_info


class DownloadError(OSError):
    """A checkpoint that could not be downloaded (offline, HTTP error, interrupted, wrong digest)."""


_USER_AGENT = "Mozilla/5.0 (compatible; sslvit-lite checkpoint downloader; +python-urllib)"
_CHUNK = 1 << 20
_TIMEOUT_S = 60
_OPENER = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())  # Drive sets a cookie


def _urlopen(request: urllib.request.Request, timeout: float = _TIMEOUT_S):
    """The one place that touches the network (tests replace it)."""
    return _OPENER.open(request, timeout=timeout)


def default_cache_dir() -> Path:
    """``$SSLVIT_CACHE/checkpoints``, by default ``~/.cache/sslvit_lite/checkpoints``."""
    root = Path(os.environ.get("SSLVIT_CACHE") or Path.home() / ".cache" / "sslvit_lite")
    return root / "checkpoints"


def download(name: str, cache_dir: str | os.PathLike | None = None, progress: bool = True) -> Path:
    """Path of the official file of ``name`` in the cache, downloading it first if it is absent.

    The download is written to ``<file>.part`` and resumed from there with an HTTP Range request
    if a previous attempt was interrupted; it is checked (SHA-256 where published, and that it
    looks like a torch file rather than an HTML page) before an atomic rename. Raises a
    DownloadError that names the URL and says where to place the file by hand.
    """
    info = checkpoint_info(name)
    target = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    target = target / info.filename
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_name(target.name + ".part")
    url = info.url
    try:
        if info.google_drive_id:
            url = f"https://drive.google.com/uc?export=download&id={info.google_drive_id}"
            url = _resolve_google_drive(url)
        _fetch(url, part, progress=progress, label=name)
    except DownloadError as err:
        raise DownloadError(f"{name}: {err} " + _by_hand(info, target)) from err
    except urllib.error.HTTPError as err:
        raise DownloadError(f"{name}: {url} answered HTTP {err.code} {err.reason}. "
                            + _by_hand(info, target)) from err
    except (urllib.error.URLError, ConnectionError, TimeoutError, http.client.HTTPException) as err:
        kept = (f" The {part.stat().st_size:,} bytes received so far are kept in {part}; run again to resume."
                if part.is_file() else "")
        raise DownloadError(f"{name}: could not download {url} ({type(err).__name__}: {err}). This machine seems "
                            f"to be offline or cannot reach the host.{kept} {_by_hand(info, target)}") from err
    _check_payload(part, url, info, target)
    os.replace(part, target)
    return target


def _by_hand(info: CheckpointInfo, target: Path) -> str:
    return (f"To install it by hand, download {info.url} on a machine with internet access and place it at "
            f"{target} (or set SSLVIT_CACHE, or pass cache_dir=), or load it directly with "
            f"load_official({info.name!r}, path).")


def _request(url: str, offset: int = 0) -> urllib.request.Request:
    headers = {"User-Agent": _USER_AGENT}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    return urllib.request.Request(url, headers=headers)


def _fetch(url: str, part: Path, progress: bool, label: str) -> None:
    """Append the rest of ``url`` to ``part`` (Range request when ``part`` holds a prefix)."""
    offset = part.stat().st_size if part.is_file() else 0
    try:
        response = _urlopen(_request(url, offset))
    except urllib.error.HTTPError as err:
        if err.code != 416 or not offset:
            raise
        if ((err.headers or {}).get("Content-Range") or "").endswith(f"/{offset}"):
            return  # the .part already holds the whole file
        part.unlink()
        offset, response = 0, _urlopen(_request(url))
    with response:
        start, total = _served_range(response)
        if start not in (0, offset):
            raise http.client.HTTPException(f"asked for bytes {offset}- of {url}, got bytes {start}-")
        with open(part, "ab" if start else "wb") as out, tqdm(
            total=total, initial=start, unit="B", unit_scale=True, desc=label, disable=not progress
        ) as bar:
            while chunk := response.read(_CHUNK):
                out.write(chunk)
                bar.update(len(chunk))
    size = part.stat().st_size
    if total is not None and size != total:
        raise ConnectionError(f"connection closed after {size:,} of {total:,} bytes")


def _served_range(response: Any) -> tuple[int, int | None]:
    """(first byte served, total file size or None): a 206 continues the .part, a 200 restarts it."""
    if getattr(response, "status", 200) != 206:
        length = response.headers.get("Content-Length")
        return 0, int(length) if length is not None else None
    content_range = (response.headers.get("Content-Range") or "").strip()
    match = re.fullmatch(r"bytes (\d+)-\d+/(\d+|\*)", content_range)
    if not match:
        raise http.client.HTTPException(f"partial response with unusable Content-Range {content_range!r}")
    return int(match.group(1)), int(match.group(2)) if match.group(2) != "*" else None


def _check_payload(part: Path, url: str, info: CheckpointInfo, target: Path) -> None:
    """Refuse an HTML page or a file with the wrong digest before it reaches the cache."""
    with open(part, "rb") as f:
        head = f.read(4)
    if not (head.startswith(b"PK\x03\x04") or head[:1] == b"\x80"):  # torch zip, or legacy pickle
        part.unlink()
        raise DownloadError(f"{info.name}: {url} sent something that is not a torch checkpoint "
                            f"(it starts with {head!r}; an HTML page?). " + _by_hand(info, target))
    if info.sha256:
        digest = _digest(part)
        if digest != info.sha256.lower():
            part.unlink()
            raise DownloadError(f"{info.name}: SHA-256 of the file from {url} is {digest}, expected "
                                f"{info.sha256}; the download was corrupted or the file changed upstream. "
                                "It was deleted; run again.")
    if info.md5_prefix:
        digest = _digest(part, hashlib.md5)
        if not digest.startswith(info.md5_prefix.lower()):
            part.unlink()
            raise DownloadError(f"{info.name}: MD5 of the file from {url} is {digest}, but upstream publishes "
                                f"{info.md5_prefix}…; the download was corrupted or the file changed upstream. "
                                "It was deleted; run again.")


def _digest(path: Path, algorithm=hashlib.sha256) -> str:
    digest = algorithm()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _resolve_google_drive(url: str) -> str:
    """The direct download URL behind a Google Drive ``uc?export=download&id=...`` link.

    Small files come straight back. For large files Drive first answers with an HTML page
    ("can't scan this file for viruses") holding a form (``download-form``, its action plus
    hidden inputs such as ``confirm``) or, on older pages, a ``/uc?...confirm=...`` link; the
    confirm URL is built from the page (see :func:`drive_confirm_url`).
    """
    with _urlopen(_request(url)) as response:
        if not response.headers.get("Content-Type", "").startswith("text/html"):
            return response.geturl()
        page = response.read().decode("utf-8", errors="replace")
    return drive_confirm_url(page, base=url)


def drive_confirm_url(page: str, base: str = "https://drive.google.com/uc") -> str:
    """The "download anyway" URL of a Google Drive warning page; a DownloadError if it has none."""
    form = re.search(r'<form([^>]*\bid="download-form"[^>]*)>(.*?)</form>', page, re.S)
    if form:
        action = _attributes(form.group(1)).get("action")
        inputs = [_attributes(tag) for tag in re.findall(r"<input([^>]*)>", form.group(2))]
        fields = [(a["name"], a.get("value", "")) for a in inputs if a.get("type") == "hidden" and "name" in a]
        if action:
            return f"{urllib.parse.urljoin(base, action)}?{urllib.parse.urlencode(fields)}"
    link = re.search(r'href="(/uc\?export=download[^"]*confirm=[^"]+)"', page)
    if link:
        return urllib.parse.urljoin(base, html.unescape(link.group(1)))
    error = re.search(r'class="uc-error-subcaption">(.*?)<', page, re.S)
    reason = html.unescape(error.group(1)).strip() if error else "the page has no download link"
    raise DownloadError(f"Google Drive did not serve the file: {reason}. (Drive limits downloads of "
                        "popular files per day; try later, or download it in a browser.)")


def _attributes(tag: str) -> dict[str, str]:
    """name="value" attributes of an HTML tag body, unescaped."""
    return {k: html.unescape(v) for k, v in re.findall(r'([\w-]+)="([^"]*)"', tag)}
