"""Pre-trained backbones for the analysis chapters: saved results first, fresh training otherwise.

A chapter that compares CL and MIM needs a trained ViT per objective. The book commits slim
checkpoints of real runs under ``results/laptop/checkpoints/`` (weights + config + provenance, no
optimizer), trained on 2 CPU cores by :mod:`sslvit_lite.reproduce`. :func:`trained_backbone` loads such a file when it
exists and the caller allows it, and otherwise trains with the engine at the requested preset
(seconds for ``smoke``), so every code path also runs on a laptop or in CI.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from torch import nn

from sslvit_lite.checkpoint import load_backbone, load_checkpoint, save_atomic
from sslvit_lite.naming import checkpoint_name, run_name
from sslvit_lite.presets import get_preset
from sslvit_lite.train import pretrain

# The committed results the chapters use by default: the laptop preset's runs, written by
# `python -m sslvit_lite reproduce --preset cpu --out results/laptop`.
RESULTS_DIR = Path(__file__).resolve().parents[1] / "results" / "laptop"


def saved_checkpoint_path(objective: str, dataset: str = "cifar10", results_dir: str | os.PathLike | None = None) -> Path:
    """The committed checkpoint of seed 0 of ``objective``, e.g. ``results/laptop/checkpoints/mocov3-cifar10.pt``."""
    return Path(results_dir or RESULTS_DIR) / "checkpoints" / checkpoint_name(objective, dataset)


def export_run(run_checkpoint: str | os.PathLike, dest: str | os.PathLike, half: bool = True) -> Path:
    """Write the slim, committable form of a finished run: model weights, config, provenance.

    The optimizer, scaler and RNG states are dropped; the whole objective is kept (MAE's decoder is
    needed for its Fourier analysis). ``half`` stores weights as fp16, cast back when loaded. The
    run's ``metrics.jsonl`` is copied beside it as ``<objective>-<dataset>.metrics.jsonl``.
    """
    ckpt = load_checkpoint(run_checkpoint)
    if not ckpt.get("finished", False):
        raise ValueError(f"{run_checkpoint} is not a finished run; export only finished runs")
    slim = {key: ckpt.get(key) for key in ("config", "step", "total_steps", "finished", "provenance")}
    slim["model"] = {k: (v.half() if half and v.is_floating_point() else v) for k, v in ckpt["model"].items()}
    dest = save_atomic(slim, dest)
    log = Path(run_checkpoint).with_name("metrics.jsonl")
    if log.is_file():  # the loss curve travels with the weights: <dest stem>.metrics.jsonl
        shutil.copyfile(log, dest.with_suffix(".metrics.jsonl"))
    return dest


def trained_backbone(
    objective: str,
    preset: str = "smoke",
    dataset: str = "cifar10",
    data_source: str = "auto",
    prefer_saved: bool = True,
    results_dir: str | os.PathLike | None = None,
    runs_dir: str | os.PathLike = "runs",
    progress: bool = False,
    **overrides,
) -> tuple[nn.Module, dict]:
    """A pre-trained ViT for ``objective`` and an info dict saying where it came from.

    ``info["origin"]`` is "saved" (a committed real run) or "trained now"; ``info["provenance"]``
    and ``info["config"]`` describe the run (preset, epochs, device, commit).
    """
    saved = saved_checkpoint_path(objective, dataset, results_dir)
    if prefer_saved and saved.is_file():
        vit, info = load_backbone(saved)
        vit.float()
        info["origin"] = f"saved run {saved.name}"
    else:
        # one folder per resolved preset and data source, so a smoke run on the sample never
        # collides with a run on the real data
        out = Path(runs_dir) / run_name(objective, dataset=dataset, preset=get_preset(preset).name,
                                        data_source=data_source)
        final = pretrain(objective, dataset=dataset, preset=preset, out_dir=out, data_source=data_source,
                         progress=progress, **overrides)
        vit, info = load_backbone(final)
        info["origin"] = f"trained now ({out})"
    return vit.eval(), info
