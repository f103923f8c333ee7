"""Where a number or a figure came from: commit, device, library versions, time.

Every figure or number shown in the book carries :func:`provenance_caption` of the run that
made it (design rule "honest results").
"""

from __future__ import annotations

import datetime as _dt
import platform
import re
import subprocess
from pathlib import Path

import torch

import sslvit_lite


def git_commit(path: str | Path | None = None) -> str:
    """Short commit of the checkout holding ``path`` (default: this package), "+dirty" if modified."""
    where = Path(path or Path(sslvit_lite.__file__).parent)
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=where, capture_output=True,
                                text=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=where,
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return commit + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return f"unknown (sslvit_lite {sslvit_lite.__version__}, not a git checkout)"


def device_name(device: str | torch.device | None = None) -> str:
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"CPU ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"


def provenance(device: str | torch.device | None = None, **extra) -> dict:
    """A JSON-serialisable record of the run: commit, device, versions, UTC time, plus ``extra``."""
    import timm

    return {
        "commit": git_commit(),
        "device": device_name(device),
        "torch": str(torch.__version__),
        "timm": timm.__version__,
        "sslvit_lite": sslvit_lite.__version__,
        "time_utc": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M"),
        **extra,
    }


def without_paths(text: str) -> str:
    """``text`` without the file locations of the machine that wrote it: "cifar10 test, from
    /data/cifar10/cifar10-test.zip, subset of 512" → "cifar10 test, subset of 512"."""
    return re.sub(r",? from (?:/|[A-Za-z]:\\)[^,;)\s]*", "", str(text))


def strip_paths(value):
    """``value`` (JSON-like: dicts, lists, strings, numbers) with :func:`without_paths` applied to every string."""
    if isinstance(value, dict):
        return {key: strip_paths(item) for key, item in value.items()}
    if isinstance(value, list):
        return [strip_paths(item) for item in value]
    return without_paths(value) if isinstance(value, str) else value


def provenance_caption(record: dict) -> str:
    """One short line for a figure caption, e.g. "preset cpu · 1200 steps · 1.54 epochs · cifar10 train ·
    CPU (x86_64, 2 threads) · commit abc123". File locations of the machine that made the run are left out."""
    parts = []
    for key in ("preset", "objective", "steps", "epochs", "data", "images"):
        if key in record:
            value = record[key]
            if key == "data":
                value = without_paths(value)
            parts.append(f"{value} {key}" if key in ("epochs", "steps", "images") else
                         (value if key in ("objective", "data") else f"{key} {value}"))
    parts += [record.get("device", "device unknown"), f"commit {record.get('commit', 'unknown')}"]
    return " · ".join(str(p) for p in parts)
