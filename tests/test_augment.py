import math

import pytest
import torch
import torchvision.transforms.functional as TF

from sslvit_lite import augment as A
from sslvit_lite.augment import RECIPES, build_recipe


def rand_images(n=8, size=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 3, size, size, generator=g)  # (B, 3, H, W) in [0, 1]


def binomial_band(n, p, sigmas=5.0):
    half = sigmas * math.sqrt(p * (1 - p) / n)
    return p - half, p + half


# -- crop boxes -----------------------------------------------------------------------------------


@pytest.mark.parametrize("scale,ratio", [((0.08, 1.0), (3 / 4, 4 / 3)), ((0.67, 1.0), (3 / 4, 4 / 3)),
                                         ((0.2, 1.0), (3 / 4, 4 / 3))])
def test_crop_boxes_inside_image_with_area_and_ratio_in_bounds(scale, ratio):
    g = torch.Generator().manual_seed(1)
    boxes = A.sample_crop_boxes(4000, 32, 24, scale, ratio, generator=g)  # (B, 4)
    x0, y0, w, h = boxes.unbind(1)
    eps = 1e-4
    assert (x0 >= -eps).all() and (y0 >= -eps).all()
    assert (x0 + w <= 24 + eps).all() and (y0 + h <= 32 + eps).all()
    area = w * h / (32 * 24)
    assert area.min() >= scale[0] - eps and area.max() <= scale[1] + eps
    aspect = w / h
    assert aspect.min() >= ratio[0] - eps and aspect.max() <= ratio[1] + eps
    # areas spread over the range (not all at one end)
    assert area.std() > 0.1 * (scale[1] - scale[0])


def test_crop_fallback_is_central_with_clamped_aspect():
    # no candidate fits: aspect 3..4 with 90 % of the area is wider than a square image
    boxes = A.sample_crop_boxes(5, 32, 32, scale=(0.9, 1.0), ratio=(3.0, 4.0))
    expected = torch.tensor([0.0, (32 - 32 / 3) / 2, 32.0, 32 / 3]).expand(5, 4)
    torch.testing.assert_close(boxes, expected)


def test_crop_rejects_bad_ranges():
    with pytest.raises(ValueError, match="scale"):
        A.sample_crop_boxes(2, 8, 8, scale=(0.5, 0.2))
    with pytest.raises(ValueError, match="ratio"):
        A.sample_crop_boxes(2, 8, 8, ratio=(0.0, 1.0))


# -- resampling -----------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["bilinear", "bicubic"])
def test_identity_box_without_flip_is_the_identity(mode):
    x = rand_images()
    full = torch.tensor([[0.0, 0.0, 16.0, 16.0]]).expand(8, 4)
    out = A.resample_crops(x, full, torch.zeros(8, dtype=torch.bool), 16, mode)
    torch.testing.assert_close(out, x, atol=1e-5, rtol=0)  # float rounding of the grid; 1/255 ≈ 4e-3


def test_full_box_with_flip_mirrors_exactly():
    x = rand_images()
    full = torch.tensor([[0.0, 0.0, 16.0, 16.0]]).expand(8, 4)
    flips = torch.tensor([True, False] * 4)
    out = A.resample_crops(x, full, flips, 16)
    torch.testing.assert_close(out[flips], x[flips].flip(-1), atol=1e-6, rtol=0)
    torch.testing.assert_close(out[~flips], x[~flips], atol=1e-6, rtol=0)


def test_half_size_box_at_native_scale_is_the_pixel_crop():
    x = rand_images(size=32)
    box = torch.tensor([[8.0, 4.0, 16.0, 16.0]]).expand(8, 4)
    out = A.resample_crops(x, box, torch.zeros(8, dtype=torch.bool), 16)
    torch.testing.assert_close(out, x[:, :, 4:20, 8:24], atol=1e-6, rtol=0)


def test_flip_rate_is_one_half():
    n = 4000
    x = torch.zeros(n, 3, 8, 8)
    x[..., 4:] = 1.0  # dark left half, bright right half
    g = torch.Generator().manual_seed(2)
    out = A.random_resized_crop(x, 8, scale=(1.0, 1.0), ratio=(1.0, 1.0), flip_p=0.5, generator=g)
    flipped = out[..., :4].mean(dim=(1, 2, 3)) > out[..., 4:].mean(dim=(1, 2, 3))
    low, high = binomial_band(n, 0.5)
    assert low < flipped.float().mean() < high


