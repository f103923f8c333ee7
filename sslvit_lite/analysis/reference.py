"""The paper's reference values, to draw next to ours (read off its figures and the official notebooks).

Every value carries its tag and source:

- **[NB]** read by eye off the output images saved in the official notebooks
  (naver-ai/cl-vs-mim; MoCo v3 only, 1/64 of Imagenette-160 val; ±1 px, ±0.01 NMI,
  ±0.03 log-amplitude);
- **[FIG]** read by eye off the paper figures reproduced in the official README and the
  ICLR poster (±1–2 % accuracy, ±0.05 log-amplitude).

All models are ViT-B/16 at 224 px (14×14 patches, 16 px each) pre-trained on ImageNet-1K
unless stated: CL = MoCo v3, MIM = SimMIM. Our CIFAR ViTs (8×8 patches of 4 px) are not
expected to match the absolute values, only the shapes and orderings of the curves.
Depths follow the book's convention: attention metrics and linear probes per block 1..12,
Fourier per depth 0..12 (embedding, then block outputs).
"""

from __future__ import annotations

from dataclasses import dataclass

NB_SOURCE = "naver-ai/cl-vs-mim self_attention_analysis.ipynb / representation_analysis.ipynb, saved outputs"
FIG_SOURCE = "Park et al. ICLR 2023 figures, as reproduced in the naver-ai/cl-vs-mim README and ICLR poster"

BLOCKS_1_12 = tuple(range(1, 13))
DEPTHS_0_12 = tuple(range(0, 13))


@dataclass(frozen=True)
class ReferenceCurve:
    """One reference curve: y over x, with where it came from."""

    key: str
    metric: str  # attention_distance | nmi | fourier_delta | linear_probe
    model: str
    x: tuple[float, ...]
    y: tuple[float, ...]
    x_label: str
    unit: str
    tag: str  # "[NB]" or "[FIG]"
    source: str
    note: str = ""

    def __post_init__(self):
        if len(self.x) != len(self.y):
            raise ValueError(f"{self.key}: x has {len(self.x)} values but y has {len(self.y)}")


@dataclass(frozen=True)
class ReferenceBand:
    """A range read off a figure where single values are not legible."""

    key: str
    metric: str
    model: str
    x: tuple[float, ...]
    low: float
    high: float
    x_label: str
    unit: str
    tag: str
    source: str
    note: str = ""


CURVES: dict[str, ReferenceCurve] = {
    c.key: c
    for c in (
        ReferenceCurve(
            "attention_distance/mocov3/nb", "attention_distance", "mocov3", BLOCKS_1_12,
            (110.5, 89, 73, 69.5, 73, 81.5, 88, 80, 96, 101, 110, 114),
            "block", "px (mean over heads)", "[NB]", NB_SOURCE,
            "Imagenette-160 val, 1/64 subset (≈60 images); uniform attention would give 116.5 px.",
        ),
        ReferenceCurve(
            "nmi/mocov3/nb", "nmi", "mocov3", BLOCKS_1_12,
            (0.06, 0.12, 0.32, 0.30, 0.24, 0.18, 0.145, 0.17, 0.095, 0.078, 0.03, 0.01),
            "block", "NMI (mean over heads)", "[NB]", NB_SOURCE,
            "Imagenette-160 val, 1/64 subset; SimMIM values are not in any public source.",
        ),
        ReferenceCurve(
            "fourier_delta/mocov3/nb", "fourier_delta", "mocov3", DEPTHS_0_12,
            (-2.74, -3.35, -3.30, -3.17, -3.05, -2.90, -2.76, -2.63, -2.54, -2.47, -2.44, -2.43, -2.54),
            "depth", "Δ log amplitude at k = 6", "[NB]", NB_SOURCE,
            "First batch of 16 Imagenette images (upsampled from 160 px, which shifts the values).",
        ),
        ReferenceCurve(
            "fourier_delta/mocov3/fig", "fourier_delta", "mocov3", DEPTHS_0_12,
            (-2.9, -3.18, -3.14, -3.07, -2.95, -2.80, -2.65, -2.55, -2.45, -2.40, -2.38, -2.40, -2.50),
            "depth", "Δ log amplitude at k = 6", "[FIG]", FIG_SOURCE, "Paper Fourier figure (Fig. 8 or 9).",
        ),
        ReferenceCurve(
            "fourier_delta/simmim/fig", "fourier_delta", "simmim", DEPTHS_0_12,
            (-2.0, -2.05, -2.25, -2.18, -2.13, -2.12, -2.09, -2.06, -2.04, -2.06, -2.13, -2.12, -2.32),
            "depth", "Δ log amplitude at k = 6", "[FIG]", FIG_SOURCE,
            "Paper Fourier figure; depth 0 differs from MoCo because SimMIM has no absolute position embedding.",
        ),
        ReferenceCurve(
            "fourier_delta/mae_encoder/fig", "fourier_delta", "mae", DEPTHS_0_12,
            (-3.05, -2.1, -2.27, -2.37, -2.33, -2.33, -2.30, -2.30, -2.27, -2.23, -2.17, -2.15, -2.5),
            "depth", "Δ log amplitude at k = 6", "[FIG]", FIG_SOURCE, "Fig. 11, MAE encoder.",
        ),
        ReferenceCurve(
            "linear_probe/mocov3/fig", "linear_probe", "mocov3", BLOCKS_1_12,
            (5, 10, 17, 28, 40, 47, 54, 58, 62, 66, 69, 72),
            "block", "ImageNet top-1 (%)", "[FIG]", FIG_SOURCE, "Fig. 10; recipe of the per-block probes is not public.",
        ),
        ReferenceCurve(
            "linear_probe/simmim/fig", "linear_probe", "simmim", BLOCKS_1_12,
            (15, 26, 35, 43, 48, 53, 56, 57, 56, 53, 48, 45),
            "block", "ImageNet top-1 (%)", "[FIG]", FIG_SOURCE, "Fig. 10; peaks at blocks 7–8.",
        ),
        ReferenceCurve(
            "linear_probe/mae/fig", "linear_probe", "mae", BLOCKS_1_12,
            (14, 22, 27, 32, 37, 43, 51, 58, 63, 64, 65, 64),
            "block", "ImageNet top-1 (%)", "[FIG]", FIG_SOURCE, "Fig. 10.",
        ),
    )
}

