"""Band-limited noise and the cue-conflict set (ours, not the paper's)."""

import math

import pytest
import torch

from sslvit_lite.analysis.robustness import (
    BACKGROUND,
    CUE_SHAPES,
    CUE_TEXTURES,
    accuracy_under_noise,
    band_limited_noise,
    band_pass_mask,
    cue_conflict_set,
    cue_consistent_set,
    shape_bias,
    shape_mask,
    texture_image,
)

# ------------------------------------------------------------------ band-limited noise


def linf_radius(h, w):
    wy = (2 * math.pi * torch.fft.fftfreq(h, dtype=torch.float64)).abs()
    wx = (2 * math.pi * torch.fft.fftfreq(w, dtype=torch.float64)).abs()
    return torch.maximum(wy[:, None], wx[None, :])


@pytest.mark.parametrize("f", [0.1 * math.pi, 0.5 * math.pi, 0.9 * math.pi])
def test_noise_energy_lies_inside_the_band(f):
    images = torch.zeros(3, 3, 32, 32)
    noise = band_limited_noise(images, f, s=0.2, eps=0.007, generator=torch.Generator().manual_seed(0))
    energy = torch.fft.fft2(noise.double()).abs() ** 2  # (B, C, H, W)
    radius = linf_radius(32, 32)
    inside = (radius >= f - 0.2) & (radius < f + 0.2)
    assert energy[..., inside].sum() > 0
    assert energy[..., ~inside].sum() < 1e-12 * energy[..., inside].sum()


def test_band_mask_is_a_square_annulus_symmetric_under_negation():
    mask = band_pass_mask(16, 16, 0.5 * math.pi, 0.2)
    flipped = torch.roll(torch.flip(mask, dims=(0, 1)), shifts=(1, 1), dims=(0, 1))  # k → −k
    assert torch.equal(mask, flipped)
    # Hand check on 16 px: ω = 2πk/16, band [0.5π − 0.2, 0.5π + 0.2) = [1.371, 1.771) holds k = 4 only.
    assert set(linf_radius(16, 16)[mask].mul(16 / (2 * math.pi)).round().tolist()) == {4.0}


def test_full_band_returns_exact_sign_noise_and_empty_band_returns_zero():
    images = torch.zeros(2, 3, 16, 16)
    full = band_limited_noise(images, f=2.0, s=2.0, eps=0.01, generator=torch.Generator().manual_seed(1))
    assert torch.allclose(full.abs(), torch.full_like(full, 0.01), atol=1e-7)  # ω∞ ≤ π < 4 covers all
    empty = band_limited_noise(images, f=5.0, s=0.2, eps=0.01, generator=torch.Generator().manual_seed(1))
    assert torch.count_nonzero(empty) == 0


def test_noise_rms_is_bounded_by_eps_and_scales_with_it():
    images = torch.zeros(4, 3, 32, 32)
    small = band_limited_noise(images, 0.5 * math.pi, eps=0.007, generator=torch.Generator().manual_seed(2))
    large = band_limited_noise(images, 0.5 * math.pi, eps=0.07, generator=torch.Generator().manual_seed(2))
    assert 0 < small.pow(2).mean().sqrt() <= 0.007
    assert torch.allclose(large, 10 * small, atol=1e-8)


def test_noise_is_seeded_and_matches_image_dtype():
    images = torch.zeros(1, 3, 8, 8, dtype=torch.float32)
    a = band_limited_noise(images, 1.0, generator=torch.Generator().manual_seed(3))
    b = band_limited_noise(images, 1.0, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a, b) and a.dtype == torch.float32 and a.shape == images.shape


def test_accuracy_under_noise_with_a_classifier_blind_to_high_frequencies():
    g = torch.Generator().manual_seed(4)
    labels = torch.randint(0, 2, (64,), generator=g)
    images = (2.0 * labels.float() - 1.0)[:, None, None, None].expand(64, 3, 16, 16).clone()  # ±1 constant

    def mean_classifier(x):  # reads only the DC component: sign of the mean
        m = x.mean(dim=(1, 2, 3))
        return torch.stack([-m, m], dim=1)

    freqs = [0.1 * math.pi, 0.9 * math.pi]
    result = accuracy_under_noise(mean_classifier, images, labels, freqs, eps=5.0, batch_size=16)
    assert result["clean"] == 1.0
    assert result["accuracy"][1] == 1.0  # high-frequency noise has zero mean
    assert result["delta"] == [a - 1.0 for a in result["accuracy"]]
    assert result["freqs"] == pytest.approx(freqs)


def test_accuracy_under_noise_validates():
    with pytest.raises(ValueError, match="labels"):
        accuracy_under_noise(lambda x: x, torch.zeros(2, 3, 8, 8), torch.zeros(3), [1.0])
    with pytest.raises(ValueError, match=r"\(B, K\)"):
        accuracy_under_noise(lambda x: x.mean(dim=(1, 2, 3)), torch.zeros(2, 3, 8, 8), torch.zeros(2), [1.0])
    with pytest.raises(ValueError, match="s > 0"):
        band_pass_mask(8, 8, 1.0, 0.0)


