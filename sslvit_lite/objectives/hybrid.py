"""The CL + MIM hybrid of Park et al. (ICLR 2023, Fig 12): L = (1 − λ)·L_SimMIM + λ·L_MoCo.

The paper's "simplest combination" of the two families, as the authors describe it in
naver-ai/cl-vs-mim#4 (Sec. 5, Fig 12 of the paper): **one shared ViT backbone**, plus

- the SimMIM parts (``mask_token`` + linear decoder, :class:`~.simmim.SimMIMBranch`) with the
  SimMIM loss on a block-masked view x1;
- the MoCo v3 parts (projector, predictor, momentum encoder with its own projector,
  :class:`~.mocov3.MoCoV3Branch`) with the symmetric InfoNCE loss on two further augmented views
  x2, x3.

λ is the weight of CL: λ = 0 is SimMIM and λ = 1 is MoCo v3. A branch whose weight is zero is not
built (no unused parameters, no wasted compute), so the endpoints are *exactly* the pure objectives:
same parameters under the same names (``mim.*``, ``cl.*``), same loss, same gradients.

Hyperparameters (:data:`DEFAULTS`): ``lam`` plus those of SimMIM and MoCo v3 (see their modules).
``lam`` = 0.2 is the paper's best point (Fig 12-left: it beats both pure models in LP and FT).
``stop_grad_conv1`` defaults to False here: the hybrid was built on the SimMIM codebase, and a
frozen random patch projection would also freeze the patch embedding the MIM loss trains.
"""

from __future__ import annotations

import torch
from torch import nn

from . import mocov3, simmim
from .base import Objective
from .mocov3 import MoCoV3Branch
from .simmim import SimMIMBranch

DEFAULTS: dict = {
    "lam": 0.2,
    **simmim.DEFAULTS,
    **mocov3.DEFAULTS,
    "stop_grad_conv1": False,
}


class Hybrid(Objective):
    """(1 − λ)·SimMIM(x1) + λ·MoCo v3(x2, x3) on one backbone.

    views: [x1 (masked view), x2, x3 (contrastive views)], float normalised (B, 3, H, W) each.
    Returns {"loss"} plus "loss_simmim" (if λ < 1) and "loss_mocov3", "positive_cosine", "momentum" (if λ > 0).
    """

    name = "hybrid"
    recipe = "hybrid"
    num_views = 3
    DEFAULTS = DEFAULTS

    def __init__(self, backbone: nn.Module, **hparams):
        super().__init__(backbone)
        h = self.resolve_hparams(hparams)
        if not 0.0 <= h["lam"] <= 1.0:
            raise ValueError(f"lam (the weight of the contrastive loss) must be in [0, 1], got {h['lam']}")
        self.lam = float(h["lam"])
        mim_args = {key: h[key] for key in simmim.DEFAULTS}
        cl_args = {key: h[key] for key in mocov3.DEFAULTS}
        self.mim = SimMIMBranch(backbone, **mim_args) if self.lam < 1.0 else None
        self.cl = MoCoV3Branch(backbone, **cl_args) if self.lam > 0.0 else None

    def forward(self, views: list[torch.Tensor]) -> dict[str, torch.Tensor]:
        x1, x2, x3 = self.check_views(views)
        logs: dict[str, torch.Tensor] = {}
        terms = []
        if self.mim is not None:
            mim_loss = self.mim.loss(self.backbone, x1)["loss"]
            terms.append((1.0 - self.lam) * mim_loss)
            logs["loss_simmim"] = mim_loss.detach()
        if self.cl is not None:
            cl_out = self.cl.loss(self.backbone, x2, x3)
            terms.append(self.lam * cl_out["loss"])
            logs.update(loss_mocov3=cl_out["loss"].detach(), positive_cosine=cl_out["positive_cosine"], momentum=cl_out["momentum"])
        return {"loss": sum(terms[1:], terms[0]), **logs}

    def after_step(self, progress: float) -> None:
        """Momentum update of the MoCo branch (nothing to do at λ = 0)."""
        if self.cl is not None:
            self.cl.after_step(self.backbone, progress)

    def reconstruct(self, images: torch.Tensor, token_mask: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """SimMIM reconstructions for display (see :meth:`SimMIMBranch.reconstruct`); needs λ < 1."""
        if self.mim is None:
            raise ValueError("a hybrid with lam = 1 has no SimMIM decoder to reconstruct with")
        return self.mim.reconstruct(self.backbone, images, token_mask)
