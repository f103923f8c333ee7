"""The CL + MIM hybrid over λ (Park et al., ICLR 2023, Fig 12), end to end.

- **over λ** (Fig 12): the hybrid L = (1 − λ)·L_SimMIM + λ·L_MoCo is pre-trained for several
  λ (:func:`train_point`, the engine's ``pretrain("hybrid", hparams={"lam": λ})``); each backbone is
  probed and optionally fine-tuned on its last block (:func:`sslvit_lite.probing.evaluate_backbone`) and analysed per
  depth (NMI, Fourier Δ, attention distance, :func:`sslvit_lite.measure.compute_metrics`).
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

The probes follow the book's protocol (:data:`sslvit_lite.probing.PROTOCOL`, mean-pooled patch tokens
of the last block); the paper's recipe for the Fig 12 probes is not published.

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

from sslvit_lite.measure import compute_metrics
from sslvit_lite.checkpoint import build_backbone, load_backbone, training_log
from sslvit_lite.data import dataset_stats
from sslvit_lite.naming import run_name
from sslvit_lite.presets import get_preset
from sslvit_lite.probing import POOLS, check_pool, evaluate_backbone, evaluation_split
from sslvit_lite.provenance import provenance
from sslvit_lite.train import pretrain
from sslvit_lite.saved_runs import RESULTS_DIR

SCHEMA = "sslvit_lite.sweep/1"
DEFAULT_LAMBDAS = (0.0, 0.2, 0.4, 0.6, 1.0)
ANALYSIS_KEYS = ("nmi", "fourier_delta", "attention_distance")
LOG_KEYS = ("step", "epoch", "loss", "loss_simmim", "loss_mocov3", "positive_cosine")


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
    """The run folder of the hybrid at ``lam``, e.g. ``runs/hybrid-cifar10-smoke-lam0.2``."""
    return Path(runs_dir) / run_name("hybrid", dataset=dataset, preset=preset, lam=lam)


def train_point(lam: float, preset: str = "smoke", dataset: str = "cifar10", data_source: str = "auto",
                runs_dir: str | os.PathLike = "runs", progress: bool = False, **overrides) -> Path:
    """Pre-train the hybrid at ``lam`` with the engine; returns its ``final.pt`` (reused if finished)."""

    (lam,) = check_lambdas([lam])
    hparams = {**dict(overrides.pop("hparams", None) or {}), "lam": lam}
    out = run_dir(runs_dir, lam, dataset, get_preset(preset).name)
    return pretrain("hybrid", dataset=dataset, preset=preset, out_dir=out, data_source=data_source,
                    progress=progress, hparams=hparams, **overrides)


def log_records(final: Path) -> list[dict]:
    """The loss records of a run (its ``LOG_KEYS`` only), as a sweep point keeps them."""
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

    lambdas = check_lambdas(lambdas)
    check_pool(pool)
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
            "log": log_records(final), "train_seconds": round(trained - start, 1),
            "eval_seconds": round(time.perf_counter() - trained, 1),
            "config": info["config"], "provenance": info["provenance"], "origin": f"trained by hybrid_sweep ({final.parent})",
        })
    # the control every claim needs: a random-init encoder of the same architecture, measured alike
    config = points[0]["config"]
    torch.manual_seed(config["seed"])
    random_vit = build_backbone(config).to(device)
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