# -- photometric ----------------------------------------------------------------------------------


def test_zero_strength_jitter_is_the_identity():
    x = rand_images()
    out = A.color_jitter(x, 0.0, 0.0, 0.0, 0.0, p=1.0)
    assert torch.equal(out, x)


def test_factor_one_blends_and_zero_hue_are_exact_identities():
    x = rand_images()
    one = torch.ones(8)
    for op in (A.adjust_brightness, A.adjust_contrast, A.adjust_saturation):
        assert torch.equal(op(x, one), x)
    assert torch.equal(A.adjust_hue(x, torch.zeros(8)), x)


@pytest.mark.parametrize("ours,theirs,factors", [
    (A.adjust_brightness, TF.adjust_brightness, [0.6, 1.0, 1.4]),
    (A.adjust_contrast, TF.adjust_contrast, [0.6, 1.0, 1.4]),
    (A.adjust_saturation, TF.adjust_saturation, [0.8, 1.0, 1.2]),
    (A.adjust_hue, TF.adjust_hue, [-0.1, 0.05, 0.1]),
])
def test_colour_operations_match_torchvision(ours, theirs, factors):
    x = rand_images(3)
    out = ours(x, torch.tensor(factors))
    expected = torch.stack([theirs(x[i], f) for i, f in enumerate(factors)])
    # luma weights: PIL's 0.299 here vs torchvision's 0.2989 → differences of order 1e-4
    torch.testing.assert_close(out, expected, atol=2e-3, rtol=0)


def test_hsv_round_trip():
    x = rand_images()
    torch.testing.assert_close(A.hsv_to_rgb(A.rgb_to_hsv(x)), x, atol=1e-5, rtol=0)


def test_jitter_applies_each_sample_its_own_random_order():
    """Recompute the jitter sample by sample, in its drawn order, from the same random draws."""
    b, p = 64, 0.8
    x = rand_images(b)
    out = A.color_jitter(x, 0.4, 0.4, 0.2, 0.1, p=p, generator=torch.Generator().manual_seed(3))
    g = torch.Generator().manual_seed(3)  # replay the draws in the order color_jitter makes them
    applied = torch.rand(b, generator=g) < p
    factors = [lo + (hi - lo) * torch.rand(b, generator=g) for lo, hi in ((0.6, 1.4), (0.6, 1.4), (0.8, 1.2))]
    shift = -0.1 + 0.2 * torch.rand(b, generator=g)
    order = torch.rand(b, 4, generator=g).argsort(dim=1)
    ops = (A.adjust_brightness, A.adjust_contrast, A.adjust_saturation, A.adjust_hue)
    values = (*factors, shift)
    for i in range(b):
        expected = x[i:i + 1]
        if applied[i]:
            for j in order[i].tolist():
                expected = ops[j](expected, values[j][i:i + 1])
        torch.testing.assert_close(out[i:i + 1], expected, atol=1e-5, rtol=0)
    assert len({tuple(o) for o in order[applied].tolist()}) > 10  # many different orders were used


def test_jitter_keeps_dtype_range_and_rate():
    n = 2000
    x = rand_images(n, size=4)
    out = A.color_jitter(x, 0.4, 0.4, 0.2, 0.1, p=0.8, generator=torch.Generator().manual_seed(4))
    assert out.dtype == torch.float32 and out.shape == x.shape
    assert out.min() >= 0.0 and out.max() <= 1.0
    changed = (out != x).flatten(1).any(dim=1).float().mean()
    low, high = binomial_band(n, 0.8)
    assert low < changed < high


def test_jitter_rejects_bad_strengths():
    with pytest.raises(ValueError, match="hue"):
        A.color_jitter(rand_images(), hue=0.7)
    with pytest.raises(ValueError, match="brightness"):
        A.color_jitter(rand_images(), brightness=-0.1)


def test_grayscale_has_equal_channels_and_rate():
    n = 2000
    x = rand_images(n, size=4)
    out = A.random_grayscale(x, p=0.2, generator=torch.Generator().manual_seed(5))
    gray = (out[:, 0] == out[:, 1]).all(dim=(1, 2)) & (out[:, 1] == out[:, 2]).all(dim=(1, 2))
    low, high = binomial_band(n, 0.2)
    assert low < gray.float().mean() < high
    assert torch.equal(out[~gray], x[~gray])
    all_gray = A.random_grayscale(x[:8], p=1.0)
    torch.testing.assert_close(all_gray[:, 0], 0.299 * x[:8, 0] + 0.587 * x[:8, 1] + 0.114 * x[:8, 2])


