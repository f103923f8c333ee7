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
PLAIN_DEFAULTS = {"arch": "vit_tiny", "img_size": 32, "patch_size": 4}  # a plain state dict, nothing given


class CheckpointError(ValueError):
    """A checkpoint file is missing, corrupt or truncated, is not from sslvit-lite, or does not fit the
    model it is loaded into (also raised for the paper's official files, :mod:`sslvit_lite.official`)."""


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


def _read(path: Path, map_location: str | torch.device) -> Any:
    """``torch.load`` (``weights_only``: tensors and plain Python values only) with a clear error."""
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except (RuntimeError, EOFError, pickle.UnpicklingError, zipfile.BadZipFile, ValueError, OSError) as err:
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise CheckpointError(
            f"{path} ({path.stat().st_size:,} bytes) cannot be loaded: it is corrupt, truncated or not an "
            f"sslvit-lite checkpoint ({first}). Delete it; a training run then starts over from scratch.") from err


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict:
    """Load a checkpoint dict written by the engine.

    Raises :class:`CheckpointError` naming the file when it is missing, truncated, corrupt or not one.
    """
    path = Path(path)
    blob = _read(path, map_location)
    if not isinstance(blob, dict) or "model" not in blob or "config" not in blob:
        raise CheckpointError(f"{path} is not an sslvit-lite checkpoint (no 'model' and 'config' entries)")
    return blob


