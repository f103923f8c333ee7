"""One naming rule for runs: training folders, exported checkpoints and the keys of the results files.

A name lists what tells the run apart, in a fixed order, each part only when it is given:
``objective[-dataset][-preset][-data source][-lamλ][-seedS]``. For example ``mocov3-cifar10-cpu``
(a run folder of ``train``), ``hybrid-cifar10-cpu-lam0.2`` (a point of the λ sweep),
``mocov3-seed1`` (a run of ``reproduce`` and its key in ``evaluation.json``) and
``mocov3-cifar10-seed1.pt`` (its exported checkpoint; seed 0 is left out there, so that the
checkpoint every chapter loads is simply ``mocov3-cifar10.pt``).
"""

from __future__ import annotations

from pathlib import Path


def run_name(objective: str, *, dataset: str | None = None, preset: str | None = None,
             data_source: str | None = None, lam: float | None = None, seed: int | None = None) -> str:
    """The name of a run (see the module docstring); ``dataset`` may be a folder (its last part is used)."""
    if not objective or "-" in objective:
        raise ValueError(f"an objective name without '-' is needed, got {objective!r}")
    parts = [objective, Path(dataset).name if dataset else None, preset, data_source,
             None if lam is None else f"lam{float(lam):g}", None if seed is None else f"seed{int(seed)}"]
    return "-".join(part for part in parts if part)


def checkpoint_name(objective: str, dataset: str, *, lam: float | None = None, seed: int = 0) -> str:
    """The file name of an exported run: ``mocov3-cifar10.pt`` for seed 0 of a pure objective,
    ``mocov3-cifar10-seed1.pt``, ``hybrid-cifar10-lam0.2-seed0.pt``."""
    plain = lam is None and seed == 0
    return run_name(objective, dataset=dataset, lam=lam, seed=None if plain else seed) + ".pt"
