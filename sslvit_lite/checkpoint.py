"""Checkpoints: atomic writes, safe loads with clear errors, and the pre-trained ViT out of a run.

Layout of a checkpoint written by :mod:`sslvit_lite.train` (a dict saved with ``torch.save``):

- ``model``: the objective's ``state_dict``; the ViT's keys start with ``backbone.``;
- ``config``: :meth:`sslvit_lite.presets.TrainConfig.to_dict` (arch, img_size, patch_size,
  objective, dataset, preset, ...); ``step`` (optimizer steps done); ``total_steps``; ``finished``;
- ``provenance``: :func:`sslvit_lite.provenance.provenance` of the run; ``normalization``: the
  ``mean``/``std`` the training views were normalised with;
- resumable checkpoints (``last.pt``) add ``optimizer``, ``scaler``, ``rng`` (one entry per rank)
  and ``sampler``; the final one (``final.pt``) keeps only what analyses need.

Files are written to a temporary file in the same folder and moved into place with ``os.replace``,
so an interrupted write never leaves a half-written checkpoint under the real name. A run resumes
from ``last.pt`` with :func:`restore_training`: weights, optimizer, scaler, step and every random
stream, so that it ends with the same weights as an uninterrupted run.
"""

from __future__ import annotations

import os
import pickle
import random
import zipfile
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch
from torch import nn

from sslvit_lite.meter import MetricsLog
from sslvit_lite.objectives import build_objective
from sslvit_lite.vit import build_vit

BACKBONE_PREFIX = "backbone."
LAST, FINAL = "last.pt", "final.pt"


class CheckpointError(ValueError):
    """A checkpoint file is missing, corrupt or truncated, is not from sslvit-lite, or does not fit the
    model it is loaded into (also raised for the paper's official files, :mod:`sslvit_lite.pretrained`)."""


def save_atomic(obj: Any, path: str | os.PathLike) -> Path:
    """``torch.save(obj)`` to ``path`` atomically (temporary file in the same folder, fsync, ``os.replace``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict:
    """Load a checkpoint dict (``weights_only``: tensors and plain Python values only).

    Raises :class:`CheckpointError` naming the file when it is missing, truncated or corrupt.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}")
    try:
        blob = torch.load(path, map_location=map_location, weights_only=True)
    except (RuntimeError, EOFError, pickle.UnpicklingError, zipfile.BadZipFile, ValueError, OSError) as err:
        raise CheckpointError(
            f"{path} ({path.stat().st_size:,} bytes) cannot be loaded: it is corrupt, truncated or not an "
            f"sslvit-lite checkpoint ({str(err).splitlines()[0]}). Delete it; a training run then starts "
            "over from scratch.") from err
    if not isinstance(blob, dict) or "model" not in blob or "config" not in blob:
        raise CheckpointError(f"{path} is not an sslvit-lite checkpoint (no 'model' and 'config' entries)")
    return blob


def training_log(checkpoint: str | os.PathLike) -> list[dict]:
    """The loss records a run logged, oldest first; ``[]`` when there is no log.

    The log is ``metrics.jsonl`` beside a run's ``final.pt`` / ``last.pt``, or ``<name>.metrics.jsonl``
    beside an exported checkpoint ``<name>.pt`` (:func:`sslvit_lite.zoo.export_run`). Event records
    (resumes, skipped steps) are left out.
    """
    path = Path(checkpoint)
    log = path.parent / "metrics.jsonl" if path.name in (FINAL, LAST) else path.with_suffix(".metrics.jsonl")
    return [record for record in MetricsLog(log).records() if "loss" in record and "event" not in record]


def find_checkpoint(path: str | os.PathLike) -> Path:
    """A checkpoint file itself, or in a run folder its ``final.pt`` (else ``last.pt``)."""
    path = Path(path)
    if path.is_dir():
        for name in (FINAL, LAST):
            if (path / name).is_file():
                return path / name
        raise CheckpointError(f"run folder {path} holds neither {FINAL} nor {LAST}")
    return path


def backbone_state(model_state: dict) -> dict:
    """The ViT's entries of an objective ``state_dict``, with the ``backbone.`` prefix removed."""
    state = {k[len(BACKBONE_PREFIX):]: v for k, v in model_state.items() if k.startswith(BACKBONE_PREFIX)}
    if not state:
        raise CheckpointError(f"the checkpoint's model has no '{BACKBONE_PREFIX}*' entries")
    return state


def build_backbone(config: Mapping) -> nn.Module:
    """The randomly initialised encoder a run's ``config`` (a :class:`~sslvit_lite.presets.TrainConfig` dict,
    as stored in every checkpoint) describes: its architecture, size and initialisation. Seed torch first
    for a given draw; the random-init controls of the book are built with it."""

    return build_vit(config["arch"], img_size=config["img_size"], patch_size=config["patch_size"],
                     **dict(config.get("vit_kwargs") or {}))


