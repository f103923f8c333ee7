"""Fourier analysis of tokens (Fig 8): analytic anchors and a loop DFT reference."""

import cmath
import math

import numpy as np
import pytest
import torch

from sslvit_lite.analysis.fourier import (
    block_outputs,
    diagonal_profile,
    fourier_by_depth,
    fourier_log_amplitude,
    high_frequency_delta,
    mean_log_amplitude,
    tokens_to_maps,
)


def with_cls(patch_tokens):
    """Prepend a CLS token (random, must be ignored) to (B, P, C) tokens."""
    b, _, c = patch_tokens.shape
    cls = 1e3 * torch.randn(b, 1, c, dtype=patch_tokens.dtype)
    return torch.cat([cls, patch_tokens], dim=1)


def loop_delta(patch_tokens, side):
    """Plain DFT with loops: mean over (b, c) of log(|F[k, k]| + 1e-6), minus k = 0."""
    x = patch_tokens.numpy()
    b_, _, c_ = x.shape
    bins = side - side // 2
    mean_log = []
    for k in range(bins):
        total = 0.0
        for b in range(b_):
            for c in range(c_):
                f = sum(
                    x[b, r * side + s, c] * cmath.exp(-2j * math.pi * k * (r + s) / side)
                    for r in range(side)
                    for s in range(side)
                )
                total += math.log(abs(f) + 1e-6)
        mean_log.append(total / (b_ * c_))
    return np.array(mean_log) - mean_log[0]


def test_output_length_is_the_half_diagonal_and_starts_at_zero():
    for side, bins in [(14, 7), (8, 4), (7, 4), (2, 1)]:
        d = fourier_log_amplitude(torch.randn(2, 1 + side * side, 3), 1, (side, side))
        assert d.shape == (bins,)
        assert d[0].item() == 0.0


@pytest.mark.parametrize("side", [4, 5, 8])
def test_matches_loop_dft_reference(side):
    g = torch.Generator().manual_seed(side)
    patches = torch.randn(2, side * side, 3, generator=g, dtype=torch.float64)
    ours = fourier_log_amplitude(with_cls(patches), 1, (side, side))
    assert np.allclose(ours.numpy(), loop_delta(patches, side), atol=1e-9)


def test_cls_token_is_ignored():
    patches = torch.randn(3, 64, 5, dtype=torch.float64)
    a = fourier_log_amplitude(with_cls(patches), 1, (8, 8))
    b = fourier_log_amplitude(patches, 0, (8, 8))
    assert torch.allclose(a, b)


def test_white_noise_gives_a_flat_profile_offset_by_half_log_two():
    # DC of real white noise is a real Gaussian, the other diagonal bins complex Gaussians:
    # E log|complex| − E log|real| = (log 2)/2 for equal variance, so Δ(k ≥ 1) ≈ 0.347.
    g = torch.Generator().manual_seed(0)
    tokens = torch.randn(64, 1 + 196, 64, generator=g, dtype=torch.float64)
    d = fourier_log_amplitude(tokens, 1, (14, 14))
    expected = math.log(2) / 2
    assert torch.all((d[1:] - expected).abs() < 0.1), d
    assert (d[1:].max() - d[1:].min()).item() < 0.1  # flat across k ≥ 1
    assert abs(high_frequency_delta(tokens, 1, (14, 14)).item() - expected) < 0.1


def test_spatially_constant_tokens_are_maximally_low_pass():
    g = torch.Generator().manual_seed(1)
    values = 0.5 + torch.rand(4, 1, 8, generator=g, dtype=torch.float64)  # per image and channel
    tokens = values.expand(4, 1 + 196, 8)
    d = fourier_log_amplitude(tokens, 1, (14, 14))
    dc = 196 * values  # |DC| = R² · value
    expected = math.log(1e-6) - torch.log(dc + 1e-6).mean().item()
    assert torch.allclose(d[1:], torch.full((6,), expected, dtype=d.dtype), atol=1e-6)
    assert expected < -18


@pytest.mark.parametrize("k0", [1, 2, 3, 5])
def test_a_diagonal_cosine_peaks_at_its_frequency(k0):
    side = 14
    g = torch.Generator().manual_seed(k0)
    phase = 2 * math.pi * torch.rand(16, generator=g, dtype=torch.float64)  # per channel
    r, c = np.divmod(np.arange(side * side), side)
    wave = torch.tensor(2 * math.pi * k0 * (r + c) / side, dtype=torch.float64)
    patches = (1.0 + torch.cos(wave[None, :, None] + phase[None, None, :])).expand(2, -1, -1)
    d = fourier_log_amplitude(with_cls(patches), 1, (side, side))
    assert int(d[1:].argmax()) + 1 == k0
    assert d[k0].item() == pytest.approx(math.log(0.5), abs=1e-6)  # |F(k0,k0)| = R²/2, DC = R²


def test_mean_log_amplitude_centres_dc():
    tokens = torch.ones(1, 64, 2, dtype=torch.float64)
    m = mean_log_amplitude(tokens, 0, (8, 8))
    assert m.shape == (8, 8)
    assert int(m.argmax()) == 4 * 8 + 4  # DC rolled to (R//2, R//2)


def test_batch_weighted_maps_reproduce_the_single_batch_profile():
    tokens = torch.randn(7, 1 + 36, 5, dtype=torch.float64)
    parts = [tokens[:3], tokens[3:]]
    pooled = sum(len(p) * mean_log_amplitude(p, 1, (6, 6)) for p in parts) / len(tokens)
    assert torch.allclose(diagonal_profile(pooled), fourier_log_amplitude(tokens, 1, (6, 6)))
    with pytest.raises(ValueError, match="square grid"):
        diagonal_profile(torch.zeros(4, 5))


def test_tokens_to_maps_is_row_major():
    tokens = torch.arange(1 + 6, dtype=torch.float32).reshape(1, 7, 1)
    maps = tokens_to_maps(tokens, 1, (2, 3))
    assert maps.tolist() == [[[[1, 2, 3], [4, 5, 6]]]]


def test_batch_permutation_invariance():
    tokens = torch.randn(5, 1 + 64, 4, dtype=torch.float64)
    perm = torch.randperm(5)
    assert torch.allclose(fourier_log_amplitude(tokens, 1, (8, 8)), fourier_log_amplitude(tokens[perm], 1, (8, 8)))


def test_block_outputs_and_per_depth_curves():
    zs = [torch.full((2, 1 + 16, 3), float(i)) + torch.randn(2, 17, 3) for i in range(7)]  # L = 3 blocks
    outs = block_outputs(zs)
    assert [int(z.mean().round()) for z in outs] == [0, 2, 4, 6]
    curves = fourier_by_depth(outs, 1, (4, 4))
    assert curves.shape == (4, 2)
    assert torch.allclose(curves[2], fourier_log_amplitude(zs[4], 1, (4, 4)))


def test_bad_inputs_raise_clear_errors():
    with pytest.raises(ValueError, match="square grid"):
        fourier_log_amplitude(torch.randn(1, 1 + 12, 2), 1, (3, 4))
    with pytest.raises(ValueError, match="rows·cols"):
        fourier_log_amplitude(torch.randn(1, 1 + 15, 2), 1, (4, 4))
    with pytest.raises(ValueError, match=r"\(B, N, C\)"):
        fourier_log_amplitude(torch.randn(17, 2), 1, (4, 4))
    with pytest.raises(ValueError, match="2·L \\+ 1"):
        block_outputs([torch.zeros(1)] * 4)
    with pytest.raises(ValueError, match="empty"):
        fourier_by_depth([], 1, (4, 4))