def training_log(checkpoint: str | os.PathLike) -> list[dict]:
    """The loss records a run logged, oldest first; ``[]`` when there is no log.

    The log is ``metrics.jsonl`` beside a run's ``final.pt`` / ``last.pt``, or ``<name>.metrics.jsonl``
    beside an exported checkpoint ``<name>.pt`` (:func:`sslvit_lite.saved_runs.export_run`). Event records
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


def load_state_dict_strict(model: nn.Module, state: Mapping[str, torch.Tensor], source: str = "") -> None:
    """Load ``state`` into ``model`` or raise a CheckpointError naming the missing, unexpected
    and wrongly shaped keys (the first 12 of each, missing and mis-shaped ones in model order).

    A relative position index the model computes itself is taken from the model when the file has
    none: timm saves BEiT's ``relative_position_index`` as a persistent buffer up to 1.0.22 and as a
    non-persistent one since, so either layout loads.
    """
    not_tensors = sorted(k for k, v in state.items() if not isinstance(v, torch.Tensor))
    if not_tensors:
        raise CheckpointError(f"checkpoint {source} holds non-tensor entries where weights belong: "
                              f"{', '.join(not_tensors[:12])}")
    expected = model.state_dict()
    computed = {k: v for k, v in expected.items() if k.endswith("relative_position_index") and k not in state}
    state = {**state, **computed}
    missing = [k for k in expected if k not in state]
    unexpected = sorted(set(state) - set(expected))
    mismatched = [f"{k}: file {tuple(state[k].shape)} vs model {tuple(v.shape)}"
                  for k, v in expected.items() if k in state and tuple(state[k].shape) != tuple(v.shape)]
    problems = [(label, keys) for label, keys in
                (("missing", missing), ("unexpected", unexpected), ("wrong shape", mismatched)) if keys]
    if problems:
        lines = [f"  {label} ({len(keys)}): {', '.join(keys[:12])}{' ...' if len(keys) > 12 else ''}"
                 for label, keys in problems]
        raise CheckpointError(f"checkpoint {source} does not fit {type(model).__name__}:\n" + "\n".join(lines))
    model.load_state_dict(state, strict=True)


def vit_state(state: Mapping[str, torch.Tensor]) -> dict:
    """A timm ViT state dict out of an objective's or a wrapped model's: the ``backbone.`` part when there is
    one, ``module.`` (DDP) and ``_orig_mod.`` (torch.compile) prefixes stripped, a classifier ``head`` dropped."""
    if any(k.startswith(BACKBONE_PREFIX) for k in state):
        state = backbone_state(dict(state))
    cleaned = {}
    for key, value in state.items():
        while key.startswith(("_orig_mod.", "module.")):
            key = key.split(".", 1)[1]
        if not key.startswith("head."):
            cleaned[key] = value
    return cleaned


def load_backbone(checkpoint: str | os.PathLike | dict, map_location: str | torch.device = "cpu", *,
                  arch: str | None = None, img_size: int | None = None, patch_size: int | None = None,
                  vit_kwargs: Mapping | None = None) -> tuple[nn.Module, dict]:
    """The pre-trained ViT in a file (in eval mode) and an info dict: the one loader for backbones.

    ``checkpoint``: a checkpoint file, a run folder (uses ``final.pt``, else ``last.pt``) or an already
    loaded dict. It may be a checkpoint of the engine (``model`` with ``backbone.`` keys and ``config``)
    or a plain ViT state dict (``torch.save(vit.state_dict())``, also under a ``state_dict`` key;
    ``module.``/``_orig_mod.`` prefixes and a ``head`` are tolerated). A plain state dict is built as
    ``arch`` / ``img_size`` / ``patch_size`` / ``vit_kwargs`` (default ``vit_tiny``, 32 px, patch 4); for an
    engine checkpoint these may be given only when they agree with its config (else ValueError).

    ``info`` holds ``config`` (``{}`` for a plain state dict), ``kind``, ``arch``, ``img_size``,
    ``patch_size``, ``step``, ``total_steps``, ``finished``, ``provenance``, ``normalization`` and ``path``
    (None for a dict). A missing, unreadable or non-fitting file raises :class:`CheckpointError`.
    """
    path = None
    if not isinstance(checkpoint, dict):
        path = find_checkpoint(checkpoint)
        checkpoint = _read(path, map_location)
        if not isinstance(checkpoint, dict):
            raise CheckpointError(f"{path} holds a {type(checkpoint).__name__}, not a state dict or checkpoint")
    source = str(path) if path else "dict"
    config = checkpoint["config"] if isinstance(checkpoint.get("config"), dict) else {}
    given = {"arch": arch, "img_size": img_size, "patch_size": patch_size}
    conflicts = [f"{k}={config[k]!r} in the checkpoint but {v!r} requested" for k, v in given.items()
                 if v is not None and k in config and config[k] != v]
    stored_kwargs = dict(config.get("vit_kwargs") or {})
    if vit_kwargs and stored_kwargs and dict(vit_kwargs) != stored_kwargs:
        conflicts.append(f"vit_kwargs={stored_kwargs!r} in the checkpoint but {dict(vit_kwargs)!r} requested")
    if conflicts:
        raise ValueError(f"{source}: " + "; ".join(conflicts))
    settings = {k: v if v is not None else config.get(k, PLAIN_DEFAULTS[k]) for k, v in given.items()}
    if isinstance(checkpoint.get("model"), dict):
        state, kind = checkpoint["model"], "training checkpoint"
    elif isinstance(checkpoint.get("state_dict"), dict):
        state, kind = checkpoint["state_dict"], "checkpoint with state_dict"
    else:
        state, kind = checkpoint, "state dict"
    vit = build_backbone({**settings, "vit_kwargs": stored_kwargs or dict(vit_kwargs or {})})
    load_state_dict_strict(vit, vit_state(state), source=source)  # fp16 files are cast to the model's fp32
    info = {"config": config, "kind": kind, **settings, "step": checkpoint.get("step"),
            "total_steps": checkpoint.get("total_steps"), "finished": checkpoint.get("finished", False),
            "provenance": checkpoint.get("provenance", {}), "normalization": checkpoint.get("normalization"),
            "path": str(path) if path else None}
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
                     rank: int, world_size: int, device: torch.device) -> tuple[int, int]:
    """Load a :func:`resumable` checkpoint into a run being set up; returns (step, number of processes that
    wrote it).

    Refuses, naming ``path``, a checkpoint of another schedule or data (another data root or subset);
    the world size may change, but then the random streams are not restored and restart.
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
    writers = len(checkpoint["rng"])
    if writers == world_size:
        set_rng_state(checkpoint["rng"][rank], device)
    return int(checkpoint["step"]), writers
