"""Representation analyses (Sec. 3): silhouette, unison, spectra, t-SNE."""

import math

import numpy as np
import pytest
import torch

from sslvit_lite.analysis.representation import (
    effective_rank,
    image_silhouette,
    singular_spectrum,
    svd_projection_3d,
    token_tsne,
    unison_ratio,
)


def clustered_tokens(images=4, tokens=16, channels=8, spread=0.01, seed=0):
    """Each image's tokens sit tightly around their own random direction."""
    g = torch.Generator().manual_seed(seed)
    centres = 10 * torch.randn(images, 1, channels, generator=g, dtype=torch.float64)
    return centres + spread * torch.randn(images, tokens, channels, generator=g, dtype=torch.float64)


# ------------------------------------------------------------------ silhouette


def test_well_separated_images_have_silhouette_near_one():
    assert image_silhouette(clustered_tokens()) > 0.95
    assert image_silhouette(clustered_tokens(), metric="euclidean") > 0.95


def test_intermingled_tokens_have_silhouette_near_zero():
    g = torch.Generator().manual_seed(3)
    tokens = torch.randn(4, 32, 8, generator=g, dtype=torch.float64)  # same distribution for every image
    assert abs(image_silhouette(tokens)) < 0.1


def test_silhouette_with_sample_size_is_seeded():
    tokens = clustered_tokens(images=3, tokens=20, spread=3.0)
    a = image_silhouette(tokens, sample_size=30, seed=1)
    assert a == image_silhouette(tokens, sample_size=30, seed=1)


def test_silhouette_rejects_a_single_image():
    with pytest.raises(ValueError, match="at least 2 images"):
        image_silhouette(torch.randn(1, 10, 4))


# ------------------------------------------------------------------ unison


def test_identical_translation_gives_unison_one():
    before = torch.randn(2, 50, 16, dtype=torch.float64)
    shift = torch.randn(2, 1, 16, dtype=torch.float64)
    u = unison_ratio(before, before + shift)
    assert u.shape == (2,)
    assert torch.allclose(u, torch.ones(2, dtype=u.dtype))


def test_independent_random_moves_give_unison_near_one_over_sqrt_p():
    g = torch.Generator().manual_seed(0)
    before = torch.randn(196, 64, generator=g, dtype=torch.float64)
    after = before + torch.randn(196, 64, generator=g, dtype=torch.float64)
    u = unison_ratio(before, after).item()
    assert u < 0.15
    assert u == pytest.approx(1 / math.sqrt(196), rel=0.3)


def test_opposite_moves_cancel_and_no_move_is_zero():
    before = torch.zeros(2, 3)
    after = torch.tensor([[1.0, 0, 0], [-1.0, 0, 0]])
    assert unison_ratio(before, after).item() == 0.0
    assert unison_ratio(before, before).item() == 0.0


def test_unison_hand_computed():
    before = torch.zeros(2, 2, dtype=torch.float64)
    after = torch.tensor([[2.0, 0.0], [0.0, 2.0]], dtype=torch.float64)
    # mean Δ = (1, 1), ‖·‖ = √2; mean ‖Δ_i‖ = 2.
    assert unison_ratio(before, after).item() == pytest.approx(math.sqrt(2) / 2)


def test_unison_shape_mismatch_raises():
    with pytest.raises(ValueError, match="share shape"):
        unison_ratio(torch.zeros(3, 4), torch.zeros(4, 4))


# ------------------------------------------------------------------ spectra


def test_rank_one_matrix_has_effective_rank_one():
    u = torch.randn(30, 1, dtype=torch.float64)
    v = torch.randn(1, 12, dtype=torch.float64)
    assert effective_rank(u @ v).item() == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize("n", [1, 5, 32])
def test_identity_has_effective_rank_n(n):
    assert effective_rank(torch.eye(n, dtype=torch.float64)).item() == pytest.approx(n)


def test_effective_rank_batched_and_centred():
    tokens = torch.stack([torch.eye(6, dtype=torch.float64), torch.ones(6, 6, dtype=torch.float64)])
    er = effective_rank(tokens)
    assert er.shape == (2,)
    assert er.tolist() == pytest.approx([6.0, 1.0])
    # Centring removes the shared mean: the identity loses one direction (rank 5, equal σ).
    assert effective_rank(torch.eye(6, dtype=torch.float64), center=True).item() == pytest.approx(5.0)


def test_singular_spectrum_is_normalised_and_descending():
    s = singular_spectrum(torch.diag(torch.tensor([3.0, 1.0, 0.0, 4.0], dtype=torch.float64)))
    assert s.tolist() == pytest.approx([0.5, 0.375, 0.125, 0.0])


# ------------------------------------------------------------------ SVD projection


def test_svd_projection_preserves_a_translation_in_3d():
    g = torch.Generator().manual_seed(2)
    basis = torch.linalg.qr(torch.randn(20, 3, generator=g, dtype=torch.float64))[0].T  # (3, 20) orthonormal
    before = torch.randn(10, 3, generator=g, dtype=torch.float64) @ basis
    shift = torch.tensor([5.0, 0.0, 0.0], dtype=torch.float64) @ basis
    proj = svd_projection_3d(before, before + shift)
    assert proj.before.shape == (10, 3) and proj.after.shape == (10, 3)
    moves = proj.after - proj.before  # the same vector for every token, of length 5
    assert torch.allclose(moves, moves[:1].expand_as(moves), atol=1e-9)
    assert moves[0].norm().item() == pytest.approx(5.0)
    assert proj.explained.sum().item() == pytest.approx(1.0)  # data lies in 3-D


def test_svd_projection_is_deterministic_in_sign():
    before = torch.randn(8, 6, dtype=torch.float64)
    after = before + 0.1 * torch.randn(8, 6, dtype=torch.float64)
    a, b = svd_projection_3d(before, after), svd_projection_3d(before.clone(), after.clone())
    assert torch.equal(a.before, b.before)


# ------------------------------------------------------------------ t-SNE


def test_tsne_separates_clusters_and_is_seeded():
    tokens = clustered_tokens(images=3, tokens=10, channels=6, spread=0.1)
    points = token_tsne(tokens, perplexity=20, seed=0, max_iter=500)  # perplexity lowered to (30 − 1)/3
    assert points.shape == (30, 2)
    assert np.array_equal(points, token_tsne(tokens, perplexity=20, seed=0, max_iter=500))
    centres = points.reshape(3, 10, 2).mean(axis=1)
    within = np.linalg.norm(points.reshape(3, 10, 2) - centres[:, None], axis=-1).mean()
    between = min(np.linalg.norm(centres[i] - centres[j]) for i in range(3) for j in range(i + 1, 3))
    assert between > 3 * within


def test_tsne_rejects_too_few_points():
    with pytest.raises(ValueError, match="at least 4"):
        token_tsne(torch.randn(3, 4))
