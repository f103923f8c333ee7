"""MoCo v3, the contrastive-learning (CL) objective of the paper (Chen, Xie & He, ICCV 2021).

Park et al. (ICLR 2023) use MoCo v3 ViT-B/16 as *the* CL model; this module follows the official
``moco/builder.py`` (facebookresearch/moco-v3):

- a base encoder (the ViT ``backbone``) + a 3-layer **projector**, and a **momentum encoder**
  (deep copies of both, ``requires_grad=False``) updated as θk ← m·θk + (1 − m)·θq;
- a 2-layer **predictor** on the base branch only; all MLP linears have no bias, hidden layers
  use BN + ReLU, the output BN has no affine parameters (the official ``_build_mlp``);
- the symmetric InfoNCE loss ctr(q1, k2) + ctr(q2, k1) with ctr = 2τ · CE(q·kᵀ/τ, diagonal),
  L2-normalised vectors, keys all-gathered across ranks (in-batch negatives);
- momentum on a cosine schedule m = 1 − ½(1 + cos(π·t))(1 − m0), t = training progress in [0, 1];
- optionally a frozen random patch projection (``--stop-grad-conv1``, the official ViT recipe,
  which the MoCo v3 paper found stabilises training).

Hyperparameters (:data:`DEFAULTS`), official ViT-B values scaled for ViT-Tiny on 32 px CIFAR:

===================  ==========  =========================================================
hparam               default     official / why
===================  ==========  =========================================================
tau                  0.2         0.2 for ViTs.
m0                   0.99        0.99 (batch 4096).
proj_hidden_dim      1024        4096 for 768-d ViT-B; we keep the ≈5× width ratio for 192-d ViT-Tiny.
proj_dim             256         256, unchanged (the loss' embedding size).
pred_hidden_dim      1024        4096, scaled like the projector.
stop_grad_conv1      True        ``--stop-grad-conv1`` is part of the official ViT recipe.
===================  ==========  =========================================================

Optimiser settings of the recipe (for the engine, not used here): AdamW, lr 1.5e-4·B/256,
weight decay 0.1, 40 warm-up epochs of 300, cosine decay. Under DDP the projector BNs should be
converted to SyncBatchNorm, as the official code does.
"""

from __future__ import annotations

import copy
import math

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

from .base import Objective

DEFAULTS: dict = {
    "tau": 0.2,
    "m0": 0.99,
    "proj_hidden_dim": 1024,
    "proj_dim": 256,
    "pred_hidden_dim": 1024,
    "stop_grad_conv1": True,
}


def momentum_at(progress: float, m0: float) -> float:
    """Cosine momentum schedule: m = 1 − ½(1 + cos(π·progress))(1 − m0); m0 at progress 0, 1 at progress 1."""
    if not 0.0 <= progress <= 1.0:
        raise ValueError(f"progress must be in [0, 1], got {progress}")
    return 1.0 - 0.5 * (1.0 + math.cos(math.pi * progress)) * (1.0 - m0)


def gather_keys(k: torch.Tensor) -> tuple[torch.Tensor, int]:
    """All-gather keys (B, D) across ranks → (world·B, D) and this rank's label offset rank·B.

    Like the official ``concat_all_gather`` no gradient flows through the gathered keys.
    Without an initialised process group this is the identity with offset 0.
    """
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return k, 0
    shards = [torch.empty_like(k) for _ in range(dist.get_world_size())]
    dist.all_gather(shards, k.contiguous())
    return torch.cat(shards, dim=0), dist.get_rank() * k.shape[0]  # (W·B, D)


def infonce(q: torch.Tensor, k: torch.Tensor, tau: float) -> torch.Tensor:
    """MoCo v3 ``contrastive_loss``: 2τ · CE(q̂ k̂ᵀ / τ, positives on the diagonal).

    q: (B, D) queries (with gradient); k: (B, D) keys, treated as constants (detached).
    Vectors are L2-normalised; the negatives are all keys of all ranks.
    """
    q = F.normalize(q, dim=1)  # (B, D)
    k = F.normalize(k.detach(), dim=1)  # (B, D)
    keys, offset = gather_keys(k)  # (W·B, D)
    logits = q @ keys.T / tau  # (B, W·B)
    labels = torch.arange(q.shape[0], device=q.device) + offset  # (B,)
    return F.cross_entropy(logits, labels) * (2.0 * tau)


def build_mlp(num_layers: int, in_dim: int, hidden_dim: int, out_dim: int) -> nn.Sequential:
    """The official ``_build_mlp``: Linear (no bias) [+ BN + ReLU on hidden layers], output BN(affine=False)."""
    layers: list[nn.Module] = []
    for i in range(num_layers):
        dim_in = in_dim if i == 0 else hidden_dim
        dim_out = out_dim if i == num_layers - 1 else hidden_dim
        layers.append(nn.Linear(dim_in, dim_out, bias=False))
        if i < num_layers - 1:
            layers += [nn.BatchNorm1d(dim_out), nn.ReLU(inplace=True)]
        else:
            layers.append(nn.BatchNorm1d(dim_out, affine=False))
    return nn.Sequential(*layers)