@pytest.mark.parametrize("sigma", [0.5, 1.3])
def test_blur_matches_torchvision(sigma):
    x = rand_images(2)
    radius = math.ceil(3 * sigma)
    out = A.gaussian_blur(x, torch.full((2,), sigma), radius)
    expected = TF.gaussian_blur(x, [2 * radius + 1] * 2, [sigma, sigma])
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=0)


def test_blur_per_sample_sigma_and_identities():
    x = rand_images(3)
    out = A.gaussian_blur(x, torch.tensor([0.0, 1.0, 2.0]), radius=6)
    assert torch.equal(out[0], x[0])  # σ = 0: identity
    sharpness = [(o[..., 1:] - o[..., :-1]).abs().mean() for o in out]
    assert sharpness[0] > sharpness[1] > sharpness[2]  # more σ, smoother image
    const = torch.full((2, 3, 8, 8), 0.3)
    torch.testing.assert_close(A.gaussian_blur(const, torch.tensor([1.0, 2.0]), 3), const)


def test_solarize_inverts_bright_pixels_only():
    x = rand_images()
    out = A.random_solarize(x, p=1.0)
    torch.testing.assert_close(out, torch.where(x >= 0.5, 1 - x, x))
    assert torch.equal(A.random_solarize(x, p=0.0), x)


# -- recipes --------------------------------------------------------------------------------------

MEAN, STD = (0.5, 0.4, 0.3), (0.2, 0.25, 0.3)


@pytest.mark.parametrize("name,views", [("mocov3", 2), ("simmim", 1), ("mae", 1), ("hybrid", 3), ("eval", 1)])
def test_recipes_give_normalised_float_views(name, views):
    x = (rand_images(16, size=24) * 255).round().to(torch.uint8)
    recipe = build_recipe(name, 16, MEAN, STD)
    out = recipe(x, generator=torch.Generator().manual_seed(0))
    assert recipe.num_views == views == len(out)
    mean, std = torch.tensor(MEAN).view(1, 3, 1, 1), torch.tensor(STD).view(1, 3, 1, 1)
    for v in out:
        assert v.dtype == torch.float32 and v.shape == (16, 3, 16, 16)
        pixels = v * std + mean
        assert pixels.min() >= -1e-5 and pixels.max() <= 1 + 1e-5


def test_eval_recipe_only_normalises():
    x = (rand_images(4) * 255).round().to(torch.uint8)
    (out,) = build_recipe("eval", 16, MEAN, STD)(x)
    expected = (x.float() / 255 - torch.tensor(MEAN).view(1, 3, 1, 1)) / torch.tensor(STD).view(1, 3, 1, 1)
    torch.testing.assert_close(out, expected)


def test_recipes_are_reproducible_with_a_generator_and_views_differ():
    x = (rand_images(8) * 255).round().to(torch.uint8)
    recipe = build_recipe("mocov3", 16, MEAN, STD)
    a = recipe(x, generator=torch.Generator().manual_seed(7))
    b = recipe(x, generator=torch.Generator().manual_seed(7))
    assert all(torch.equal(u, v) for u, v in zip(a, b, strict=True))
    assert not torch.equal(a[0], a[1])


def test_unknown_recipe_and_bad_input_are_rejected():
    with pytest.raises(ValueError, match="valid: " + ", ".join(RECIPES)):
        build_recipe("byol", 16, MEAN, STD)
    with pytest.raises(ValueError, match="uint8"):
        build_recipe("mae", 16, MEAN, STD)(rand_images())


def test_blur_sigma_scales_with_resolution():
    # at 224 px the MoCo v3 blur is σ ∈ [0.1, 2] px; at 32 px the same relative blur is ≤ 2·32/224 px
    x = torch.zeros(1, 3, 32, 32)
    x[..., 16:] = 1.0
    out = A.augment_view(x, A.ViewSpec(crop_scale=None, flip_p=0.0, blur_p=1.0, blur_sigma=(2.0, 2.0)), 32)
    edge = out[0, 0, 0, 14:18]
    assert edge[0] < 1e-3 and edge[-1] > 1 - 1e-3  # σ = 0.29 px: the step stays sharp at ±2 px
