"""Self-supervised objectives compared by Park et al. (ICLR 2023): CL (MoCo v3), MIM (SimMIM, MAE), CL+MIM.

Usage::

    from sslvit_lite.vit import build_vit
    objective = build_objective("simmim", build_vit("vit_tiny"), mask_ratio=0.6)
    out = objective([view])          # {"loss": scalar, ...}; view: float normalised (B, 3, 32, 32)
    objective.after_step(progress)   # after each optimizer step
    objective.backbone               # the trained timm ViT, for analyses and evaluation
"""

from __future__ import annotations

from torch import nn

from .base import Objective
from .hybrid import Hybrid
from .mae import MAE
from .mocov3 import MoCoV3, infonce, momentum_at
from .simmim import SimMIM

OBJECTIVES: dict[str, type[Objective]] = {
    "mocov3": MoCoV3,
    "simmim": SimMIM,
    "mae": MAE,
    "hybrid": Hybrid,
}


def build_objective(name: str, backbone: nn.Module, **hparams) -> Objective:
    """The objective ``name`` (one of :data:`OBJECTIVES`) on ``backbone`` with ``hparams`` over its ``DEFAULTS``.

    Unknown names or hyperparameters raise a ValueError listing the valid ones.
    """
    if name not in OBJECTIVES:
        raise ValueError(f"unknown objective {name!r}; valid: {', '.join(OBJECTIVES)}")
    return OBJECTIVES[name](backbone, **hparams)


__all__ = ["OBJECTIVES", "Objective", "MoCoV3", "SimMIM", "MAE", "Hybrid", "build_objective", "infonce", "momentum_at"]