BANDS: dict[str, ReferenceBand] = {
    "fourier_delta/mae_decoder/fig": ReferenceBand(
        "fourier_delta/mae_decoder/fig", "fourier_delta", "mae", tuple(range(13, 21)), -3.45, -3.0,
        "depth (13–20: the 8 decoder blocks)", "Δ log amplitude at k = 6", "[FIG]", FIG_SOURCE,
        "Fig. 11, MAE decoder: only the range ≈ −3.45 … −3.0 is legible; strongly low-pass.",
    ),
}

# Fig. 12 (left), hybrid L = (1 − λ)·L_MIM + λ·L_CL in a reduced, unpublished setup [FIG].
HYBRID_SWEEP: dict = {
    "tag": "[FIG]",
    "source": FIG_SOURCE + " (Fig. 12, left)",
    "note": "λ is the weight of the CL loss: λ = 0 is SimMIM, λ = 1 is MoCo v3. No λ = 0.8 point.",
    "points": (
        {"lambda": 0.0, "linear_probe": 18.0, "fine_tune": 81.9},
        {"lambda": 0.2, "linear_probe": 61.5, "fine_tune": 82.3},
        {"lambda": 0.4, "linear_probe": 62.5, "fine_tune": 81.95},
        {"lambda": 0.6, "linear_probe": 62.0, "fine_tune": 81.6},
        {"lambda": 1.0, "linear_probe": 57.5, "fine_tune": 81.3},
    ),
}

# Fig. 1, behaviour [FIG] (ViT-B/16 on ImageNet-1K unless stated).
FIG1: dict = {
    "tag": "[FIG]",
    "source": FIG_SOURCE + " (Fig. 1)",
    # Left: (linear probing, fine-tuning) top-1 %.
    "lp_ft": {
        "simmim": (56.7, 83.8),
        "mae": (68.0, 83.6),
        "beit": (56.7, 83.2),
        "mocov3": (76.7, 83.2),
        "dino": (78.2, 82.8),
    },
    # Middle: fine-tuning top-1 % vs model size; † = trained by the authors (recipe unpublished).
    "ft_by_size_authors": {
        "mocov3": {"vit_tiny": 69.0, "vit_small": 78.8, "vit_base": 81.2},
        "simmim": {"vit_tiny": 64.5, "vit_small": 77.6, "vit_base": 81.8},
    },
    "ft_by_size_published": {
        "dino": {"vit_small": 81.5, "vit_base": 82.8},
        "mocov3": {"vit_base": 83.2, "vit_large": 84.1},
        "beit": {"vit_base": 83.2, "vit_large": 85.2},
        "mae": {"vit_base": 83.6, "vit_large": 85.9, "vit_huge": 86.9},
    },
    # Right: (COCO AP^box with Mask R-CNN, ImageNet fine-tuning top-1 %), numbers as in the MAE paper.
    "coco_ap_ft": {
        "mae": (50.3, 83.6),
        "beit": (49.8, 83.2),
        "mocov3": (47.9, 83.2),
        "supervised": (47.9, 82.3),
    },
}


def reference(key: str) -> ReferenceCurve | ReferenceBand:
    """The reference curve or band stored under ``key`` (see :func:`reference_keys`)."""
    if key in CURVES:
        return CURVES[key]
    if key in BANDS:
        return BANDS[key]
    raise ValueError(f"unknown reference {key!r}; valid: {', '.join(reference_keys())}")


def reference_keys(metric: str | None = None) -> list[str]:
    """Keys of all reference curves and bands, optionally only those of one ``metric``."""
    items = {**CURVES, **BANDS}
    metrics = sorted({r.metric for r in items.values()})
    if metric is not None and metric not in metrics:
        raise ValueError(f"unknown metric {metric!r}; valid: {', '.join(metrics)}")
    return [k for k, r in items.items() if metric is None or r.metric == metric]
