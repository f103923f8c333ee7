"""Diagrams of the three objectives and the hybrid, drawn with matplotlib for the chapters.

Each function returns a figure sized for the book's text column (7.2 in wide, text ≥ 9 pt), read left to
right: what goes in, which networks see it (shared weights in one colour), and which loss compares what.
They follow the official code the chapters implement: MoCo v3 ``moco/builder.py``, SimMIM
``models/simmim.py``, MAE ``models_mae.py`` and the hybrid of Park et al. (ICLR 2023, Sec. 6).
"""

from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

ENCODER = "#c6dbef"  # the ViT being trained
MOMENTUM = "#e0e0e0"  # frozen copies (no gradient)
HEAD = "#fdd0a2"  # heads used in pre-training only
DATA = "#ffffff"
LOSS = "#c7e9c0"
FONT = 9.5


def _canvas(width: float, height: float) -> tuple[Figure, plt.Axes]:
    fig, ax = plt.subplots(figsize=(width, height))
    ax.set(xlim=(0, width), ylim=(0, height))
    ax.axis("off")
    return fig, ax


def _box(ax, x: float, y: float, text: str, color: str = DATA, width: float = 1.15, height: float = 0.55):
    """A rounded box centred at (x, y); returns its centre and half sizes for arrows."""
    ax.add_patch(FancyBboxPatch((x - width / 2, y - height / 2), width, height, boxstyle="round,pad=0.03",
                                facecolor=color, edgecolor="#404040", linewidth=1.0))
    ax.text(x, y, text, ha="center", va="center", fontsize=FONT, wrap=True)
    return x, y, width / 2, height / 2


def _arrow(ax, a, b, text: str = "", dashed: bool = False) -> None:
    """An arrow from box ``a`` to box ``b`` (as returned by :func:`_box`), leaving and entering at their edges."""
    (xa, ya, wa, ha), (xb, yb, wb, hb) = a, b
    if abs(xb - xa) >= abs(yb - ya):
        start, end = (xa + wa * (1 if xb > xa else -1), ya), (xb - wb * (1 if xb > xa else -1), yb)
    else:
        start, end = (xa, ya + ha * (1 if yb > ya else -1)), (xb, yb - hb * (1 if yb > ya else -1))
    ax.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=11, linewidth=1.0,
                                 linestyle="--" if dashed else "-", color="#303030"))
    if text:
        ax.text((start[0] + end[0]) / 2, (start[1] + end[1]) / 2 + 0.12, text, ha="center", va="bottom",
                fontsize=FONT - 1, color="#303030")


def mocov3_diagram() -> Figure:
    """MoCo v3: two views, a base branch with predictor, a momentum branch without, a symmetric InfoNCE."""
    fig, ax = _canvas(7.2, 3.0)
    image = _box(ax, 0.65, 1.5, "image")
    views = [_box(ax, 1.9, y, f"view {i}", width=1.0) for i, y in ((1, 2.3), (2, 0.7))]
    _arrow(ax, image, views[0], "augment")
    _arrow(ax, image, views[1])
    base = _box(ax, 3.4, 2.3, "ViT → proj.\n→ pred.", ENCODER, width=1.4, height=0.7)
    momentum = _box(ax, 3.4, 0.7, "momentum ViT\n→ proj.", MOMENTUM, width=1.4, height=0.7)
    _arrow(ax, views[0], base)
    _arrow(ax, views[1], momentum)
    _arrow(ax, base, momentum, "EMA", dashed=True)
    q = _box(ax, 4.85, 2.3, "q (queries)", width=1.1)
    k = _box(ax, 4.85, 0.7, "k (keys)", width=1.1)
    _arrow(ax, base, q)
    _arrow(ax, momentum, k)
    loss = _box(ax, 6.45, 1.5, "InfoNCE\nq · kᵀ / τ", LOSS, width=1.2, height=0.7)
    _arrow(ax, q, loss)
    _arrow(ax, k, loss)
    ax.text(3.6, 2.95, "both views go through both branches: ctr(q₁, k₂) + ctr(q₂, k₁)", ha="center",
            va="top", fontsize=FONT - 1, style="italic")
    return fig


def simmim_diagram() -> Figure:
    """SimMIM: block-masked patches replaced by a mask token, every token encoded, a linear pixel head, L1."""
    fig, ax = _canvas(7.2, 1.9)
    image = _box(ax, 0.65, 0.85, "image")
    masked = _box(ax, 1.95, 0.85, "patches,\n60 % → [M]", height=0.7)
    encoder = _box(ax, 3.35, 0.85, "ViT\n(all tokens)", ENCODER, height=0.7)
    head = _box(ax, 4.7, 0.85, "linear\n→ pixels", HEAD, height=0.7)
    loss = _box(ax, 6.3, 0.85, "L1 on the\nmasked pixels", LOSS, width=1.35, height=0.7)
    for a, b in ((image, masked), (masked, encoder), (encoder, head), (head, loss)):
        _arrow(ax, a, b)
    ax.text(1.95, 1.45, "mask token [M] in place of each masked embedding", ha="center", fontsize=FONT - 1,
            style="italic")
    return fig


def mae_diagram() -> Figure:
    """MAE: 75 % of the tokens dropped, the encoder on the visible ones, a transformer decoder with mask tokens."""
    fig, ax = _canvas(7.2, 1.9)
    image = _box(ax, 0.45, 0.85, "image", width=0.75)
    visible = _box(ax, 1.6, 0.85, "visible 25 %\nof patches", width=1.2, height=0.7)
    encoder = _box(ax, 2.95, 0.85, "ViT\n(visible only)", ENCODER, width=1.2, height=0.7)
    decoder = _box(ax, 4.4, 0.85, "+ [M] tokens\n→ decoder", HEAD, width=1.3, height=0.7)
    loss = _box(ax, 6.3, 0.85, "MSE on masked\npatches (normed)", LOSS, width=1.6, height=0.7)
    for a, b in ((image, visible), (visible, encoder), (encoder, decoder), (decoder, loss)):
        _arrow(ax, a, b)
    ax.text(3.7, 1.45, "the decoder, not the encoder, rebuilds the pixels", ha="center", fontsize=FONT - 1,
            style="italic")
    return fig


def hybrid_diagram() -> Figure:
    """The hybrid: one ViT trained by (1 − λ)·SimMIM on a masked view plus λ·MoCo v3 on two more views."""
    fig, ax = _canvas(7.2, 2.6)
    masked = _box(ax, 0.95, 2.0, "masked view", width=1.3)
    views = _box(ax, 0.95, 0.6, "views 1 and 2", width=1.3)
    encoder = _box(ax, 2.7, 1.3, "one ViT\n(shared)", ENCODER, height=0.8)
    _arrow(ax, masked, encoder)
    _arrow(ax, views, encoder)
    simmim = _box(ax, 4.45, 2.0, "SimMIM head\n→ L1", HEAD, width=1.4, height=0.7)
    moco = _box(ax, 4.45, 0.6, "MoCo v3 heads,\nmomentum → InfoNCE", HEAD, width=1.9, height=0.7)
    _arrow(ax, encoder, simmim)
    _arrow(ax, encoder, moco)
    loss = _box(ax, 6.45, 1.3, "(1 − λ)·L_MIM\n+ λ·L_CL", LOSS, width=1.35, height=0.75)
    _arrow(ax, simmim, loss)
    _arrow(ax, moco, loss)
    return fig
