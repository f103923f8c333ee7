"""MAE, masked autoencoders (He et al., CVPR 2022): the MIM model with an explicit decoder.

Park et al. (ICLR 2023, Fig 11) use MAE to argue that an explicit decoder takes over the low-pass
"decoder" role that SimMIM's last encoder blocks play. This module follows the official
``models_mae.py`` (facebookresearch/mae):

- **random per-token masking** with an exact count (:func:`~.masking.token_shuffle`): a
  per-sample shuffle keeps L − ⌈L·ratio⌉ tokens; ``ids_restore`` undoes it;
- the **encoder sees only the visible tokens** (+ CLS): patch embedding and position embedding
  are computed for all tokens, then the visible ones are gathered and run through the encoder
  (:func:`~sslvit_lite.objectives.masked_encoder.masked_encode`, the masked encoder SimMIM shares);
- a **light transformer decoder**: Linear to the decoder width, a learnable ``mask_token`` for the
  masked positions, tokens put back in image order, fixed 2-D sin-cos position embeddings,
  timm ``Block`` s, LayerNorm and a Linear head to patch²·3 values per token;
- **MSE on the masked patches**, optionally against per-patch normalised targets
  (``norm_pix_loss``: (t − mean)/√(var + 1e-6), unbiased variance over the patch's p²·3 values).

Patch layout (``patchify``): a token's p²·3 values are ordered (row, column, channel), as in MAE.

Hyperparameters (:data:`DEFAULTS`), official ViT-B values scaled for ViT-Tiny on 32 px CIFAR:

==============  =======  ====================================================================
hparam          default  official / why
==============  =======  ====================================================================
mask_ratio      0.75     0.75: 48 of 64 tokens masked at 32 px / 4 px patches.
decoder_dim     128      512 for the 768-d ViT-B encoder; 128 keeps the decoder narrower than a
                         192-d ViT-Tiny encoder and the 32-d attention heads of the original.
decoder_depth   8        8, kept: the paper's Fig 11 looks at MAE's 8 decoder blocks.
decoder_heads   4        16 (head width 32); 128 / 4 keeps head width 32.
norm_pix_loss   True     the released MAE checkpoints (and timm's ``.mae`` weights) use it.
==============  =======  ====================================================================

Optimiser settings of the recipe (for the engine, not used here): AdamW (0.9, 0.95),
lr 1.5e-4·B/256, weight decay 0.05, 40 warm-up epochs of 800–1600.
"""

from __future__ import annotations

from functools import partial

import torch
from timm.models.vision_transformer import Block
from torch import nn

from ..vit import mae_module_init_, sincos_pos_embed_2d
from .base import Objective, require_no_patch_dropout
from .masked_encoder import masked_encode
from .masking import token_shuffle

DEFAULTS: dict = {
    "mask_ratio": 0.75,
    "decoder_dim": 128,
    "decoder_depth": 8,
    "decoder_heads": 4,
    "norm_pix_loss": True,
}


