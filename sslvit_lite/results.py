"""The committed results of ``reproduce``, read the same way by every chapter and the results README.

``results/laptop/`` (:data:`sslvit_lite.saved_runs.RESULTS_DIR`) holds ``evaluation.json`` (every encoder, the probe
protocol of :data:`sslvit_lite.probing.PROTOCOL` and the [CLS] extra), ``analysis.json`` and
``scoreboard.json``. Two readers keep the numbers the same wherever they appear:

- :func:`probe_summary`: each model's probes over its seeds (mean and half the range), and the random-init
  controls of each initialisation, by the protocol (mean-pooled patch tokens, last block) and on [CLS];
- :func:`verdicts`: the scoreboard's verdict of each claim (the one verdict per claim of the book).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Iterable

from sslvit_lite.display import html_table
from sslvit_lite.probing import evaluate_backbone
from sslvit_lite.saved_runs import RESULTS_DIR

OBJECTIVE_TITLES = {"mocov3": "MoCo v3 (CL)", "simmim": "SimMIM (MIM)", "mae": "MAE (MIM)", "hybrid": "hybrid λ = 0.2"}
INIT_TITLES = {"mocov3": "MoCo v3's init", "mae": "MAE's init", "timm": "timm's init"}
MEASURES = ("knn", "linear_probe", "cls_knn", "cls_linear_probe")


def load(name: str, results_dir: str | os.PathLike | None = None) -> dict:
    """One committed JSON file of a results folder (default :data:`RESULTS_DIR`)."""
    path = Path(results_dir or RESULTS_DIR) / name
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: run `python -m sslvit_lite reproduce` to make it")
    return json.loads(path.read_text())


def _spread(values: list[float]) -> tuple[float, float, int]:
    return sum(values) / len(values), (max(values) - min(values)) / 2, len(values)


def probe_summary(evaluation: dict) -> dict[str, dict[str, tuple[float, float, int]]]:
    """``{label: {measure: (mean, half range, count)}}`` over the seeds of each model, then the random-init
    controls of each initialisation. Measures: ``knn`` / ``linear_probe`` by the protocol (mean-pooled patch
    tokens of the last block), ``cls_knn`` / ``cls_linear_probe`` on [CLS] after the final norm."""
    groups: dict[str, list[dict]] = {}
    for about in evaluation["encoders"].values():
        if about["kind"] == "trained":
            label = OBJECTIVE_TITLES.get(about["objective"], about["objective"])
        else:
            label = f"random init ({INIT_TITLES.get(about['init'], about['init'])})"
        groups.setdefault(label, []).append({
            "knn": about["blocks"]["knn"][-1], "linear_probe": about["blocks"]["linear_probe"][-1],
            "cls_knn": about["cls"]["knn"], "cls_linear_probe": about["cls"]["linear_probe"]})
    order = [*OBJECTIVE_TITLES.values()]
    labels = sorted(groups, key=lambda k: (order.index(k) if k in order else len(order), k))
    return {label: {m: _spread([g[m] for g in groups[label]]) for m in MEASURES} for label in labels}


def _cell(value: tuple[float, float, int]) -> str:
    mean, half, count = value
    return f"{mean:.1f}\u00a0±\u00a0{half:.1f}" if count > 1 else f"{mean:.1f}"  # no break inside a value


def probe_table(evaluation: dict, caption: str = ""):
    """The probe summary as an HTML table (the protocol first, [CLS] as the labelled extra); no row is
    bolded, the reader compares the numbers and their spreads."""
    summary = probe_summary(evaluation)
    rows = [[label, str(s["knn"][2]), _cell(s["knn"]), _cell(s["linear_probe"]), _cell(s["cls_knn"]),
             _cell(s["cls_linear_probe"])] for label, s in summary.items()]
    protocol = evaluation["protocol"]
    text = (f"Top-1 % on {protocol['num_test']:,} CIFAR-10 test images ({protocol['num_train']:,} to fit); "
            "± is half the range over seeds (or over the three random inits). Protocol: mean-pooled patch tokens "
            "of the last block; [CLS]: after the final norm, which the MIM losses never train. " + caption)
    return html_table(["model", "seeds", "kNN", "linear probe", "kNN [CLS]", "linear probe [CLS]"], rows, text.strip())


def probe_models(models: dict, train, test, mean, std, knn_k: int = 20, seed: int = 0, device=None) -> dict:
    """``{name: {"mean" | "cls": {"knn", "linear_probe", ...}}}``: each model probed now by the protocol
    (``"mean"``) and on [CLS] (:func:`sslvit_lite.probing.evaluate_backbone`), for a chapter's own models."""
    return {name: {pool: evaluate_backbone(vit.to(device or "cpu").eval(), train, test, mean, std, pool=pool,
                                           knn_k=knn_k, seed=seed) for pool in ("mean", "cls")}
            for name, vit in models.items()}


def models_probe_table(probes: dict, train, test):
    """The probes of :func:`probe_models` as an HTML table, protocol columns first."""
    rows = [[name, *(f"{r[pool][m]:.1f}\u00a0%" for pool in ("mean", "cls") for m in ("knn", "linear_probe"))]
            for name, r in probes.items()]
    return html_table(["model", "kNN", "linear probe", "kNN [CLS]", "linear probe [CLS]"], rows,
                      f"Top-1 accuracy on {len(test):,} test images, {len(train):,} to fit ({train.source}; {test.source}); "
                      "chance 10 %. First two columns: the book's protocol (mean-pooled patch tokens of the last block).")


def verdicts(ids: Iterable[int] | None = None, results_dir: str | os.PathLike | None = None) -> list[dict]:
    """The scoreboard's rows (``id``, ``claim``, ``status``, ``detail``, ``pairs``) of claims ``ids`` (all when
    None), from the committed ``scoreboard.json``."""
    rows = load("scoreboard.json", results_dir)["scoreboard"]
    wanted = None if ids is None else set(ids)
    return [row for row in rows if wanted is None or row["id"] in wanted]


def verdict_table(ids: Iterable[int], results_dir: str | os.PathLike | None = None, caption: str = ""):
    """The scoreboard's verdicts of claims ``ids`` as an HTML table, for the chapters that discuss them."""
    rows = [[str(r["id"]), r["claim"], r["status"], r["detail"]] for r in verdicts(ids, results_dir)]
    text = ("The scoreboard's verdict (chapter 9) on the committed laptop runs, every pairing of seeds. " + caption)
    return html_table(["#", "claim", "verdict", "measured"], rows, text.strip(), widths=["4%", "28%", "14%", "54%"])