def load_backbone(checkpoint: str | os.PathLike | dict, map_location: str | torch.device = "cpu"
                  ) -> tuple[nn.Module, dict]:
    """The pre-trained ViT of a run (in eval mode) and an info dict.

    ``checkpoint``: a checkpoint file, a run folder (uses ``final.pt``, else ``last.pt``) or an
    already loaded checkpoint dict. ``info`` holds ``config``, ``step``, ``total_steps``,
    ``finished``, ``provenance``, ``normalization`` (the mean/std the views were normalised with)
    and ``path`` (None for a dict).
    """
    path = None
    if not isinstance(checkpoint, dict):
        path = find_checkpoint(checkpoint)
        checkpoint = load_checkpoint(path, map_location)
    config = checkpoint["config"]
    vit = build_backbone(config)
    missing, unexpected = vit.load_state_dict(backbone_state(checkpoint["model"]), strict=False)
    if missing or unexpected:
        raise CheckpointError(f"checkpoint does not match {config['arch']} (missing {missing[:5]}, "
                              f"unexpected {unexpected[:5]})")
    info = {"config": config, "step": checkpoint.get("step"), "total_steps": checkpoint.get("total_steps"),
            "finished": checkpoint.get("finished", False), "provenance": checkpoint.get("provenance", {}),
            "normalization": checkpoint.get("normalization"), "path": str(path) if path else None}
    return vit.to(map_location).eval(), info


def load_objective(checkpoint: str | os.PathLike | dict, map_location: str | torch.device = "cpu") -> nn.Module:
    """The whole trained objective of a run (the ViT with its heads, momentum encoder or decoder), fp32, in
    eval mode. ``checkpoint`` as in :func:`load_backbone`.

    Strict: every weight of the objective must be in the file, so a slim snapshot (backbone only) raises
    :class:`CheckpointError` naming what is missing.
    """

    if not isinstance(checkpoint, dict):
        checkpoint = load_checkpoint(find_checkpoint(checkpoint), map_location)
    config = checkpoint["config"]
    backbone = build_backbone(config)
    objective = build_objective(config["objective"], backbone, **config["hparams"])
    missing, unexpected = objective.load_state_dict(checkpoint["model"], strict=False)  # fp16 files cast to fp32
    if missing or unexpected:
        raise CheckpointError(f"checkpoint does not hold the whole {config['objective']} objective (missing "
                              f"{missing[:5]}, unexpected {unexpected[:5]})")
    return objective.to(map_location).eval()


# ----------------------------------------------------------------------------------------------
# resumable runs: the random streams of a rank, and restoring ``last.pt``


def rng_state(device: torch.device) -> dict:
    """This process's random streams (torch CPU/CUDA, Python, NumPy) in a form ``weights_only`` loads."""
    np_state = np.random.get_state()
    state = {"torch": torch.get_rng_state(), "python": random.getstate(),
             "numpy": {"keys": torch.from_numpy(np_state[1].astype(np.int64)), "pos": int(np_state[2]),
                       "has_gauss": int(np_state[3]), "gauss": float(np_state[4])}}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def set_rng_state(state: dict, device: torch.device) -> None:
    """Restore the streams :func:`rng_state` saved."""
    torch.set_rng_state(state["torch"])
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    n = state["numpy"]
    np.random.set_state(("MT19937", n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["gauss"]))
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)


def resumable(record: dict, optimizer: torch.optim.Optimizer, scaler: torch.amp.GradScaler, sampler,
              rng: list[dict]) -> dict:
    """``record`` (model, config, step, ...) with what resuming needs: optimizer, scaler, sampler and
    the random streams of every rank (``rng``, one :func:`rng_state` per rank)."""
    return {**record, "finished": False, "optimizer": optimizer.state_dict(), "scaler": scaler.state_dict(),
            "rng": rng, "sampler": sampler.state_dict()}


def restore_training(checkpoint: dict, path: str | os.PathLike, objective: nn.Module,
                     optimizer: torch.optim.Optimizer, scaler: torch.amp.GradScaler, sampler, total_steps: int,
                     rank: int, world_size: int, device: torch.device) -> tuple[int, bool]:
    """Load a :func:`resumable` checkpoint into a run being set up; returns (step, random streams restored).

    Refuses, naming ``path``, a checkpoint of another schedule or data (another data root or subset);
    the world size may change, but then the random streams restart (returned False).
    """
    objective.load_state_dict(checkpoint["model"])
    optimizer.load_state_dict(checkpoint["optimizer"])
    if checkpoint["scaler"] and scaler.is_enabled():  # a bf16/fp32 run saves an empty scaler state
        scaler.load_state_dict(checkpoint["scaler"])
    data_keys = ("n", "batch_size", "seed")
    saved, now = ({k: s[k] for k in data_keys} for s in (checkpoint["sampler"], sampler.state_dict()))
    if int(checkpoint["total_steps"]) != total_steps or saved != now:
        raise ValueError(f"{path} was written for {checkpoint['total_steps']:,} steps over {saved}, this run has "
                         f"{total_steps:,} steps over {now}: the data changed (another data root or subset?); "
                         "use another out_dir")
    same_world = len(checkpoint["rng"]) == world_size
    if same_world:
        set_rng_state(checkpoint["rng"][rank], device)
    return int(checkpoint["step"]), same_world