# ------------------------------------------------------------------ cue conflict


def foreground(image):
    return (image != BACKGROUND).any(dim=0)  # (S, S)


# Typical bounding-box fill of each digitised silhouette at 32 px (exact shapes: π/4, 1, 1/2, 0.33).
FILL_RATIO = {"circle": 0.79, "square": 1.0, "triangle": 0.53, "star": 0.37}


def shape_reader(image):
    """Reads only the silhouette: fraction of its bounding box that it fills."""
    mask = foreground(image)
    rows, cols = torch.nonzero(mask, as_tuple=True)
    box = (rows.max() - rows.min() + 1) * (cols.max() - cols.min() + 1)
    fill = mask.sum().item() / box.item()
    return min(range(4), key=lambda i: abs(FILL_RATIO[CUE_SHAPES[i]] - fill))


def texture_reader(image):
    """Reads only the pixels inside the silhouette, ignoring its outline."""
    mask = foreground(image)
    colours = image.permute(1, 2, 0)[mask]  # (M, 3)
    unique, counts = torch.unique(colours, dim=0, return_counts=True)
    if len(unique) > 2:
        return CUE_TEXTURES.index("noise")
    codes = (image.long() * torch.tensor([65536, 256, 1])[:, None, None]).sum(0)  # one code per colour
    rows_constant = all(len(torch.unique(codes[r][mask[r]])) <= 1 for r in range(mask.shape[0]))
    cols_constant = all(len(torch.unique(codes[:, c][mask[:, c]])) <= 1 for c in range(mask.shape[1]))
    if rows_constant or cols_constant:
        return CUE_TEXTURES.index("stripes")
    minority = counts.min().item() / counts.sum().item()
    return CUE_TEXTURES.index("dots" if minority < 0.35 else "checker")


def predict(reader, images):
    return torch.tensor([reader(im) for im in images])


def test_cue_sets_have_the_documented_layout():
    conflict = cue_conflict_set(num_per_pair=2, size=32, seed=0)
    assert conflict.images.shape == (24, 3, 32, 32) and conflict.images.dtype == torch.uint8
    assert torch.all(conflict.shape_labels != conflict.texture_labels)
    assert len(set(zip(conflict.shape_labels.tolist(), conflict.texture_labels.tolist()))) == 12
    consistent = cue_consistent_set(num_per_class=3, size=32, seed=0)
    assert torch.equal(consistent.shape_labels, consistent.texture_labels)
    assert consistent.classes[2] == "triangle/dots"
    # Textures never reach the background value, so the silhouette is exactly recoverable.
    assert all(foreground(im).sum() > 50 for im in conflict.images)


def test_cue_sets_are_deterministic_for_a_seed():
    a, b = cue_conflict_set(1, seed=5), cue_conflict_set(1, seed=5)
    assert torch.equal(a.images, b.images)
    assert not torch.equal(a.images, cue_conflict_set(1, seed=6).images)


def test_readers_recover_both_cues_on_consistent_images():
    data = cue_consistent_set(num_per_class=6, size=32, seed=3)
    assert torch.equal(predict(shape_reader, data.images), data.shape_labels)
    assert torch.equal(predict(texture_reader, data.images), data.texture_labels)


def test_shape_only_classifier_has_shape_bias_one_and_texture_only_zero():
    data = cue_conflict_set(num_per_pair=3, size=32, seed=1)
    by_shape = predict(shape_reader, data.images)
    by_texture = predict(texture_reader, data.images)
    assert shape_bias(by_shape, data.shape_labels, data.texture_labels) == 1.0
    assert shape_bias(by_texture, data.shape_labels, data.texture_labels) == 0.0


def test_shape_bias_hand_computed_and_edge_cases():
    shape = torch.tensor([0, 1, 2, 3])
    texture = torch.tensor([1, 2, 3, 0])
    preds = torch.tensor([0, 2, 2, 1])  # shape, texture, shape, neither
    assert shape_bias(preds, shape, texture) == pytest.approx(2 / 3)
    assert math.isnan(shape_bias(torch.tensor([2, 3, 0, 1]), shape, texture))
    with pytest.raises(ValueError, match="!="):
        shape_bias(shape, shape, shape)


def test_shape_and_texture_helpers_validate_names():
    with pytest.raises(ValueError, match="valid: circle"):
        shape_mask("hexagon", 32, (16, 16), 10)
    with pytest.raises(ValueError, match="valid: stripes"):
        texture_image("plaid", 32, torch.Generator())
    assert shape_mask("square", 32, (16.0, 16.0), 10).sum().item() == 16 * 16
