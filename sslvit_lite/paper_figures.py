"""The figures of chapter 8: the paper's own models, drawn from the record of :func:`sslvit_lite.paper_models.measure_run`.

Each function takes that record (``run``) and returns a matplotlib figure whose title is the weights
note (:func:`sslvit_lite.paper_models.weights_note`): official checkpoints, or which models are random
stand-ins. The paper's reference values (:mod:`sslvit_lite.analysis.reference`) are drawn beside ours.
"""

from __future__ import annotations

import base64
import io
import textwrap

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from PIL import Image

from sslvit_lite.analysis.attention import patch_distances
from sslvit_lite.analysis.reference import reference
from sslvit_lite.display import MODEL_COLORS
from sslvit_lite.paper_models import IMG, LABELS, MODELS, PATCH, weights_note

GRID = IMG // PATCH  # 14 patches a side


def _finish(fig: Figure, axes, run: dict, title: str = "", depth_axis: bool = True) -> Figure:
    """Integer ticks on depth axes; the weights note (and ``title``) on top."""
    for ax in np.ravel(axes) if depth_axis else []:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    lines = [textwrap.fill(line, 80) for line in (title, weights_note(run)) if line]  # within the figure's width
    fig.suptitle("\n".join(lines))
    return fig


def _name(run: dict, model: str) -> str:
    return f"{LABELS[model]}, {run['models'][model]['weights']}"


def uniform_distance_px() -> float:
    """Mean attention distance of uniform attention on the 14×14 grid of 16-px patches (116.5 px)."""
    return float(patch_distances((GRID, GRID), PATCH).mean())


def attention_maps(run: dict, head: int) -> Figure:
    """Fig. 2: the example image with its query patch, and where that query attends in each model (one colour
    scale from 0, so near-uniform maps look flat)."""
    example = np.asarray(Image.open(io.BytesIO(base64.b64decode(run["example_image"]))))  # (224, 224, 3)
    row, col = run["query"]
    fig, axes = plt.subplots(2, 3, figsize=(8.0, 5.8), layout="constrained")  # the image, four maps, the scale
    axes = axes.ravel()
    axes[0].imshow(example)
    axes[0].set_title("image, query patch")
    uniform = 1 / GRID ** 2
    vmax = max(4 * uniform, max(float(np.max(run["models"][n]["attention_map"]["head_maps"][head])) for n in MODELS))
    for ax, name in zip(axes[1:5], MODELS):
        record = run["models"][name]["attention_map"]
        shown = ax.imshow(np.asarray(record["head_maps"][head]), cmap="plasma", extent=(0, IMG, IMG, 0), vmin=0,
                          vmax=vmax)
        ax.set_title(f"{_name(run, name)}\nblock {record['block']}, head {head}")
    for ax in axes[:5]:
        ax.add_patch(plt.Rectangle((col * PATCH, row * PATCH), PATCH, PATCH, fill=False, color="red", lw=1.5))
        ax.axis("off")
    axes[5].axis("off")
    fig.colorbar(shown, ax=axes[5], fraction=0.5, label=f"attention (uniform = 1/{GRID ** 2})")
    return _finish(fig, axes, run, depth_axis=False)


def attention_distance(run: dict) -> Figure:
    """Fig. 3: mean attention distance per head and block for each model, and the official notebook's MoCo v3."""
    reference_curve = reference("attention_distance/mocov3/nb")
    fig, axes = plt.subplots(2, 3, figsize=(9.3, 6.6), sharey=True, layout="constrained")  # four models, paper, legend
    axes = axes.ravel()
    for ax, name in zip(axes, MODELS):
        per_head = np.asarray(run["models"][name]["metrics"]["attention_distance"])  # (L, H)
        blocks = np.arange(1, len(per_head) + 1)
        ax.scatter(np.repeat(blocks, per_head.shape[1]), per_head.ravel(), s=8, alpha=0.5, color=MODEL_COLORS[name])
        ax.plot(blocks, per_head.mean(1), marker="o", color=MODEL_COLORS[name])
        ax.set(title=_name(run, name), xlabel="block", xticks=blocks)
    for ax in axes[::3]:
        ax.set_ylabel("attention distance (px)")
    axes[4].plot(reference_curve.x, reference_curve.y, "k--", marker=".")
    axes[4].set(title="paper (official notebook)", xlabel="block")
    for ax in axes[:5]:
        ax.axhline(uniform_distance_px(), color="grey", ls=":", lw=1)
        ax.set_ylim(0, 140)
    axes[5].axis("off")
    axes[5].legend([plt.Line2D([], [], color="gray", marker="o"), plt.Line2D([], [], color="k", ls="--", marker="."),
                    plt.Line2D([], [], color="grey", ls=":")],
                   ["ours: mean over heads (dots: heads)", f"MoCo v3, paper {reference_curve.tag}", "uniform attention"],
                   loc="center", frameon=False)
    return _finish(fig, axes[:5], run)


HOMOGENEITY = (("nmi", "NMI(query; key)"), ("query_jsd", "query JSD (bits)"), ("head_jsd", "head JSD (bits)"))


