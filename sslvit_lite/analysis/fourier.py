"""Fourier analysis of token representations (Park et al., ICLR 2023, Sec. 3, Fig 8).

The official code (naver-ai/cl-vs-mim, identical to "How Do ViTs Work?") treats each
channel of the patch tokens as a 2-D feature map and asks how much amplitude sits at high
spatial frequencies relative to the constant (DC) component:

1. drop the prefix (CLS) tokens, reshape (B, P, C) → (B, C, R, R) row-major;
2. F = fft2 over the two spatial dims, per image and channel; L = log(|F| + 1e-6);
3. roll by (R//2, R//2) so that DC sits at index (R//2, R//2);
4. average L over batch **and** channels (a mean of log-amplitudes);
5. read the half diagonal L[R//2 + k, R//2 + k] for k = 0 .. R − R//2 − 1 and subtract the
   DC value: Δ(k) = L(k, k) − L(0, 0), the *relative log amplitude*.

The "high-frequency" value the paper plots per depth is Δ at the last bin: k = 6 on the
14×14 grid of ViT-B/16 at 224 px (6/14 cycles per token; the Nyquist bin (7, 7) is not on
the rolled half diagonal), and k = 3 on the 8×8 grid of a CIFAR ViT (32 px, patch 4).

Depth convention (the book's depth convention): Fourier depths 0..L are the embedding and the block outputs,
``zs[0::2]`` (:func:`block_outputs`); the mid-block states are not plotted.

Sanity anchors. Spatially constant tokens give Δ(k ≥ 1) = log(1e-6) − mean log|DC|, very
negative (exact in float64; float32 FFT round-off lifts the floor). White-noise tokens have
a flat spectrum: every bin k ≥ 1 has the same expected log amplitude, but it exceeds the DC
bin's by (log 2)/2 ≈ 0.35, not 0, because DC is a real Gaussian and the other diagonal bins
are complex Gaussians (E log|real| = log σ − (γ + log 2)/2, E log|complex| = log σ − γ/2).
"""

from __future__ import annotations

from typing import Sequence

import torch

LOG_AMPLITUDE_EPS = 1e-6  # official code: log(|F| + 1e-6)


def _check_square_grid(grid: tuple[int, int]) -> int:
    rows, cols = (int(g) for g in grid)
    if rows != cols or rows < 2:
        raise ValueError(f"the diagonal Fourier profile needs a square grid of side ≥ 2, got {tuple(grid)}")
    return rows


def tokens_to_maps(tokens: torch.Tensor, num_prefix: int, grid: tuple[int, int]) -> torch.Tensor:
    """Patch tokens as channel maps: (B, N, C) → (B, C, R, C_grid), CLS/prefix dropped, row-major."""
    if tokens.dim() != 3:
        raise ValueError(f"tokens must have shape (B, N, C), got {tuple(tokens.shape)}")
    rows, cols = (int(g) for g in grid)
    batch, n, channels = tokens.shape
    if not 0 <= num_prefix < n or n - num_prefix != rows * cols:
        raise ValueError(
            f"{n} tokens minus num_prefix={num_prefix} must equal rows·cols of grid {tuple(grid)} = {rows * cols}"
        )
    if not torch.is_floating_point(tokens):
        raise ValueError(f"tokens must be floating point, got {tokens.dtype}")
    x = tokens[:, num_prefix:, :]  # (B, P, C)
    if x.dtype in (torch.float16, torch.bfloat16):
        x = x.float()
    return x.transpose(1, 2).reshape(batch, channels, rows, cols)  # (B, C, R, C_grid)


def mean_log_amplitude(tokens: torch.Tensor, num_prefix: int, grid: tuple[int, int]) -> torch.Tensor:
    """Mean over batch and channels of log(|fft2| + 1e-6), DC rolled to (R//2, C//2): (R, C_grid).

    This is the 2-D map the official code reads its diagonal from (steps 1–4 of the module doc).
    """
    maps = tokens_to_maps(tokens, num_prefix, grid)  # (B, C, R, Cg)
    amplitude = torch.fft.fft2(maps).abs()  # (B, C, R, Cg)
    log_amp = torch.log(amplitude + LOG_AMPLITUDE_EPS)  # (B, C, R, Cg)
    rows, cols = maps.shape[-2:]
    rolled = torch.roll(log_amp, shifts=(rows // 2, cols // 2), dims=(-2, -1))  # (B, C, R, Cg)
    return rolled.mean(dim=(0, 1))  # (R, Cg)


def fourier_log_amplitude(tokens: torch.Tensor, num_prefix: int, grid: tuple[int, int]) -> torch.Tensor:
    """Relative log amplitude along the half diagonal, Δ(k) for k = 0 .. R − R//2 − 1 (Fig 8).

    tokens: (B, N, C) token states (prefix tokens first); grid: (R, R), square.
    Returns (K,) with K = R − R//2 (7 for R = 14, 4 for R = 8); Δ(0) = 0 by construction.
    Frequency k means k/R cycles per token along both axes (the diagonal bin (k, k)).
    """
    _check_square_grid(grid)
    return diagonal_profile(mean_log_amplitude(tokens, num_prefix, grid))


def diagonal_profile(log_amplitude_map: torch.Tensor) -> torch.Tensor:
    """Δ(k) from a rolled mean log-amplitude map (R, R) (step 5 of the module doc): (K,).

    Split from :func:`fourier_log_amplitude` so that maps averaged over several batches
    (weighted by batch size) give exactly the single-batch result.
    """
    if log_amplitude_map.dim() != 2:
        raise ValueError(f"expected a 2-D (R, R) map, got shape {tuple(log_amplitude_map.shape)}")
    side = _check_square_grid(tuple(log_amplitude_map.shape))
    diagonal = torch.diagonal(log_amplitude_map)[side // 2 :]  # (K,)
    return diagonal - diagonal[0]


def high_frequency_delta(tokens: torch.Tensor, num_prefix: int, grid: tuple[int, int]) -> torch.Tensor:
    """Δ at the highest bin of the half diagonal, the value the paper plots per depth (Fig 8).

    That is k = 6 on a 14×14 grid (ViT-B/16, 224 px) and k = 3 on an 8×8 grid (CIFAR,
    32 px, patch 4). More negative = more low-pass. Returns a 0-dim tensor.
    """
    return fourier_log_amplitude(tokens, num_prefix, grid)[-1]


def block_outputs(zs: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    """Depth 0..L states from the official ``zs`` layout ``[embedding, b1 mid, b1 out, ...]`` (the book's depth convention).

    Depth 0 is the embedding and depth d the output of block d, i.e. ``zs[0::2]``.
    """
    if len(zs) < 3 or len(zs) % 2 == 0:
        raise ValueError(f"zs must hold 2·L + 1 states (embedding, then mid and out per block), got {len(zs)}")
    return list(zs[0::2])


def fourier_by_depth(states: Sequence[torch.Tensor], num_prefix: int, grid: tuple[int, int]) -> torch.Tensor:
    """Δ(k) curves for a list of token states, one row per state: (D, K).

    Pass ``block_outputs(zs)`` (or ``Capture.block_outputs``) for the paper's depths 0..L;
    column −1 is then the per-depth high-frequency value of the paper's Fourier figure.
    """
    if len(states) == 0:
        raise ValueError("states is empty: pass at least one (B, N, C) token state")
    return torch.stack([fourier_log_amplitude(s, num_prefix, grid) for s in states])  # (D, K)
