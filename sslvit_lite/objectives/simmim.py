"""SimMIM, the masked-image-modeling (MIM) objective of the paper (Xie et al., CVPR 2022).

Park et al. (ICLR 2023) use SimMIM ViT-B/16 as *the* MIM model; this module follows the official
``models/simmim.py`` and ``data/data_simmim.py`` (microsoft/SimMIM):

- **block-wise random masking**: the image is cut into mask patches of ``mask_patch_size`` px and
  exactly ⌈M·ratio⌉ of the M mask patches are masked (:func:`~.masking.block_mask`);
- the patch embeddings of masked tokens are replaced by a learnable ``mask_token`` *before*
  the position embedding and the CLS token are added; the encoder sees every token;
- a **linear decoder**: a 1×1 conv from the token width to patch²·3 channels + PixelShuffle(patch);
- an **L1 loss on the masked pixels** of the normalised image:
  Σ|x − x̂|·mask / (Σmask + 1e-5) / 3 (the mask counts pixels once, the /3 averages the channels).

The encoder pass is :func:`~sslvit_lite.objectives.masked_encoder.masked_encode` (the masked encoder MAE
shares), over the timm model's public modules, so the trained ``backbone`` is a plain timm ViT.

Hyperparameters (:data:`DEFAULTS`), official ViT-B values scaled for 32 px CIFAR with 4 px patches:

===============  =======  ==================================================================
hparam           default  official / why
===============  =======  ==================================================================
mask_patch_size  8        32 px at 224 px with 16 px patches = 2×2 tokens; 8 px with 4 px patches
                          is the same 2×2 tokens (a 4×4 grid of mask patches at 32 px).
mask_ratio       0.6      0.6: ⌈16·0.6⌉ = 10 of 16 mask patches (62.5 % of tokens) at 32 px.
===============  =======  ==================================================================

Optimiser settings of the recipe (for the engine, not used here): AdamW (0.9, 0.999),
lr 1e-4·B/512, weight decay 0.05, 10 warm-up epochs of 800, gradient clip 5.0, drop-path 0.1.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.init import trunc_normal_

from .base import Objective, require_no_patch_dropout
from .masked_encoder import masked_encode
from .masking import block_mask

DEFAULTS: dict = {
    "mask_patch_size": 8,
    "mask_ratio": 0.6,
}


def pixel_mask(token_mask: torch.Tensor, patch_size: int) -> torch.Tensor:
    """Token mask (B, rows, cols) → pixel mask float (B, 1, rows·patch, cols·patch), 1 = masked."""
    upsampled = token_mask.repeat_interleave(patch_size, 1).repeat_interleave(patch_size, 2)  # (B, H, W)
    return upsampled.unsqueeze(1).float()  # (B, 1, H, W)


def masked_l1(images: torch.Tensor, prediction: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """SimMIM loss Σ|x − x̂|·mask / (Σmask + 1e-5) / C; images, prediction (B, C, H, W), mask (B, 1, H, W)."""
    error = (images - prediction).abs() * mask  # (B, C, H, W)
    return error.sum() / (mask.sum() + 1e-5) / images.shape[1]


class SimMIMBranch(nn.Module):
    """The SimMIM parts that sit on a backbone: mask geometry, ``mask_token`` and the linear decoder.

    The backbone is passed to each call, not stored, so it can be shared (the CL+MIM hybrid).
    """

    def __init__(
        self,
        backbone: nn.Module,
        mask_patch_size: int = DEFAULTS["mask_patch_size"],
        mask_ratio: float = DEFAULTS["mask_ratio"],
    ):
        super().__init__()
        require_no_patch_dropout(backbone, "SimMIM")
        patch_h, patch_w = backbone.patch_embed.patch_size
        if patch_h != patch_w:
            raise ValueError(f"SimMIM needs square patches, got {patch_h}×{patch_w}")
        img_h, img_w = backbone.patch_embed.img_size
        if mask_patch_size <= 0 or mask_patch_size % patch_h or img_h % mask_patch_size or img_w % mask_patch_size:
            raise ValueError(
                f"mask_patch_size ({mask_patch_size} px) must be a multiple of the patch size ({patch_h} px) "
                f"and divide the image size ({img_h}×{img_w} px)"
            )
        if not 0.0 < mask_ratio < 1.0:
            raise ValueError(f"mask_ratio must be in (0, 1), got {mask_ratio}")
        self.patch_size = patch_h
        self.grid = tuple(int(g) for g in backbone.patch_embed.grid_size)
        self.block = mask_patch_size // patch_h  # tokens per mask patch side
        self.mask_ratio = float(mask_ratio)
        width = backbone.embed_dim
        self.mask_token = nn.Parameter(torch.zeros(1, 1, width))  # (1, 1, C)
        trunc_normal_(self.mask_token, std=0.02)
        self.decoder = nn.Sequential(
            nn.Conv2d(width, self.patch_size**2 * 3, kernel_size=1),
            nn.PixelShuffle(self.patch_size),
        )

    def sample_mask(self, batch: int, device: torch.device) -> torch.Tensor:
        """A fresh SimMIM mask: bool (B, rows, cols) on the token grid, True = masked."""
        return block_mask(batch, self.grid, self.block, self.mask_ratio, device=device)

    def encode(self, backbone: nn.Module, images: torch.Tensor, token_mask: torch.Tensor) -> torch.Tensor:
        """Encoder pass with masked patch embeddings replaced by ``mask_token``.

        images (B, 3, H, W), token_mask bool (B, rows, cols) → patch tokens after the final norm as a
        map (B, C, rows, cols) (prefix tokens dropped).
        """
        x = masked_encode(backbone, images, token_mask=token_mask, mask_token=self.mask_token)  # (B, P + N, C)
        patches = x[:, backbone.num_prefix_tokens :]  # (B, N, C)
        rows, cols = self.grid
        return patches.transpose(1, 2).reshape(images.shape[0], -1, rows, cols)  # (B, C, rows, cols)

    def predict(self, backbone: nn.Module, images: torch.Tensor, token_mask: torch.Tensor) -> torch.Tensor:
        """Reconstruction of the normalised image (B, 3, H, W) from the masked input."""
        return self.decoder(self.encode(backbone, images, token_mask))  # (B, 3, H, W)

    def loss(self, backbone: nn.Module, images: torch.Tensor, token_mask: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """L1 on the masked pixels; a fresh mask is drawn unless ``token_mask`` (B, rows, cols) is given."""
        if token_mask is None:
            token_mask = self.sample_mask(images.shape[0], images.device)
        prediction = self.predict(backbone, images, token_mask)  # (B, 3, H, W)
        return {"loss": masked_l1(images, prediction, pixel_mask(token_mask, self.patch_size))}

    @torch.no_grad()
    def reconstruct(
        self, backbone: nn.Module, images: torch.Tensor, token_mask: torch.Tensor | None = None
    ) -> dict[str, torch.Tensor]:
        """For display: {"prediction", "mask", "composite"} in normalised-image space.

        prediction (B, 3, H, W): the decoder output everywhere; mask (B, 1, H, W): 1 = masked pixel;
        composite (B, 3, H, W): visible pixels from the input, masked pixels from the prediction.
        """
        if token_mask is None:
            token_mask = self.sample_mask(images.shape[0], images.device)
        prediction = self.predict(backbone, images, token_mask)  # (B, 3, H, W)
        mask = pixel_mask(token_mask, self.patch_size)  # (B, 1, H, W)
        return {"prediction": prediction, "mask": mask, "composite": images * (1 - mask) + prediction * mask}


class SimMIM(Objective):
    """SimMIM on a timm ViT: one view, block-masked, linear decoder, L1 on masked pixels.

    views: [x], float normalised (B, 3, H, W). Returns {"loss"}.
    """

    name = "simmim"
    recipe = "simmim"
    num_views = 1
    DEFAULTS = DEFAULTS

    def __init__(self, backbone: nn.Module, **hparams):
        super().__init__(backbone)
        self.mim = SimMIMBranch(backbone, **self.resolve_hparams(hparams))

    def forward(self, views: list[torch.Tensor]) -> dict[str, torch.Tensor]:
        (x,) = self.check_views(views)
        return self.mim.loss(self.backbone, x)

    def reconstruct(self, images: torch.Tensor, token_mask: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """See :meth:`SimMIMBranch.reconstruct`; images float normalised (B, 3, H, W)."""
        return self.mim.reconstruct(self.backbone, images, token_mask)