class MoCoV3Branch(nn.Module):
    """The MoCo v3 parts that sit on a backbone: projector, predictor and the momentum encoder.

    The backbone itself is not stored here (it is passed to each call), so one backbone can be
    shared with another loss (the CL+MIM hybrid). Constructing the branch copies the backbone
    into the momentum encoder and, if ``stop_grad_conv1``, freezes the backbone's patch projection.
    """

    def __init__(
        self,
        backbone: nn.Module,
        tau: float = DEFAULTS["tau"],
        m0: float = DEFAULTS["m0"],
        proj_hidden_dim: int = DEFAULTS["proj_hidden_dim"],
        proj_dim: int = DEFAULTS["proj_dim"],
        pred_hidden_dim: int = DEFAULTS["pred_hidden_dim"],
        stop_grad_conv1: bool = DEFAULTS["stop_grad_conv1"],
    ):
        super().__init__()
        if tau <= 0:
            raise ValueError(f"tau must be > 0, got {tau}")
        if not 0.0 <= m0 <= 1.0:
            raise ValueError(f"m0 must be in [0, 1], got {m0}")
        for key, value in (("proj_hidden_dim", proj_hidden_dim), ("proj_dim", proj_dim), ("pred_hidden_dim", pred_hidden_dim)):
            if int(value) != value or value <= 0:
                raise ValueError(f"{key} must be a positive integer, got {value}")
        self.tau = float(tau)
        self.m0 = float(m0)
        # the value used by the latest update, logged; a buffer so that a compiled forward does not
        # specialise on (and recompile for) every new python float
        self.register_buffer("momentum", torch.tensor(float(m0)), persistent=False)
        if stop_grad_conv1:
            backbone.patch_embed.requires_grad_(False)
        self.projector = build_mlp(3, backbone.num_features, proj_hidden_dim, proj_dim)
        self.predictor = build_mlp(2, proj_dim, pred_hidden_dim, proj_dim)
        self.momentum_backbone = copy.deepcopy(backbone).requires_grad_(False)
        self.momentum_projector = copy.deepcopy(self.projector).requires_grad_(False)

    def queries(self, backbone: nn.Module, x1: torch.Tensor, x2: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """q = predictor(projector(backbone(x))) for both views, (B, proj_dim) each.

        The ViT runs once on both views stacked (it has no batch statistics); the MLPs run per
        view so that each BN normalises over one view, as in the official code.
        """
        features = backbone(torch.cat([x1, x2])).chunk(2)  # 2 × (B, C)
        q1, q2 = (self.predictor(self.projector(f)) for f in features)  # (B, proj_dim)
        return q1, q2

    @torch.no_grad()
    def keys(self, x1: torch.Tensor, x2: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """k = momentum_projector(momentum_backbone(x)) for both views, (B, proj_dim) each, no gradient."""
        features = self.momentum_backbone(torch.cat([x1, x2])).chunk(2)  # 2 × (B, C)
        k1, k2 = (self.momentum_projector(f) for f in features)  # (B, proj_dim)
        return k1, k2

    def loss(self, backbone: nn.Module, x1: torch.Tensor, x2: torch.Tensor) -> dict[str, torch.Tensor]:
        """Symmetric InfoNCE ctr(q1, k2) + ctr(q2, k1); also logs the mean positive-pair cosine."""
        q1, q2 = self.queries(backbone, x1, x2)
        k1, k2 = self.keys(x1, x2)
        loss = infonce(q1, k2, self.tau) + infonce(q2, k1, self.tau)
        with torch.no_grad():
            positive = 0.5 * (F.cosine_similarity(q1, k2).mean() + F.cosine_similarity(q2, k1).mean()).float()
        return {"loss": loss, "positive_cosine": positive, "momentum": self.momentum.clone()}

    def momentum_pairs(self, backbone: nn.Module) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """(momentum parameters, matching base parameters): momentum_backbone↔backbone, momentum_projector↔projector."""
        momentum = list(self.momentum_backbone.parameters()) + list(self.momentum_projector.parameters())
        base = list(backbone.parameters()) + list(self.projector.parameters())
        if len(momentum) != len(base):
            raise RuntimeError("backbone and momentum encoder have different parameter lists")
        return momentum, base

    @torch.no_grad()
    def update_momentum_encoder(self, backbone: nn.Module, m: float) -> None:
        """θk ← m·θk + (1 − m)·θq for every parameter of the momentum encoder (buffers are its own)."""
        momentum, base = self.momentum_pairs(backbone)
        torch._foreach_mul_(momentum, m)
        torch._foreach_add_(momentum, base, alpha=1.0 - m)
        self.momentum.fill_(m)

    def after_step(self, backbone: nn.Module, progress: float) -> None:
        """Momentum update with m = momentum_at(progress, m0)."""
        self.update_momentum_encoder(backbone, momentum_at(progress, self.m0))


class MoCoV3(Objective):
    """MoCo v3 on a timm ViT: two augmented views → symmetric InfoNCE (see the module docstring).

    views: [x1, x2], float normalised (B, 3, H, W) each. Returns {"loss", "positive_cosine", "momentum"}.
    """

    name = "mocov3"
    recipe = "mocov3"
    num_views = 2
    DEFAULTS = DEFAULTS

    def __init__(self, backbone: nn.Module, **hparams):
        super().__init__(backbone)
        self.cl = MoCoV3Branch(backbone, **self.resolve_hparams(hparams))

    def forward(self, views: list[torch.Tensor]) -> dict[str, torch.Tensor]:
        x1, x2 = self.check_views(views)
        return self.cl.loss(self.backbone, x1, x2)

    def after_step(self, progress: float) -> None:
        self.cl.after_step(self.backbone, progress)
