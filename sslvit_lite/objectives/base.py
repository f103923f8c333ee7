"""The interface every self-supervised objective implements (the training engine relies on it).

An :class:`Objective` owns the ViT it trains (``backbone``, a timm ``VisionTransformer`` with
``num_classes=0``) plus whatever heads its loss needs (decoder, projector, momentum encoder…).
The engine builds ``num_views`` augmented views per image with
``sslvit_lite.augment.build_recipe(objective.recipe, img_size, mean, std)``, calls
``objective(views)`` for the loss, steps the optimizer and then calls
``objective.after_step(progress)``. Analyses and evaluation use ``objective.backbone``.
"""

from __future__ import annotations

import torch
from timm.models.vision_transformer import VisionTransformer
from torch import nn


class Objective(nn.Module):
    """Base class: a self-supervised loss on top of a timm ViT ``backbone``.

    Class attributes set by subclasses:
        name: "mocov3" | "simmim" | "mae" | "hybrid".
        recipe: the augmentation recipe name (same values as ``name``).
        num_views: number of augmented views ``forward`` expects.
        DEFAULTS: the keyword hyperparameters of the constructor and their defaults.
    """

    name: str
    recipe: str
    num_views: int
    DEFAULTS: dict

    def __init__(self, backbone: nn.Module):
        super().__init__()
        if not isinstance(backbone, VisionTransformer):
            raise TypeError(
                f"backbone must be a timm VisionTransformer (see sslvit_lite.vit.build_vit), got {type(backbone).__name__}"
            )
        self.backbone = backbone

    def forward(self, views: list[torch.Tensor]) -> dict[str, torch.Tensor]:
        """views: ``num_views`` float normalised images (B, 3, H, W) → {"loss": scalar, other scalars to log}."""
        raise NotImplementedError(f"{type(self).__name__} must implement forward")

    def after_step(self, progress: float) -> None:
        """Called after each optimizer step with progress = step / total in [0, 1]; no-op unless overridden."""

    @classmethod
    def resolve_hparams(cls, hparams: dict) -> dict:
        """DEFAULTS updated with ``hparams``; unknown names raise a ValueError listing the valid ones."""
        unknown = sorted(set(hparams) - set(cls.DEFAULTS))
        if unknown:
            raise ValueError(f"unknown {cls.name} hyperparameter(s) {unknown}; valid: {sorted(cls.DEFAULTS)}")
        return {**cls.DEFAULTS, **hparams}

    def check_views(self, views: list[torch.Tensor]) -> list[torch.Tensor]:
        """Validate the views: ``num_views`` float tensors (B, 3, H, W) of the backbone's image size, same B."""
        if len(views) != self.num_views:
            raise ValueError(f"{self.name} expects {self.num_views} view(s), got {len(views)}")
        size = tuple(self.backbone.patch_embed.img_size)
        for i, view in enumerate(views):
            if view.ndim != 4 or view.shape[1] != 3 or tuple(view.shape[2:]) != size:
                raise ValueError(f"view {i} must have shape (B, 3, {size[0]}, {size[1]}), got {tuple(view.shape)}")
            if not view.is_floating_point():
                raise ValueError(f"view {i} must be a normalised float tensor, got dtype {view.dtype}")
            if view.shape[0] != views[0].shape[0]:
                raise ValueError(f"all views must have the same batch size, got {[v.shape[0] for v in views]}")
        return list(views)


def require_no_patch_dropout(backbone: nn.Module, objective: str) -> None:
    """Masked image modeling needs every patch token; timm's token dropout (patch_drop_rate > 0) would drop some."""
    if not isinstance(backbone.patch_drop, nn.Identity):
        raise ValueError(f"{objective} needs a backbone built with patch_drop_rate=0 (it reconstructs every patch)")
