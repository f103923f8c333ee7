"""How are representations transformed? (Park et al., ICLR 2023, Sec. 3).

- Token t-SNE (Fig E.2, Fig. E.2): CL tokens form one tight cluster per image ("image-level"),
  MIM tokens of different images intermingle ("token-level"). The official notebook runs
  sklearn ``TSNE(perplexity=20, learning_rate='auto', init='random')`` on the patch tokens
  (CLS dropped) of ``zs[depth]``, unseeded; we seed it.
- :func:`image_silhouette` [ours, not the paper's]: the silhouette score of
  the tokens with their image ID as the cluster label, a number for the t-SNE picture.
- Representation transformation (Sec. 3, ours: the paper's exact procedure is not
  public): how one attention sub-layer moves the tokens of one image.
  :func:`unison_ratio` U = ‖mean_i Δ_i‖ / mean_i ‖Δ_i‖ (1: all tokens translate together,
  expected for CL; → 0: individual moves, expected for MIM); :func:`svd_projection_3d` for
  the 3-D arrow plot; :func:`singular_spectrum` and :func:`effective_rank`
  (exp of the entropy of σ/Σσ, Roy & Vetterli 2007) for how many directions tokens span.

For block l (1-based), "before" is the block input ``zs[2l − 2]`` and "after" is the
mid-block state ``zs[2l − 1]`` (after the attention sub-layer), patch tokens only.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch
from sklearn.manifold import TSNE
from sklearn.metrics import silhouette_score


def _as_float(x: torch.Tensor, name: str) -> torch.Tensor:
    if not torch.is_floating_point(x):
        raise ValueError(f"{name} must be floating point, got {x.dtype}")
    return x.float() if x.dtype in (torch.float16, torch.bfloat16) else x


def _tokens_2d(tokens: torch.Tensor) -> torch.Tensor:
    """(B, P, C) or (M, C) → (M, C) float on CPU."""
    if tokens.dim() == 3:
        tokens = tokens.reshape(-1, tokens.shape[-1])  # (B·P, C)
    if tokens.dim() != 2:
        raise ValueError(f"tokens must have shape (B, P, C) or (M, C), got {tuple(tokens.shape)}")
    return _as_float(tokens, "tokens").detach().cpu()


def token_tsne(tokens: torch.Tensor, perplexity: float = 20.0, seed: int = 0, max_iter: int = 1000) -> np.ndarray:
    """2-D t-SNE embedding of tokens, as in the official notebook but seeded (Fig E.2).

    tokens: (B, P, C) (flattened image-major, so rows b·P .. b·P + P − 1 belong to image b)
    or (M, C). ``perplexity`` is lowered to (M − 1)/3 when there are too few points (sklearn
    needs perplexity < M; (M − 1)/3 keeps three neighbours per unit of perplexity).
    Returns an (M, 2) float array.
    """
    x = _tokens_2d(tokens)  # (M, C)
    m = x.shape[0]
    if m < 4:
        raise ValueError(f"t-SNE needs at least 4 tokens, got {m}")
    if perplexity <= 0:
        raise ValueError(f"perplexity must be positive, got {perplexity}")
    tsne = TSNE(
        n_components=2,
        perplexity=min(float(perplexity), (m - 1) / 3),
        learning_rate="auto",
        init="random",
        max_iter=max_iter,
        random_state=seed,
    )
    return tsne.fit_transform(x.double().numpy())  # (M, 2)


def image_silhouette(
    tokens: torch.Tensor,
    metric: str = "cosine",
    sample_size: int | None = None,
    seed: int = 0,
) -> float:
    """Silhouette score of patch tokens labelled by image ID (Fig E.2; ours, not the paper's code).

    Near 1: tokens cluster per image (CL, "image-level"); near 0 or below: tokens of
    different images intermingle (MIM, "token-level").
    tokens: (B, P, C) with B ≥ 2 images and P ≥ 2 tokens each. ``metric`` is any
    sklearn pairwise metric ("cosine" as suggested, "euclidean", ...). ``sample_size``
    (optional) scores a seeded random subset of tokens, for large B·P.
    """
    if tokens.dim() != 3:
        raise ValueError(f"tokens must have shape (B, P, C), got {tuple(tokens.shape)}")
    batch, num, _ = tokens.shape
    if batch < 2 or num < 2:
        raise ValueError(f"need at least 2 images and 2 tokens per image, got B={batch}, P={num}")
    x = _tokens_2d(tokens).double().numpy()  # (B·P, C)
    labels = np.repeat(np.arange(batch), num)  # image ID per token
    return float(silhouette_score(x, labels, metric=metric, sample_size=sample_size, random_state=seed))


def unison_ratio(before: torch.Tensor, after: torch.Tensor) -> torch.Tensor:
    """How much the tokens of one image move together: U = ‖mean_i Δ_i‖ / mean_i ‖Δ_i‖ (Sec. 3).

    Δ_i = after_i − before_i. U = 1 when every token moves by the same vector, U ≈ 1/√P
    for P independent random moves, U = 0 when nothing moves (guarded 0/0).
    before, after: (P, C) → 0-dim tensor, or (B, P, C) → (B,), one value per image.
    """
    if before.shape != after.shape or before.dim() not in (2, 3):
        raise ValueError(f"before and after must share shape (P, C) or (B, P, C), got {tuple(before.shape)} and {tuple(after.shape)}")
    delta = _as_float(after, "after") - _as_float(before, "before")  # (..., P, C)
    mean_move = delta.mean(dim=-2).norm(dim=-1)  # (...)
    mean_length = delta.norm(dim=-1).mean(dim=-1)  # (...)
    return mean_move / mean_length.clamp_min(torch.finfo(delta.dtype).tiny)


def singular_spectrum(tokens: torch.Tensor, center: bool = False) -> torch.Tensor:
    """Normalised singular values σ_j / Σσ of a token matrix, descending (Sec. 3, ours).

    tokens: (P, C) → (min(P, C),), or (B, P, C) → (B, min(P, C)) per image. With
    ``center=True`` the per-image mean token is subtracted first (then the common
    translation, which homogeneous CL tokens share, no longer counts as a direction).
    """
    if tokens.dim() not in (2, 3):
        raise ValueError(f"tokens must have shape (P, C) or (B, P, C), got {tuple(tokens.shape)}")
    x = _as_float(tokens, "tokens")  # (..., P, C)
    if center:
        x = x - x.mean(dim=-2, keepdim=True)
    # float64: more exact, and on CPU LAPACK's batched float32 SVD is ~10x slower here
    sigma = torch.linalg.svdvals(x.double())  # (..., min(P, C))
    sigma = sigma / sigma.sum(dim=-1, keepdim=True).clamp_min(torch.finfo(sigma.dtype).tiny)
    return sigma.to(x.dtype)


def effective_rank(tokens: torch.Tensor, center: bool = False) -> torch.Tensor:
    """Effective rank exp(H(σ/Σσ)) (natural log): 1 for a rank-1 matrix, n for the n×n identity.

    tokens: (P, C) → 0-dim tensor, or (B, P, C) → (B,). See :func:`singular_spectrum`.
    """
    p = singular_spectrum(tokens, center)  # (..., K)
    return torch.exp(-torch.special.xlogy(p, p).sum(dim=-1))


class Projection3D(NamedTuple):
    """Tokens before and after a layer on the top-3 singular directions of both sets together."""

    before: torch.Tensor  # (P, 3)
    after: torch.Tensor  # (P, 3)
    explained: torch.Tensor  # (3,) share of the total variance per direction


def svd_projection_3d(before: torch.Tensor, after: torch.Tensor) -> Projection3D:
    """Project tokens of one image before/after a layer onto shared top-3 right singular vectors (Sec. 3).

    Both sets are centred with their common mean, stacked to (2P, C), and decomposed by SVD;
    arrows from ``before[i]`` to ``after[i]`` then show how the layer moves each token.
    Singular-vector signs are fixed (largest-magnitude entry positive) for determinism.
    before, after: (P, C) with 2P ≥ 3 and C ≥ 3.
    """
    if before.shape != after.shape or before.dim() != 2:
        raise ValueError(f"before and after must share shape (P, C), got {tuple(before.shape)} and {tuple(after.shape)}")
    num, channels = before.shape
    if 2 * num < 3 or channels < 3:
        raise ValueError(f"need 2P ≥ 3 tokens and C ≥ 3 channels, got P={num}, C={channels}")
    stacked = torch.cat([_as_float(before, "before"), _as_float(after, "after")])  # (2P, C)
    stacked = stacked - stacked.mean(dim=0, keepdim=True)
    _, sigma, vh = torch.linalg.svd(stacked, full_matrices=False)  # vh: (K, C)
    top = vh[:3]  # (3, C)
    pivot = top.abs().argmax(dim=1)  # (3,)
    top = top * torch.sign(top.gather(1, pivot[:, None]))
    coords = stacked @ top.T  # (2P, 3)
    variance = sigma**2
    explained = variance[:3] / variance.sum().clamp_min(torch.finfo(variance.dtype).tiny)
    return Projection3D(before=coords[:num], after=coords[num:], explained=explained)
