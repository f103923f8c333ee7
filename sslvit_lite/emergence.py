"""Watch the attention change during training: the analyses of Park et al. (ICLR 2023, Sec. 2)
on every intermediate snapshot of a run.

The paper analyses finished models only. Replaying the snapshots a run keeps (``snapshots/step-*.pt``,
written at the preset's ``snapshot_steps``; step 0 is the random initialisation) shows *how* the
differences appear: MIM's attention distance falls and its NMI rises (local, query-dependent
attention, Fig 3-5), while CL's NMI stays near 0 and its entropy drops below uniform (attention
collapse onto the same keys for every query, Fig 2 and 4).

:func:`emergence` returns, for one run::

    {"steps": [s0, s1, ...],
     "attention_distance": [[px per block] per step],
     "nmi": [[per block] per step],
     "attention_entropy": [[per block] per step],        # 1 = uniform
     "uniform_distance": px of uniform attention on the grid}

Per-block values are means over heads.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Sequence

import torch

from sslvit_lite.analysis.attention import patch_distances
from sslvit_lite.measure import compute_metrics
from sslvit_lite.checkpoint import load_backbone, load_checkpoint
from sslvit_lite.vit import patch_grid

CURVES = ("attention_distance", "nmi", "attention_entropy")
_STEP = re.compile(r"step-(\d+)\.pt$")


def snapshot_paths(run_dir: str | os.PathLike) -> list[tuple[int, Path]]:
    """``(step, path)`` of every snapshot of a run, by step, then its ``final.pt`` (at its last step)."""
    run_dir = Path(run_dir)
    found = sorted((int(_STEP.search(p.name).group(1)), p)
                   for p in (run_dir / "snapshots").glob("step-*.pt") if _STEP.search(p.name))
    final = run_dir / "final.pt"
    if final.is_file():
        step = int(load_checkpoint(final)["step"])
        found = [(s, p) for s, p in found if s != step] + [(step, final)]
    if not found:
        raise FileNotFoundError(f"{run_dir} has no snapshots/step-*.pt and no final.pt; train it with a preset "
                                "that sets snapshot_steps")
    return found


def uniform_distance(grid: tuple[int, int], patch_px: float) -> float:
    """Mean attention distance (px) of uniform attention over the patch grid: the untrained value."""
    return float(patch_distances(grid, patch_px, dtype=torch.float64).mean())


def emergence(run_dir: str | os.PathLike, images_uint8: torch.Tensor, mean: Sequence[float],
              std: Sequence[float], batch_size: int = 128) -> dict:
    """Attention distance, NMI and entropy per block at every snapshot of ``run_dir`` (schema in the module doc).

    images_uint8: (N, 3, H, W) uint8 analysis images, the same for every snapshot.
    """

    table: dict = {"steps": [], **{key: [] for key in CURVES}}
    for step, path in snapshot_paths(run_dir):
        vit, _ = load_backbone(path)
        metrics = compute_metrics(vit.float(), images_uint8, mean, std, batch_size=batch_size, tsne=False)["metrics"]
        table["steps"].append(step)
        for key in CURVES:
            table[key].append([round(sum(heads) / len(heads), 5) for heads in metrics[key]])  # per block
    table["uniform_distance"] = round(uniform_distance(patch_grid(vit), float(vit.patch_embed.patch_size[0])), 4)
    return table


def plot_emergence(tables: dict[str, dict], titles: dict[str, str] | None = None, caption: str = ""):
    """Per-block attention distance, NMI and attention entropy (rows) against training step, one column per run.

    tables: ``{name: emergence(...) table}``. Returns the matplotlib figure.
    """
    import matplotlib.pyplot as plt

    names = list(tables)
    rows = {"attention_distance": "mean attention distance (px)", "nmi": "NMI(query; key)",
            "attention_entropy": "entropy / uniform"}
    fig, axes = plt.subplots(len(rows), len(names), figsize=(4.6 * len(names), 8.4), sharex="col", sharey="row",
                             squeeze=False)
    depth = len(tables[names[0]]["nmi"][0])
    colours = plt.cm.viridis(torch.linspace(0, 0.9, depth).tolist())
    for col, name in enumerate(names):
        table = tables[name]
        steps = table["steps"]
        for row, key in enumerate(rows):
            ax = axes[row, col]
            for block in range(depth):
                ax.plot(steps, [values[block] for values in table[key]], "-o", ms=3, color=colours[block],
                        label=f"block {block + 1}")
            uniform = {"attention_distance": table["uniform_distance"], "attention_entropy": 1.0}.get(key)
            if uniform is not None:
                ax.axhline(uniform, color="grey", ls="--", lw=1, label="uniform attention (untrained)")
            ax.grid(alpha=0.3)
        axes[0, col].set_title((titles or {}).get(name, name))
        axes[-1, col].set_xlabel("training step")
    for row, label in enumerate(rows.values()):
        axes[row, 0].set_ylabel(label)
    axes[0, -1].legend(fontsize=10, loc="lower left")
    if caption:
        fig.text(0.5, 0.0, caption, ha="center", va="bottom", fontsize=10)
    fig.tight_layout(rect=(0, 0.03 if caption else 0, 1, 1))
    return fig