def homogeneity(run: dict) -> Figure:
    """Fig. 4 and the JSDs: NMI, query JSD and head JSD per block, on full scales (noise stays small), and the
    official notebook's MoCo v3 NMI."""
    reference_curve = reference("nmi/mocov3/nb")
    fig, axes = plt.subplots(2, 2, figsize=(9.3, 6.8), layout="constrained")
    axes = axes.ravel()
    for ax, (key, label) in zip(axes, HOMOGENEITY):
        for name in MODELS:
            curve = [np.mean(v) for v in run["models"][name]["metrics"][key]]
            ax.plot(range(1, len(curve) + 1), curve, marker="o", color=MODEL_COLORS[name], label=_name(run, name))
        ax.set(title=f"ours: {label.split(' (')[0]}", xlabel="block", ylabel=label, ylim=(0, 1 if key != "nmi" else 0.6))
    axes[-1].plot(reference_curve.x, reference_curve.y, "k--", marker=".", label=f"MoCo v3, paper {reference_curve.tag}")
    axes[-1].set(title="paper (official notebook)", xlabel="block", ylabel="NMI", ylim=(0, 0.6))
    handles, labels = axes[0].get_legend_handles_labels()
    more, more_labels = axes[-1].get_legend_handles_labels()
    fig.legend(handles + more, labels + more_labels, loc="outside lower center", ncols=3, frameon=False)
    return _finish(fig, axes, run)


FOURIER_REFERENCES = ("fourier_delta/mocov3/nb", "fourier_delta/mocov3/fig", "fourier_delta/simmim/fig",
                      "fourier_delta/mae_encoder/fig")


def fourier(run: dict) -> Figure:
    """Fig. 8: Δ log amplitude at the highest frequency per depth, ours beside the paper's."""
    fig, axes = plt.subplots(1, 2, figsize=(9.3, 4.6), sharey=True, layout="constrained")
    for name in MODELS:
        delta = run["models"][name]["metrics"]["fourier_delta"]
        axes[0].plot(range(len(delta)), delta, marker="o", color=MODEL_COLORS[name], label=_name(run, name))
    for key in FOURIER_REFERENCES:
        curve = reference(key)
        axes[1].plot(curve.x, curve.y, ls="--" if curve.tag == "[NB]" else "-", marker=".",
                     color=MODEL_COLORS[curve.model], label=f"{curve.model} {curve.tag}")
    axes[0].set(title="ours", xlabel="depth (0 = embedding)", ylabel="Δ log amplitude at bin 6")
    axes[1].set(title="paper", xlabel="depth (0 = embedding)")
    for ax in axes:  # legends under the panels, off the curves
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncols=2, frameon=False)
    return _finish(fig, axes, run)


def tsne(run: dict) -> Figure:
    """Fig. E.2: t-SNE of the patch tokens of the 18 t-SNE images, one shade per image, one colour per class."""
    classes = run["tsne_image_classes"]
    names = list(dict.fromkeys(classes))
    shades = [plt.get_cmap(c) for c in ("Blues", "Oranges", "Greens")]
    per_image = len(run["models"]["mocov3"]["tsne"]["points"]) // len(classes)
    colors = []
    for i, c in enumerate(classes):
        rank, count = classes[:i].count(c), classes.count(c)
        colors += [shades[names.index(c)](0.45 + 0.5 * rank / max(1, count - 1))] * per_image
    fig, axes = plt.subplots(2, 2, figsize=(8.0, 7.4), layout="constrained")
    for ax, name in zip(axes.ravel(), MODELS):
        record = run["models"][name]
        points = np.asarray(record["tsne"]["points"])  # (n·196, 2)
        depth = record["tsne"]["depth"]
        ax.scatter(points[:, 0], points[:, 1], c=colors, s=1)
        ax.set(title=f"{_name(run, name)}: depth {depth}, silhouette {record['metrics']['silhouette'][depth]:.2f}",
               xticks=[], yticks=[])
    return _finish(fig, axes, run, f"{len(classes)} images of {', '.join(names)}", depth_axis=False)


REPRESENTATIONS = (("silhouette", "image-ID silhouette (cosine)", 0), ("unison", "unison ratio (attention)", 1),
                   ("effective_rank", "effective rank of patch tokens", 0))


def representations(run: dict) -> Figure:
    """The silhouette, the unison ratio and the effective rank per depth (or block)."""
    fig, axes = plt.subplots(2, 2, figsize=(9.3, 6.8), layout="constrained")
    axes = axes.ravel()
    for ax, (key, label, first) in zip(axes, REPRESENTATIONS):
        for name in MODELS:
            curve = run["models"][name]["metrics"][key]
            ax.plot(range(first, first + len(curve)), curve, marker="o", color=MODEL_COLORS[name], label=_name(run, name))
        ax.set(xlabel="block" if first else "depth (0 = embedding)", ylabel=label)
    axes[3].axis("off")
    axes[3].legend(*axes[0].get_legend_handles_labels(), loc="center", frameon=False)
    return _finish(fig, axes[:3], run)
