"""Random masks for masked image modeling (the official SimMIM and MAE code): SimMIM block masks and MAE token shuffles.

Both draw an *exact* number of masked units per image (not a Bernoulli draw), as the official code does:

- SimMIM (``data/data_simmim.py: MaskGenerator``): the image is cut into mask patches of
  ``mask_patch_size`` px (32 px at 224 px, i.e. 2×2 tokens of 16 px); ⌈M·ratio⌉ of the M mask
  patches are chosen uniformly without replacement and upsampled to the token grid.
- MAE (``models_mae.py: random_masking``): one uniform noise value per token, ``argsort`` gives a
  per-sample shuffle; the first ``L − ⌈L·ratio⌉`` tokens of the shuffle stay visible and
  ``ids_restore`` undoes the shuffle.

Masks are drawn with ``torch.rand`` on the requested device (GPU-side, no CPU round trip); pass a
``torch.Generator`` on that device for reproducible draws, or seed the global RNG.
"""

from __future__ import annotations

import math

import torch


def masked_count(total: int, ratio: float) -> int:
    """⌈total·ratio⌉, rounded to 6 decimals first so float error (e.g. 100·0.07 = 7.000000000000001) cannot add one."""
    if not 0.0 <= ratio < 1.0:
        raise ValueError(f"mask ratio must be in [0, 1), got {ratio}")
    return math.ceil(round(total * ratio, 6))


def block_mask(
    batch: int,
    grid: tuple[int, int],
    block: int,
    ratio: float,
    device: torch.device | str | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """SimMIM mask on a (rows, cols) token grid: blocks of ``block``×``block`` tokens, ⌈M·ratio⌉ of M masked.

    Returns a bool tensor (batch, rows, cols), True = masked token.
    """
    rows, cols = grid
    if block <= 0 or rows % block or cols % block:
        raise ValueError(f"token grid {grid} must be a multiple of the mask block ({block} tokens)")
    block_rows, block_cols = rows // block, cols // block
    num_blocks = block_rows * block_cols
    count = masked_count(num_blocks, ratio)
    noise = torch.rand(batch, num_blocks, device=device, generator=generator)  # (B, M)
    chosen = noise.argsort(dim=1)[:, :count]  # (B, count)
    coarse = torch.zeros(batch, num_blocks, dtype=torch.bool, device=noise.device)  # (B, M)
    coarse.scatter_(1, chosen, True)
    coarse = coarse.view(batch, block_rows, block_cols)  # (B, rows/block, cols/block)
    return coarse.repeat_interleave(block, dim=1).repeat_interleave(block, dim=2)  # (B, rows, cols)


def token_shuffle(
    batch: int,
    num_tokens: int,
    ratio: float,
    device: torch.device | str | None = None,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """MAE per-sample random masking of ``num_tokens`` tokens, exactly ⌈L·ratio⌉ masked.

    Returns ``ids_keep`` (B, K) int64: the visible tokens, in shuffled order;
    ``ids_restore`` (B, L) int64: position of each token in the shuffle (``argsort`` of the shuffle);
    ``mask`` (B, L) float: 1 = masked, 0 = visible, in the original token order.
    """
    num_keep = num_tokens - masked_count(num_tokens, ratio)
    noise = torch.rand(batch, num_tokens, device=device, generator=generator)  # (B, L)
    ids_shuffle = noise.argsort(dim=1)  # (B, L)
    ids_restore = ids_shuffle.argsort(dim=1)  # (B, L)
    mask = (ids_restore >= num_keep).float()  # (B, L)
    return ids_shuffle[:, :num_keep], ids_restore, mask
