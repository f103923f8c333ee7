"""One masked encoder for both MIM objectives: a timm ViT run on a masked image, through its public modules.

The two MIM objectives hide patches in different ways (Park et al., ICLR 2023, Sec. 1):

- **SimMIM** keeps every token and *replaces* the embedding of each masked patch by a learned
  ``mask_token`` before the position embedding (``token_mask`` + ``mask_token``);
- **MAE** embeds every patch with its position, then *drops* the masked ones and runs the encoder on
  the visible tokens only (``ids_keep``).

:func:`masked_encode` does both (and the hybrid reaches it through SimMIM), so the masking logic lives in
one place. It uses only the timm ViT's public attributes (``patch_embed``, ``cls_token``, ``reg_token``,
``pos_embed``, ``no_embed_class``, ``pos_drop``, ``patch_drop``, ``norm_pre``, ``blocks``, ``norm``), the
way timm's own ``forward_features`` chains them, so without a mask it equals ``vit.forward_features``.
"""

from __future__ import annotations

import torch
from torch import nn


def patch_tokens(vit: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """Patch embeddings without position: images (B, 3, H, W) → (B, N, C)."""
    if getattr(vit, "dynamic_img_size", False):
        raise ValueError("masked_encode needs a ViT with a fixed image size (dynamic_img_size=False)")
    embedded = vit.patch_embed(images)  # (B, N, C)
    return embedded.reshape(images.shape[0], -1, embedded.shape[-1])  # (B, N, C)


def with_position(vit: nn.Module, patches: torch.Tensor) -> torch.Tensor:
    """Prefix tokens ([CLS], registers) and the position embedding, as timm adds them: (B, N, C) → (B, P + N, C)."""
    prefix = [t.expand(patches.shape[0], -1, -1) for t in (vit.cls_token, getattr(vit, "reg_token", None))
              if t is not None]  # P × (B, 1, C)
    if vit.pos_embed is None:
        return torch.cat(prefix + [patches], dim=1)
    if vit.no_embed_class:  # the position embedding covers the patches only
        x = torch.cat(prefix + [patches + vit.pos_embed], dim=1)
    else:
        x = torch.cat(prefix + [patches], dim=1) + vit.pos_embed  # (B, P + N, C)
    return vit.pos_drop(x)


def masked_encode(
    vit: nn.Module,
    images: torch.Tensor,
    *,
    token_mask: torch.Tensor | None = None,
    mask_token: torch.Tensor | None = None,
    ids_keep: torch.Tensor | None = None,
) -> torch.Tensor:
    """Encode ``images`` (B, 3, H, W) with a mask; returns the tokens after the final norm, (B, P + K, C).

    - ``token_mask`` bool (B, rows, cols) or (B, N), True = masked, with ``mask_token`` (1, 1, C): SimMIM;
      the masked embeddings are replaced before the position embedding is added (K = N);
    - ``ids_keep`` (B, K) long: MAE; only these patch tokens (with their positions) enter the blocks.
    """
    if (token_mask is None) != (mask_token is None):
        raise ValueError("token_mask and mask_token go together (SimMIM's masking)")
    patches = patch_tokens(vit, images)  # (B, N, C)
    if token_mask is not None:
        w = token_mask.reshape(patches.shape[0], -1, 1).to(patches.dtype)  # (B, N, 1)
        patches = patches * (1.0 - w) + mask_token.to(patches.dtype) * w  # (B, N, C)
    x = with_position(vit, patches)  # (B, P + N, C)
    if ids_keep is not None:
        prefix = vit.num_prefix_tokens
        index = ids_keep.unsqueeze(-1).expand(-1, -1, x.shape[-1])  # (B, K, C)
        x = torch.cat([x[:, :prefix], x[:, prefix:].gather(1, index)], dim=1)  # (B, P + K, C)
    x = vit.norm_pre(vit.patch_drop(x))
    x = vit.blocks(x)
    return vit.norm(x)  # (B, P + K, C)