def patchify(images: torch.Tensor, patch_size: int) -> torch.Tensor:
    """(B, C, H, W) → (B, N, p²·C) with N = (H/p)(W/p) row-major tokens, values ordered (row, column, channel)."""
    b, c, h, w = images.shape
    p = patch_size
    x = images.reshape(b, c, h // p, p, w // p, p)  # (B, C, h, p, w, p)
    x = x.permute(0, 2, 4, 3, 5, 1)  # (B, h, w, p, p, C)
    return x.reshape(b, (h // p) * (w // p), p * p * c)  # (B, N, p²·C)


def unpatchify(patches: torch.Tensor, patch_size: int, grid: tuple[int, int], channels: int = 3) -> torch.Tensor:
    """Inverse of :func:`patchify`: (B, N, p²·C) → (B, C, rows·p, cols·p)."""
    b = patches.shape[0]
    rows, cols = grid
    p = patch_size
    x = patches.reshape(b, rows, cols, p, p, channels)  # (B, h, w, p, p, C)
    x = x.permute(0, 5, 1, 3, 2, 4)  # (B, C, h, p, w, p)
    return x.reshape(b, channels, rows * p, cols * p)  # (B, C, H, W)


def normalize_patches(patches: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """MAE ``norm_pix_loss`` target: each patch (B, N, D) → (t − mean)/√(var + eps), unbiased var over D."""
    mean = patches.mean(dim=-1, keepdim=True)  # (B, N, 1)
    var = patches.var(dim=-1, keepdim=True)  # (B, N, 1)
    return (patches - mean) / (var + eps).sqrt()  # (B, N, D)


class MAE(Objective):
    """MAE on a timm ViT: one view, 75 % of tokens dropped, transformer decoder, MSE on masked patches.

    views: [x], float normalised (B, 3, H, W). Returns {"loss"}.
    """

    name = "mae"
    recipe = "mae"
    num_views = 1
    DEFAULTS = DEFAULTS

    def __init__(self, backbone: nn.Module, **hparams):
        super().__init__(backbone)
        h = self.resolve_hparams(hparams)
        require_no_patch_dropout(backbone, "MAE")
        if not 0.0 < h["mask_ratio"] < 1.0:
            raise ValueError(f"mask_ratio must be in (0, 1), got {h['mask_ratio']}")
        for key in ("decoder_dim", "decoder_depth", "decoder_heads"):
            if int(h[key]) != h[key] or h[key] <= 0:
                raise ValueError(f"{key} must be a positive integer, got {h[key]}")
        if h["decoder_dim"] % h["decoder_heads"]:
            raise ValueError(f"decoder_dim ({h['decoder_dim']}) must be divisible by decoder_heads ({h['decoder_heads']})")
        patch_h, patch_w = backbone.patch_embed.patch_size
        if patch_h != patch_w:
            raise ValueError(f"MAE needs square patches, got {patch_h}×{patch_w}")
        self.patch_size = patch_h
        self.grid = tuple(int(g) for g in backbone.patch_embed.grid_size)
        self.mask_ratio = float(h["mask_ratio"])
        self.norm_pix_loss = bool(h["norm_pix_loss"])
        dim = h["decoder_dim"]
        prefix = backbone.num_prefix_tokens
        self.decoder_embed = nn.Linear(backbone.embed_dim, dim)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, dim))  # (1, 1, D)
        self.register_buffer("decoder_pos_embed", sincos_pos_embed_2d(dim, self.grid, prefix))  # (1, P + N, D)
        norm = partial(nn.LayerNorm, eps=1e-6)
        self.decoder_blocks = nn.ModuleList(
            Block(dim, h["decoder_heads"], mlp_ratio=4.0, qkv_bias=True, norm_layer=norm) for _ in range(h["decoder_depth"])
        )
        self.decoder_norm = norm(dim)
        self.decoder_pred = nn.Linear(dim, self.patch_size**2 * 3)
        self._init_decoder()

    def _init_decoder(self) -> None:
        """MAE's initialisation of the new modules: xavier-uniform linears, zero biases, N(0, 0.02) mask token."""
        nn.init.normal_(self.mask_token, std=0.02)
        for name, module in self.named_modules():
            if not name.startswith("backbone"):
                mae_module_init_(module)

    def sample_shuffle(self, batch: int, device: torch.device, mask_ratio: float | None = None):
        """(ids_keep (B, K), ids_restore (B, N), mask (B, N) float 1 = masked) for a fresh random mask."""
        ratio = self.mask_ratio if mask_ratio is None else mask_ratio
        return token_shuffle(batch, self.grid[0] * self.grid[1], ratio, device=device)

    def encode(self, images: torch.Tensor, ids_keep: torch.Tensor) -> torch.Tensor:
        """Encoder on the visible tokens: images (B, 3, H, W), ids_keep (B, K) → (B, P + K, C) after the final norm."""
        return masked_encode(self.backbone, images, ids_keep=ids_keep)  # (B, P + K, C)

    def decoder_tokens(self, latent: torch.Tensor, ids_restore: torch.Tensor) -> list[torch.Tensor]:
        """Decoder states in the full token layout (image order, mask tokens included, prefix first).

        latent (B, P + K, C) from :meth:`encode` → [decoder input (embedded, + position), output of
        decoder block 1, …, output of block D], each (B, P + N, D) — the ``zs[0::2]`` convention of the
        encoder analyses; ``decoder_norm`` is not applied.
        """
        prefix = self.backbone.num_prefix_tokens
        x = self.decoder_embed(latent)  # (B, P + K, D)
        batch, num_tokens = ids_restore.shape
        masks = self.mask_token.expand(batch, num_tokens - (x.shape[1] - prefix), -1)  # (B, N − K, D)
        shuffled = torch.cat([x[:, prefix:], masks.to(x.dtype)], dim=1)  # (B, N, D), shuffle order
        index = ids_restore.unsqueeze(-1).expand(-1, -1, x.shape[-1])  # (B, N, D)
        x = torch.cat([x[:, :prefix], shuffled.gather(1, index)], dim=1)  # (B, P + N, D), image order
        x = x + self.decoder_pos_embed.to(x.dtype)  # (B, P + N, D)
        states = [x]
        for block in self.decoder_blocks:
            x = block(x)  # (B, P + N, D)
            states.append(x)
        return states

    def decode(self, latent: torch.Tensor, ids_restore: torch.Tensor) -> torch.Tensor:
        """Predicted patches (B, N, p²·3) for every token (prefix dropped)."""
        x = self.decoder_norm(self.decoder_tokens(latent, ids_restore)[-1])  # (B, P + N, D)
        return self.decoder_pred(x[:, self.backbone.num_prefix_tokens :])  # (B, N, p²·3)

    def target(self, images: torch.Tensor) -> torch.Tensor:
        """Regression target per token (B, N, p²·3): pixels, per-patch normalised if ``norm_pix_loss``."""
        patches = patchify(images, self.patch_size)  # (B, N, p²·3)
        return normalize_patches(patches) if self.norm_pix_loss else patches

    def masked_mse(self, images: torch.Tensor, prediction: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Mean over masked tokens of the per-token MSE; prediction (B, N, p²·3), mask (B, N) 1 = masked."""
        per_token = (prediction - self.target(images)).pow(2).mean(dim=-1)  # (B, N)
        return (per_token * mask).sum() / mask.sum()

    def forward(self, views: list[torch.Tensor]) -> dict[str, torch.Tensor]:
        (x,) = self.check_views(views)
        ids_keep, ids_restore, mask = self.sample_shuffle(x.shape[0], x.device)
        prediction = self.decode(self.encode(x, ids_keep), ids_restore)  # (B, N, p²·3)
        return {"loss": self.masked_mse(x, prediction, mask)}

    @torch.no_grad()
    def reconstruct(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        """For display: {"prediction", "mask", "composite"} in normalised-image space, with a fresh mask.

        prediction (B, 3, H, W): the decoded patches; with ``norm_pix_loss`` they are mapped back to
        pixels with each input patch's own mean and std (as MAE's visualisation demo does).
        mask (B, 1, H, W): 1 = masked pixel. composite: visible input pixels + predicted masked pixels.
        """
        ids_keep, ids_restore, mask = self.sample_shuffle(images.shape[0], images.device)
        prediction = self.decode(self.encode(images, ids_keep), ids_restore)  # (B, N, p²·3)
        if self.norm_pix_loss:
            patches = patchify(images, self.patch_size)  # (B, N, p²·3)
            std = (patches.var(dim=-1, keepdim=True) + 1e-6).sqrt()  # (B, N, 1)
            prediction = prediction * std + patches.mean(dim=-1, keepdim=True)  # (B, N, p²·3)
        pixels = unpatchify(prediction, self.patch_size, self.grid)  # (B, 3, H, W)
        pixel_mask = unpatchify(mask.unsqueeze(-1).expand(-1, -1, self.patch_size**2), self.patch_size, self.grid, 1)
        return {"prediction": pixels, "mask": pixel_mask, "composite": images * (1 - pixel_mask) + pixels * pixel_mask}

    @torch.no_grad()
    def decoder_states(self, images: torch.Tensor, mask_ratio: float | None = None) -> list[torch.Tensor]:
        """Decoder token states for the Fourier analysis of MAE's decoder (paper Fig 11).

        images float normalised (B, 3, H, W); ``mask_ratio`` overrides the training ratio (0.0 feeds the
        decoder every token from the encoder, no mask tokens). Returns depth 0…D states, each
        (B, P + N, decoder_dim) in image token order (see :meth:`decoder_tokens`).
        """
        ids_keep, ids_restore, _ = self.sample_shuffle(images.shape[0], images.device, mask_ratio)
        return self.decoder_tokens(self.encode(images, ids_keep), ids_restore)
