"""Evaluation sweeps: probes over blocks (Fig 10) and the CL + MIM hybrid over λ (Fig 12).

Park et al. (ICLR 2023) evaluate their models in two sweeps that this module runs end to end:

- **over blocks** (Fig 10): a kNN classifier and a linear probe on the frozen
  features of every block, pooled by the CLS token or by the mean of the patch tokens
  (:func:`block_probes`);
- **over λ** (Fig 12): the hybrid L = (1 − λ)·L_SimMIM + λ·L_MoCo is pre-trained for several
  λ (:func:`train_point`, the engine's ``pretrain("hybrid", hparams={"lam": λ})``); each backbone is
  probed and optionally fine-tuned on its last block (:func:`evaluate_backbone`) and analysed per
  depth (NMI, Fourier Δ, attention distance, :func:`sslvit_lite.analyze.compute_metrics`).
  :func:`hybrid_sweep` returns a JSON-able table (schema :data:`SCHEMA`)::

      {"schema", "dataset", "preset", "data_source", "lambdas", "evaluation": {settings},
       "points": [{"lambda", "knn", "linear_probe", "fine_tune" (top-1 %, or None),
                   "metrics": {"nmi": [[per head] per block], "fourier_delta": [per depth 0..L],
                               "attention_distance": [[px per head] per block]},
                   "log": [training-log records], "train_seconds", "eval_seconds",
                   "config", "provenance", "origin"}],
       "random_init": {"knn", "linear_probe", "metrics"},   # the control: a random-init encoder
       "provenance": {...}}

  :func:`claims_results` turns it into the input of :mod:`sslvit_lite.claims` (claims 15, 16).

The probes' labelled images come from :func:`sslvit_lite.probing.evaluation_split`. The paper's recipe for the Fig 12
probes is not published; the last block's CLS token after the final norm (MoCo v3's and MAE's
linear evaluation) is the default here.

Command line (a GPU run commits its table under ``results/``)::

    python -m sslvit_lite.sweep --preset cifar10-h100 --finetune-epochs 30
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from pathlib import Path
from typing import Sequence

import torch
from torch import nn

from sslvit_lite.data import ImageDataset
from sslvit_lite.probing import (POOLS, evaluation_split, extract_features, finetune, knn_accuracy,
                                  linear_probe_accuracy)

SCHEMA = "sslvit_lite.sweep/1"
DEFAULT_LAMBDAS = (0.0, 0.2, 0.4, 0.6, 1.0)
ANALYSIS_KEYS = ("nmi", "fourier_delta", "attention_distance")
LOG_KEYS = ("step", "epoch", "loss", "loss_simmim", "loss_mocov3", "positive_cosine")


# --------------------------------------------------------------------------- probes


def _check_pool(pool: str) -> None:
    if pool not in POOLS:
        raise ValueError(f"unknown pool {pool!r}; valid: {', '.join(POOLS)}")


def _percent(x: float) -> float:
    return round(100.0 * x, 2)


def _probe_scores(train_features: torch.Tensor, test_features: torch.Tensor, train: ImageDataset,
                  test: ImageDataset, knn_k: int, probe_epochs: int, seed: int, device: torch.device) -> tuple[float, float]:
    """(kNN, linear probe) top-1 % on one pair of (N, C) feature sets, computed on ``device``."""
    knn = knn_accuracy(train_features, train.labels, test_features, test.labels, k=min(knn_k, len(train)),
                       device=device)
    probe = linear_probe_accuracy(train_features, train.labels, test_features, test.labels,
                                  epochs=probe_epochs, seed=seed, device=device)
    return _percent(knn), _percent(probe)


def block_probes(
    vit: nn.Module,
    train: ImageDataset,
    test: ImageDataset,
    mean: Sequence[float],
    std: Sequence[float],
    pools: Sequence[str] = POOLS,
    knn_k: int = 20,
    probe_epochs: int = 100,
    seed: int = 0,
) -> dict[str, dict[str, list[float]]]:
    """kNN and linear-probe top-1 % on every block's output (no final norm) of a timm ViT (Fig 10).

    Returns ``{pool: {"knn": [% per block 1..L], "linear_probe": [% per block 1..L]}}``.
    """
    for pool in pools:
        _check_pool(pool)
    depth, device = len(vit.blocks), next(vit.parameters()).device
    out = {}
    for pool in pools:
        feats_train = extract_features(vit, train.images, mean, std, pool=pool)  # {l: (N, C)}
        feats_test = extract_features(vit, test.images, mean, std, pool=pool)
        scores = [_probe_scores(feats_train[l], feats_test[l], train, test, knn_k, probe_epochs, seed, device)
                  for l in range(1, depth + 1)]
        out[pool] = {"knn": [s[0] for s in scores], "linear_probe": [s[1] for s in scores]}
    return out


def evaluate_backbone(
    vit: nn.Module,
    train: ImageDataset,
    test: ImageDataset,
    mean: Sequence[float],
    std: Sequence[float],
    pool: str = "mean",
    knn_k: int = 20,
    probe_epochs: int = 100,
    finetune_epochs: int = 0,
    seed: int = 0,
) -> dict[str, float | None]:
    """Top-1 % of a kNN and a linear probe on the last block, and of fine-tuning.

    ``pool="mean"`` is the book's protocol (:data:`sslvit_lite.probing.PROTOCOL`): the mean of the patch
    tokens of block L's output; ``pool="cls"`` the [CLS] token after the final norm (MoCo v3's and MAE's
    own probes). ``finetune_epochs`` = 0 skips fine-tuning (``"fine_tune": None``); otherwise a copy of
    ``vit`` is fine-tuned with :func:`sslvit_lite.probing.finetune` (``vit`` itself is left unchanged).
    """
    _check_pool(pool)
    if finetune_epochs < 0:
        raise ValueError(f"finetune_epochs must be ≥ 0 (0 skips fine-tuning), got {finetune_epochs}")
    last = len(vit.blocks)
    key = last if pool == "mean" else "final"
    feats_train = extract_features(vit, train.images, mean, std, blocks=[last], pool=pool)[key]  # (N, C)
    feats_test = extract_features(vit, test.images, mean, std, blocks=[last], pool=pool)[key]  # (M, C)
    device = next(vit.parameters()).device
    knn, probe = _probe_scores(feats_train, feats_test, train, test, knn_k, probe_epochs, seed, device)
    tuned = None
    if finetune_epochs:
        tuned = _percent(finetune(vit, train.images, train.labels, test.images, test.labels, mean, std,
                                  epochs=finetune_epochs, seed=seed))
    return {"knn": knn, "linear_probe": probe, "fine_tune": tuned}


# --------------------------------------------------------------------------- the λ sweep


def check_lambdas(lambdas: Sequence[float]) -> list[float]:
    """λ values as sorted floats; each in [0, 1], no duplicates, at least one."""
    values = [float(lam) for lam in lambdas]
    if not values:
        raise ValueError("lambdas is empty; pass at least one λ in [0, 1]")
    bad = [lam for lam in values if not 0.0 <= lam <= 1.0 or math.isnan(lam)]
    if bad:
        raise ValueError(f"λ (the weight of the contrastive loss) must be in [0, 1], got {bad}")
    if len(set(values)) != len(values):
        raise ValueError(f"lambdas has duplicates: {values}")
    return sorted(values)


def run_dir(runs_dir: str | os.PathLike, lam: float, dataset: str, preset: str) -> Path:
    """The run folder of the hybrid at ``lam``, e.g. ``runs/hybrid-lam0.2-cifar10-smoke``."""
    return Path(runs_dir) / f"hybrid-lam{float(lam):g}-{Path(dataset).name}-{preset}"


def train_point(lam: float, preset: str = "smoke", dataset: str = "cifar10", data_source: str = "auto",
                runs_dir: str | os.PathLike = "runs", progress: bool = False, **overrides) -> Path:
    """Pre-train the hybrid at ``lam`` with the engine; returns its ``final.pt`` (reused if finished)."""
    from sslvit_lite.presets import get_preset
    from sslvit_lite.train import pretrain

    (lam,) = check_lambdas([lam])
    hparams = {**dict(overrides.pop("hparams", None) or {}), "lam": lam}
    out = run_dir(runs_dir, lam, dataset, get_preset(preset).name)
    return pretrain("hybrid", dataset=dataset, preset=preset, out_dir=out, data_source=data_source,
                    progress=progress, hparams=hparams, **overrides)


def _training_log(final: Path) -> list[dict]:
    from sslvit_lite.checkpoint import training_log

    return [{k: r[k] for k in LOG_KEYS if k in r} for r in training_log(final)]


def hybrid_sweep(
    lambdas: Sequence[float] = DEFAULT_LAMBDAS,
    preset: str = "smoke",
    dataset: str = "cifar10",
    data_source: str = "auto",
    runs_dir: str | os.PathLike = "runs",
    *,
    num_train: int | None = None,
    num_test: int | None = None,
    analysis_images: int = 256,
    pool: str = "mean",
    knn_k: int = 20,
    probe_epochs: int = 100,
    finetune_epochs: int = 0,
    seed: int = 0,
    device: str | None = None,
    progress: bool = False,
    **overrides,
) -> dict:
    """Train, probe, fine-tune and analyse the hybrid at every λ; returns the table of the module doc.

    ``overrides`` go to the engine (any config field, e.g. ``epochs``). Evaluation runs on
    ``device`` (default: CUDA when available); the analyses use ``analysis_images`` test images.
    """
    from sslvit_lite.analyze import compute_metrics
    from sslvit_lite.checkpoint import load_backbone
    from sslvit_lite.provenance import provenance
    from sslvit_lite.data import dataset_stats

    lambdas = check_lambdas(lambdas)
    _check_pool(pool)
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    mean, std = dataset_stats(dataset)
    points, data = [], None
    for lam in lambdas:
        start = time.perf_counter()
        final = train_point(lam, preset, dataset, data_source, runs_dir, progress=progress, **overrides)
        trained = time.perf_counter()
        vit, info = load_backbone(final, map_location=device)
        if data is None:
            data = evaluation_split(dataset, data_source, info["config"]["img_size"], num_train, num_test, seed)
        scores = evaluate_backbone(vit, *data, mean, std, pool, knn_k, probe_epochs, finetune_epochs, seed)
        analysis = compute_metrics(vit, data[1].images, mean, std, device=device, seed=seed,
                                   num_images=min(analysis_images, len(data[1])), tsne=False)["metrics"]
        points.append({
            "lambda": lam, **scores, "metrics": {k: analysis[k] for k in ANALYSIS_KEYS},
            "log": _training_log(final), "train_seconds": round(trained - start, 1),
            "eval_seconds": round(time.perf_counter() - trained, 1),
            "config": info["config"], "provenance": info["provenance"], "origin": f"trained by hybrid_sweep ({final.parent})",
        })
    # the control every claim needs: a random-init encoder of the same architecture, measured alike
    from sslvit_lite.vit import build_vit

    config = points[0]["config"]
    torch.manual_seed(config["seed"])
    random_vit = build_vit(config["arch"], config["img_size"], config["patch_size"], **config["vit_kwargs"]).to(device)
    random_scores = evaluate_backbone(random_vit, *data, mean, std, pool, knn_k, probe_epochs, 0, seed)
    random_analysis = compute_metrics(random_vit, data[1].images, mean, std, device=device, seed=seed,
                                      num_images=min(analysis_images, len(data[1])), tsne=False)["metrics"]
    train, test = data
    evaluation = {"pool": pool, "block": "last" if pool == "mean" else "last, after the final norm",
                  "knn_k": knn_k, "probe_epochs": probe_epochs,
                  "finetune_epochs": finetune_epochs, "num_train": len(train), "num_test": len(test),
                  "train_data": train.source, "test_data": test.source,
                  "analysis_images": min(analysis_images, len(test)), "seed": seed}
    return {"schema": SCHEMA, "dataset": dataset, "preset": points[0]["config"]["preset"], "data_source": data_source,
            "lambdas": lambdas, "evaluation": evaluation, "points": points,
            "random_init": {**random_scores, "metrics": {k: random_analysis[k] for k in ANALYSIS_KEYS}},
            "provenance": json.loads(json.dumps(provenance(device, data=test.source), default=str))}


# --------------------------------------------------------------------------- results


def saved_sweep_path(dataset: str = "cifar10", results_dir: str | os.PathLike | None = None) -> Path:
    """Where a committed sweep lives: ``results/hybrid_sweep-<dataset>.json``."""
    from sslvit_lite.zoo import RESULTS_DIR

    return Path(results_dir or RESULTS_DIR) / f"hybrid_sweep-{Path(dataset).name}.json"


def save_sweep(table: dict, path: str | os.PathLike) -> Path:
    """Write a :func:`hybrid_sweep` table as JSON (NaN and infinities are refused)."""
    _check_table(table, str(path))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(table, indent=1, allow_nan=False) + "\n")
    return path


def load_sweep(path: str | os.PathLike) -> dict:
    """Read a table written by :func:`save_sweep`; a file of another kind raises ValueError."""
    table = json.loads(Path(path).read_text())
    _check_table(table, str(path))
    return table


def _check_table(table: dict, where: str) -> None:
    if not isinstance(table, dict) or table.get("schema") != SCHEMA:
        raise ValueError(f"{where} is not a hybrid sweep table (schema {SCHEMA!r})")
    if not table.get("points") or any("lambda" not in p or "metrics" not in p for p in table["points"]):
        raise ValueError(f"{where}: a sweep table needs points, each with 'lambda' and 'metrics'")


def point_at(table: dict, lam: float) -> dict:
    """The sweep point at ``lam`` (matched to 1e-6); ValueError naming the λ values measured."""
    for point in table["points"]:
        if abs(float(point["lambda"]) - lam) < 1e-6:
            return point
    raise ValueError(f"the sweep has no λ = {lam}; measured: {[p['lambda'] for p in table['points']]}")


def claims_results(table: dict, hybrid_lambda: float = 0.2) -> dict:
    """The :mod:`sslvit_lite.claims` input of a sweep: λ = 1 as CL, λ = 0 as MIM, ``hybrid_lambda`` as hybrid.

    ``models`` hold the per-depth analyses (NMI, Fourier Δ, attention distance) with the last-block
    linear probe, ``hybrid_sweep`` the linear probe and fine-tuning per λ (claims 15 and 16), and
    ``random_init`` the control of the table, when it has one (without it the claims are not measured).
    """
    _check_table(table, "table")
    if not 0.0 < hybrid_lambda < 1.0:
        raise ValueError(f"hybrid_lambda must be strictly between 0 and 1, got {hybrid_lambda}")
    models = {"simmim": point_at(table, 0.0), "mocov3": point_at(table, 1.0), "hybrid": point_at(table, hybrid_lambda)}
    if "random_init" in table:
        models["random_init"] = table["random_init"]
    return {
        "models": {name: {**point["metrics"], "linear_probe": [point["linear_probe"]]} for name, point in models.items()},
        "roles": {"cl": "mocov3", "mim": "simmim", "hybrid": "hybrid", "random": "random_init"},
        "hybrid_sweep": [{"lambda": p["lambda"], "linear_probe": p.get("linear_probe"), "fine_tune": p.get("fine_tune")}
                         for p in table["points"]],
        "provenance": {**table.get("provenance", {}), "preset": table.get("preset")},  # smoke: no verdicts
    }


# --------------------------------------------------------------------------- command line


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m sslvit_lite.sweep",
                                     description="Train and evaluate the CL+MIM hybrid at several λ (paper Fig 12).")
    parser.add_argument("--lambdas", type=float, nargs="+", default=list(DEFAULT_LAMBDAS))
    parser.add_argument("--preset", default="auto")
    parser.add_argument("--dataset", default="cifar10")
    parser.add_argument("--data-source", default="auto")
    parser.add_argument("--runs-dir", default="runs")
    parser.add_argument("--epochs", type=int, help="override the preset's epochs")
    parser.add_argument("--num-train", type=int, help="probe/fine-tune training images (default: all)")
    parser.add_argument("--num-test", type=int, help="test images (default: all)")
    parser.add_argument("--analysis-images", type=int, default=256)
    parser.add_argument("--pool", choices=POOLS, default="mean",
                        help="mean: the book's protocol (mean-pooled patch tokens of the last block); cls: [CLS] "
                             "after the final norm")
    parser.add_argument("--probe-epochs", type=int, default=100)
    parser.add_argument("--finetune-epochs", type=int, default=0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", help="JSON path (default: results/hybrid_sweep-<dataset>.json)")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    overrides = {"epochs": args.epochs} if args.epochs is not None else {}
    try:
        table = hybrid_sweep(args.lambdas, args.preset, args.dataset, args.data_source, args.runs_dir,
                             num_train=args.num_train, num_test=args.num_test, analysis_images=args.analysis_images,
                             pool=args.pool, probe_epochs=args.probe_epochs, finetune_epochs=args.finetune_epochs,
                             seed=args.seed, progress=True, **overrides)
    except ValueError as err:
        parser.exit(2, f"{parser.prog}: error: {err}\n")
    out = save_sweep(table, args.out or saved_sweep_path(args.dataset))
    for p in table["points"]:
        print(f"λ = {p['lambda']:.2f}: kNN {p['knn']:.2f} %, LP {p['linear_probe']:.2f} %, FT {p['fine_tune']} %")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
