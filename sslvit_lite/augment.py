"""Batch augmentations on the training device, with random parameters drawn per sample.

Each objective of Park et al. (ICLR 2023) trains on its upstream recipe (the official MoCo v3, SimMIM and MAE code):

- ``mocov3``: BYOL's asymmetric pair. RandomResizedCrop scale (0.08, 1), colour jitter
  (0.4, 0.4, 0.2, 0.1) with p 0.8, grayscale p 0.2, Gaussian blur σ ∈ [0.1, 2] with p 1.0 / 0.1,
  solarize p 0 / 0.2, horizontal flip. Two views.
- ``simmim``: RandomResizedCrop scale (0.67, 1), ratio (3/4, 4/3), flip. One view.
- ``mae``: RandomResizedCrop scale (0.2, 1), bicubic, flip. One view.
- ``hybrid``: the SimMIM view, then the two MoCo v3 views (3 views; see the hybrid objective).
- ``eval``: no augmentation, just the normalisation (probes, feature extraction, tests).

A recipe maps a uint8 batch (B, 3, H, W) on any device to a list of float32 views (B, 3, S, S),
normalised by the dataset mean/std. Everything stays on the batch's device: no CPU round trip, no
host synchronisation (parameters are drawn with ``torch.rand`` on the device), so a GPU
training step is never waiting for a data loader.

How each operation matches torchvision (the upstream recipes use torchvision/PIL):

- Crop + resize + flip are one ``F.grid_sample`` per view with a per-sample affine grid
  (``F.affine_grid``). The crop box is sampled as in ``RandomResizedCrop.get_params`` (10 tries of
  area/log-ratio, then the central fallback), but boxes are continuous (sub-pixel) instead of
  rounded to whole pixels. Bilinear (MAE: bicubic) resampling without antialiasing: crops are never
  larger than the image here, so resampling only upsamples when the data sits at training
  resolution.
- Colour jitter follows ``torchvision.transforms.functional`` (brightness = scale, contrast = blend
  with the per-image mean gray level, saturation = blend with the grayscale image, hue = shift in
  HSV), each factor drawn per sample, **in a random order per sample** as torchvision does. The
  three blends share one fused pass (:func:`_mix`); three such passes run before the single hue
  pass and three after it, each applying per sample the operation its permutation puts there
  (identity coefficients elsewhere), so there is no data-dependent indexing (no host sync).
- Grayscale uses ITU-R 601 luma weights (0.299, 0.587, 0.114) as PIL does (torchvision's tensor
  functions use 0.2989; the difference is below 1e-3).
- Gaussian blur: separable, per-sample σ, reflect padding, kernel radius ⌈3σ_max⌉. The σ range is
  given in pixels **at 224 px** (upstream) and scaled by ``img_size / 224``, so the blur removes
  the same fraction of the spectrum at 32 px as at 224 px (σ = 2 px unscaled would erase a
  CIFAR image). At 224 px the recipe is exactly upstream's.
- Solarize inverts pixels ≥ 0.5 (PIL's threshold 128).

Own code or kornia? Measured on 2 CPU cores shared with other jobs (so ±20 %; 1 torch thread; torch
2.14.1, kornia 0.9.0), augmentation alone, batch 256 at 32 px,
``python bench/throughput.py --augment-only --device cpu --threads 1 --steps 8``:

=========  =====  =====================  ==============================
recipe     views  this module (img/s)    kornia.augmentation (img/s)
=========  =====  =====================  ==============================
mocov3     2      742                    569
simmim     1      11,295                 4,967
mae        1      3,848                  3,053
hybrid     3      705                    575
=========  =====  =====================  ==============================

This module is as fast or faster, adds no dependency to install on Colab (kornia is not in
requirements.txt and need not be), draws the jitter order per sample as torchvision does (kornia's
``ColorJitter`` draws one order per call for the whole batch), and never synchronises with the host.
On a GPU the design target is about 250,000 images/s for two views on an H100; ``bench/throughput.py``
measures it (no GPU figure has been committed yet).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import torch
import torch.nn.functional as F

LUMA = (0.299, 0.587, 0.114)
RECIPES = ("mocov3", "simmim", "mae", "hybrid", "eval")
UPSTREAM_SIZE = 224  # the resolution at which upstream recipes give blur σ in pixels


# ----------------------------------------------------------------------------------------------
# random parameters


def _uniform(batch: int, low: float, high: float, device, generator) -> torch.Tensor:
    return low + (high - low) * torch.rand(batch, device=device, generator=generator)  # (B,)


def _bernoulli(batch: int, p: float, device, generator) -> torch.Tensor:
    return torch.rand(batch, device=device, generator=generator) < p  # (B,) bool


def sample_crop_boxes(
    batch: int,
    height: int,
    width: int,
    scale: tuple[float, float] = (0.08, 1.0),
    ratio: tuple[float, float] = (3 / 4, 4 / 3),
    device: torch.device | str | None = None,
    generator: torch.Generator | None = None,
    tries: int = 10,
) -> torch.Tensor:
    """RandomResizedCrop boxes, one per sample, as (B, 4) float ``[x0, y0, w, h]`` in pixels.

    Like torchvision's ``get_params``: area fraction ~ U(scale), log aspect ratio ~ U(log ratio);
    the first of ``tries`` candidates that fits inside the image is kept, else the central
    fallback (the whole image, its aspect clamped to ``ratio``). The position is uniform over all
    placements that fit. Boxes are continuous, not rounded to whole pixels.
    """
    _check_range("scale", scale, 0.0, 1.0)
    _check_range("ratio", ratio, 0.0, math.inf)
    area = float(height * width)
    target = area * _uniform(batch * tries, *scale, device, generator).view(batch, tries)  # (B, T)
    log_r = _uniform(batch * tries, math.log(ratio[0]), math.log(ratio[1]), device, generator)
    aspect = log_r.view(batch, tries).exp()  # (B, T)
    w = (target * aspect).sqrt()  # (B, T)
    h = (target / aspect).sqrt()  # (B, T)
    fits = (w <= width) & (h <= height)  # (B, T)
    first = fits.float().argmax(dim=1, keepdim=True)  # (B, 1): first fitting try (0 if none)
    w = w.gather(1, first).squeeze(1)  # (B,)
    h = h.gather(1, first).squeeze(1)  # (B,)
    any_fit = fits.any(dim=1)  # (B,)

    in_ratio = width / height
    if in_ratio < ratio[0]:
        fb_w, fb_h = float(width), width / ratio[0]
    elif in_ratio > ratio[1]:
        fb_w, fb_h = height * ratio[1], float(height)
    else:
        fb_w, fb_h = float(width), float(height)
    w = torch.where(any_fit, w, torch.full_like(w, fb_w))
    h = torch.where(any_fit, h, torch.full_like(h, fb_h))
    u = torch.rand(batch, 2, device=w.device, generator=generator)  # (B, 2)
    x0 = torch.where(any_fit, u[:, 0] * (width - w), (width - w) / 2)  # (B,)
    y0 = torch.where(any_fit, u[:, 1] * (height - h), (height - h) / 2)  # (B,)
    return torch.stack([x0, y0, w, h], dim=1)  # (B, 4)


def _check_range(name: str, pair: Sequence[float], low: float, high: float) -> None:
    if len(pair) != 2 or not (low < pair[0] <= pair[1] <= high):
        raise ValueError(f"{name} must be (min, max) with {low} < min <= max <= {high}, got {tuple(pair)}")


# ----------------------------------------------------------------------------------------------
# geometric: crop + resize + flip in one resampling


def resample_crops(
    images: torch.Tensor,
    boxes: torch.Tensor,
    flips: torch.Tensor,
    size: int,
    mode: str = "bilinear",
) -> torch.Tensor:
    """Crop ``boxes`` (B, 4) ``[x0, y0, w, h]`` px out of float ``images`` (B, C, H, W), resize to
    ``size``×``size`` and mirror the samples where ``flips`` (B,) is True. Returns (B, C, size, size).

    One ``grid_sample`` with ``align_corners=False``: normalised coordinate −1 is the left edge of
    pixel 0, so the full-image box without flip samples exactly the pixel centres (identity).
    """
    if mode not in ("bilinear", "bicubic", "nearest"):
        raise ValueError(f"mode must be bilinear, bicubic or nearest, got {mode!r}")
    b, c, height, width = images.shape
    x0, y0, w, h = boxes.to(images.dtype).unbind(1)  # each (B,)
    sx = (w / width) * (1.0 - 2.0 * flips.to(images.dtype))  # (B,): negative = mirrored
    sy = h / height  # (B,)
    tx = (2.0 * x0 + w) / width - 1.0  # (B,): box centre, normalised
    ty = (2.0 * y0 + h) / height - 1.0  # (B,)
    zero = torch.zeros_like(sx)
    theta = torch.stack([torch.stack([sx, zero, tx], 1), torch.stack([zero, sy, ty], 1)], 1)  # (B, 2, 3)
    grid = F.affine_grid(theta, [b, c, size, size], align_corners=False)  # (B, S, S, 2)
    out = F.grid_sample(images, grid, mode=mode, padding_mode="border", align_corners=False)  # (B, C, S, S)
    return out.clamp_(0.0, 1.0) if mode == "bicubic" else out


def random_resized_crop(
    images: torch.Tensor,
    size: int,
    scale: tuple[float, float] = (0.08, 1.0),
    ratio: tuple[float, float] = (3 / 4, 4 / 3),
    flip_p: float = 0.5,
    mode: str = "bilinear",
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """RandomResizedCrop + RandomHorizontalFlip(flip_p) on float (B, C, H, W) → (B, C, size, size)."""
    b, _, height, width = images.shape
    boxes = sample_crop_boxes(b, height, width, scale, ratio, images.device, generator)  # (B, 4)
    flips = _bernoulli(b, flip_p, images.device, generator)  # (B,)
    return resample_crops(images, boxes, flips, size, mode)


# ----------------------------------------------------------------------------------------------
# photometric (float images in [0, 1], factors per sample)


def grayscale(images: torch.Tensor) -> torch.Tensor:
    """Luma of float (B, 3, H, W) → (B, 1, H, W)."""
    r, g, b = images.unbind(1)
    return (LUMA[0] * r + LUMA[1] * g + LUMA[2] * b).unsqueeze(1)  # (B, 1, H, W)


def _mix(images: torch.Tensor, a: torch.Tensor, b: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """clamp(a·x + b·gray(x) + c·mean(gray(x)), 0, 1) with per-sample a, b, c (B,).

    Brightness is (f, 0, 0), contrast (f, 0, 1 − f), saturation (f, 1 − f, 0), identity (1, 0, 0):
    torchvision's three blends as one pass, so a round of per-sample operations costs one pass.
    """
    gray = grayscale(images)  # (B, 1, H, W)
    mean = gray.mean(dim=(1, 2, 3), keepdim=True)  # (B, 1, 1, 1)
    a, b, c = (t.view(-1, 1, 1, 1) for t in (a, b, c))
    return (a * images + b * gray + c * mean).clamp_(0.0, 1.0)  # (B, 3, H, W)


def adjust_brightness(images: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    """torchvision ``adjust_brightness`` with a per-sample factor (B,)."""
    zero = torch.zeros_like(factor)
    return _mix(images, factor, zero, zero)


def adjust_contrast(images: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    """torchvision ``adjust_contrast``: blend with the image's mean gray level, per-sample factor (B,)."""
    return _mix(images, factor, torch.zeros_like(factor), 1.0 - factor)


def adjust_saturation(images: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    """torchvision ``adjust_saturation``: blend with the grayscale image, per-sample factor (B,)."""
    return _mix(images, factor, 1.0 - factor, torch.zeros_like(factor))


def rgb_to_hsv(images: torch.Tensor) -> torch.Tensor:
    """float RGB (B, 3, H, W) in [0, 1] → HSV (B, 3, H, W), hue in [0, 1)."""
    r, g, b = images.unbind(1)  # each (B, H, W)
    value = torch.maximum(torch.maximum(r, g), b)  # (B, H, W)
    delta = value - torch.minimum(torch.minimum(r, g), b)  # (B, H, W)
    safe = torch.where(delta > 0, delta, torch.ones_like(delta))
    hue = torch.where(value == r, (g - b) / safe, torch.where(value == g, (b - r) / safe + 2.0, (r - g) / safe + 4.0))
    hue = torch.where(delta > 0, hue / 6.0, torch.zeros_like(hue))  # (B, H, W) in [-1/6, 1)
    hue = torch.where(hue < 0, hue + 1.0, hue)
    sat = delta / torch.where(value > 0, value, torch.ones_like(value))  # (B, H, W), 0 where value = 0
    return torch.stack([hue, sat, value], dim=1)  # (B, 3, H, W)


def hsv_to_rgb(hsv: torch.Tensor) -> torch.Tensor:
    """HSV (B, 3, H, W) → RGB, by f(n) = V − V·S·clamp(min(k, 4 − k), 0, 1), k = (n + 6H) mod 6."""
    hue, sat, value = hsv.unbind(1)  # each (B, H, W)
    n = torch.tensor([5.0, 3.0, 1.0], device=hsv.device, dtype=hsv.dtype).view(1, 3, 1, 1)
    k = n + 6.0 * hue.unsqueeze(1)  # (B, 3, H, W) in [1, 11)
    k = torch.where(k >= 6.0, k - 6.0, k)
    ramp = torch.minimum(k, 4.0 - k).clamp_(0.0, 1.0)  # (B, 3, H, W)
    return value.unsqueeze(1) * (1.0 - sat.unsqueeze(1) * ramp)  # (B, 3, H, W)


def adjust_hue(images: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """Rotate hue by ``shift`` (B,) turns (torchvision's hue_factor); samples with shift 0 are returned unchanged."""
    hsv = rgb_to_hsv(images)  # (B, 3, H, W)
    hue = hsv[:, 0] + shift.view(-1, 1, 1)  # (B, H, W) in [-0.5, 1.5)
    hue = hue - hue.floor()
    shifted = hsv_to_rgb(torch.stack([hue, hsv[:, 1], hsv[:, 2]], dim=1))  # (B, 3, H, W)
    return torch.where((shift != 0).view(-1, 1, 1, 1), shifted, images)


def color_jitter(
    images: torch.Tensor,
    brightness: float = 0.4,
    contrast: float = 0.4,
    saturation: float = 0.2,
    hue: float = 0.1,
    p: float = 0.8,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """RandomApply(ColorJitter(brightness, contrast, saturation, hue), p) on float (B, 3, H, W).

    Factors per sample: brightness/contrast/saturation ~ U(1 − s, 1 + s) (floored at 0), hue ~ U(−h, h);
    the four operations run in a random order drawn per sample, as in torchvision. Strength 0 is
    the identity. Cost: three fused blend passes before the (single) hue pass and three after it:
    round k of a phase applies, per sample, the k-th operation of its permutation when that falls
    on the phase's side of its hue operation, and the identity otherwise.
    """
    for name, value, high in (("brightness", brightness, math.inf), ("contrast", contrast, math.inf),
                              ("saturation", saturation, math.inf), ("hue", hue, 0.5)):
        if not 0.0 <= value <= high:
            raise ValueError(f"{name} must be in [0, {high}], got {value}")
    b, device = images.shape[0], images.device
    applied = _bernoulli(b, p, device, generator)  # (B,)
    fb, fc, fs = (_uniform(b, max(0.0, 1.0 - s), 1.0 + s, device, generator)
                  for s in (brightness, contrast, saturation))  # each (B,)
    shift = _uniform(b, -hue, hue, device, generator)  # (B,)
    order = torch.rand(b, 4, device=device, generator=generator).argsort(dim=1)  # (B, 4): 0 b, 1 c, 2 s, 3 hue
    hue_at = (order == 3).float().argmax(dim=1)  # (B,): position of the hue operation
    one, zero = torch.ones_like(fb), torch.zeros_like(fb)
    # per operation j: coefficients (a, b, c) of _mix
    coeffs = torch.stack([torch.stack([fb, zero, zero]), torch.stack([fc, zero, 1.0 - fc]),
                          torch.stack([fs, 1.0 - fs, zero]), torch.stack([one, zero, zero])])  # (4, 3, B)
    if not brightness:
        coeffs[0] = torch.stack([one, zero, zero])
    if not contrast:
        coeffs[1] = torch.stack([one, zero, zero])
    if not saturation:
        coeffs[2] = torch.stack([one, zero, zero])

    def blend_round(out: torch.Tensor, k: int, active: torch.Tensor) -> torch.Tensor:
        chosen = coeffs[order[:, k], :, torch.arange(b, device=device)]  # (B, 3)
        identity = torch.tensor([1.0, 0.0, 0.0], device=device, dtype=chosen.dtype)
        a, g, m = torch.where(active.unsqueeze(1), chosen, identity).unbind(1)
        return _mix(out, a, g, m)

    out = images
    if brightness or contrast or saturation:
        for k in range(3):  # before the hue operation
            out = blend_round(out, k, applied & (hue_at > k))
    if hue:
        out = adjust_hue(out, torch.where(applied, shift, torch.zeros_like(shift)))
    if brightness or contrast or saturation:
        for k in range(1, 4):  # after it
            out = blend_round(out, k, applied & (hue_at < k))
    return out


def random_grayscale(images: torch.Tensor, p: float = 0.2, generator: torch.Generator | None = None) -> torch.Tensor:
    """RandomGrayscale(p) on float (B, 3, H, W): chosen samples get their luma in all 3 channels."""
    chosen = _bernoulli(images.shape[0], p, images.device, generator).view(-1, 1, 1, 1)
    return torch.where(chosen, grayscale(images).expand_as(images), images)  # (B, 3, H, W)


def gaussian_blur(images: torch.Tensor, sigma: torch.Tensor, radius: int) -> torch.Tensor:
    """Separable Gaussian blur of float (B, C, H, W) with per-sample ``sigma`` (B,) px; σ = 0 is the identity.

    Kernel of 2·radius + 1 taps, reflect padding (as PIL/torchvision). Each axis is a weighted sum
    of shifted copies with per-sample weights (as fast as a depthwise conv for the few taps used
    here, and the same code on every device).
    """
    b, c, height, width = images.shape
    radius = min(radius, height - 1, width - 1)
    taps = torch.arange(-radius, radius + 1, device=images.device, dtype=images.dtype)  # (K,)
    s = sigma.to(images.dtype).clamp_min(1e-6).view(-1, 1)  # (B, 1)
    kernel = torch.exp(-0.5 * (taps / s) ** 2)  # (B, K)
    kernel = (kernel / kernel.sum(dim=1, keepdim=True)).view(b, 1, 1, 1, -1)  # (B, 1, 1, 1, K)
    x = F.pad(images, (radius, radius, 0, 0), mode="reflect")  # (B, C, H, W + 2r)
    x = sum(kernel[..., t] * x[..., t:t + width] for t in range(2 * radius + 1))  # (B, C, H, W)
    x = F.pad(x, (0, 0, radius, radius), mode="reflect")  # (B, C, H + 2r, W)
    return sum(kernel[..., t] * x[:, :, t:t + height] for t in range(2 * radius + 1))  # (B, C, H, W)


def random_gaussian_blur(
    images: torch.Tensor,
    p: float,
    sigma: tuple[float, float],
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """RandomApply(GaussianBlur(σ ~ U(sigma) px), p) on float (B, C, H, W)."""
    _check_range("sigma", sigma, 0.0, math.inf)
    b = images.shape[0]
    chosen = _bernoulli(b, p, images.device, generator)  # (B,)
    s = _uniform(b, *sigma, images.device, generator)  # (B,)
    s = torch.where(chosen, s, torch.zeros_like(s))
    blurred = gaussian_blur(images, s, radius=math.ceil(3 * sigma[1]))  # (B, C, H, W)
    return torch.where(chosen.view(-1, 1, 1, 1), blurred, images)


def random_solarize(images: torch.Tensor, p: float, threshold: float = 0.5,
                    generator: torch.Generator | None = None) -> torch.Tensor:
    """RandomSolarize(threshold, p) on float (B, C, H, W): chosen samples invert pixels ≥ threshold."""
    chosen = _bernoulli(images.shape[0], p, images.device, generator).view(-1, 1, 1, 1)
    return torch.where(chosen & (images >= threshold), 1.0 - images, images)  # (B, C, H, W)


# ----------------------------------------------------------------------------------------------
# recipes


@dataclass(frozen=True)
class ViewSpec:
    """One augmented view. ``blur_sigma`` is in pixels at 224 px (scaled to the training size)."""

    crop_scale: tuple[float, float] | None = (0.08, 1.0)  # None: no crop (resize only)
    crop_ratio: tuple[float, float] = (3 / 4, 4 / 3)
    flip_p: float = 0.5
    interpolation: str = "bilinear"
    jitter: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)  # brightness, contrast, saturation, hue
    jitter_p: float = 0.0
    gray_p: float = 0.0
    blur_p: float = 0.0
    blur_sigma: tuple[float, float] = (0.1, 2.0)
    solarize_p: float = 0.0


BYOL_1 = ViewSpec(jitter=(0.4, 0.4, 0.2, 0.1), jitter_p=0.8, gray_p=0.2, blur_p=1.0, solarize_p=0.0)
BYOL_2 = ViewSpec(jitter=(0.4, 0.4, 0.2, 0.1), jitter_p=0.8, gray_p=0.2, blur_p=0.1, solarize_p=0.2)
SIMMIM_VIEW = ViewSpec(crop_scale=(0.67, 1.0), crop_ratio=(3 / 4, 4 / 3))
MAE_VIEW = ViewSpec(crop_scale=(0.2, 1.0), interpolation="bicubic")
EVAL_VIEW = ViewSpec(crop_scale=None, flip_p=0.0)

RECIPE_VIEWS: dict[str, tuple[ViewSpec, ...]] = {
    "mocov3": (BYOL_1, BYOL_2),
    "simmim": (SIMMIM_VIEW,),
    "mae": (MAE_VIEW,),
    "hybrid": (SIMMIM_VIEW, BYOL_1, BYOL_2),
    "eval": (EVAL_VIEW,),
}


def augment_view(images: torch.Tensor, spec: ViewSpec, size: int,
                 generator: torch.Generator | None = None) -> torch.Tensor:
    """One view of float (B, 3, H, W) in [0, 1] → float (B, 3, size, size) in [0, 1]."""
    if spec.crop_scale is None:
        out = images if images.shape[-1] == size and images.shape[-2] == size else F.interpolate(
            images, size=(size, size), mode="bilinear", antialias=True, align_corners=False).clamp_(0.0, 1.0)
    else:
        out = random_resized_crop(images, size, spec.crop_scale, spec.crop_ratio, spec.flip_p,
                                  spec.interpolation, generator)  # (B, 3, S, S)
    if spec.jitter_p > 0:
        out = color_jitter(out, *spec.jitter, p=spec.jitter_p, generator=generator)
    if spec.gray_p > 0:
        out = random_grayscale(out, spec.gray_p, generator)
    if spec.blur_p > 0:
        scale = size / UPSTREAM_SIZE
        out = random_gaussian_blur(out, spec.blur_p, (spec.blur_sigma[0] * scale, spec.blur_sigma[1] * scale),
                                   generator)
    if spec.solarize_p > 0:
        out = random_solarize(out, spec.solarize_p, generator=generator)
    return out


class Recipe:
    """Callable uint8 (B, 3, H, W) → list of ``num_views`` normalised float32 views (B, 3, S, S)."""

    def __init__(self, name: str, views: Sequence[ViewSpec], img_size: int,
                 mean: Sequence[float], std: Sequence[float]):
        if img_size <= 0:
            raise ValueError(f"img_size must be positive, got {img_size}")
        if len(mean) != 3 or len(std) != 3 or min(std) <= 0:
            raise ValueError(f"mean and std need 3 channels with std > 0, got {mean}, {std}")
        self.name, self.views, self.img_size = name, tuple(views), img_size
        self.mean, self.std = tuple(float(m) for m in mean), tuple(float(s) for s in std)
        self._stats: dict[torch.device, tuple[torch.Tensor, torch.Tensor]] = {}

    @property
    def num_views(self) -> int:
        return len(self.views)

    def _normaliser(self, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        if device not in self._stats:
            self._stats[device] = (torch.tensor(self.mean, device=device).view(1, 3, 1, 1),
                                   torch.tensor(self.std, device=device).view(1, 3, 1, 1))
        return self._stats[device]

    def __call__(self, images: torch.Tensor, generator: torch.Generator | None = None) -> list[torch.Tensor]:
        if images.dtype != torch.uint8 or images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(f"expected uint8 (B, 3, H, W), got {images.dtype} {tuple(images.shape)}")
        x = images.float().div_(255.0)  # (B, 3, H, W) in [0, 1]
        mean, std = self._normaliser(x.device)
        return [(augment_view(x, spec, self.img_size, generator) - mean) / std for spec in self.views]

    def __repr__(self) -> str:
        return f"Recipe({self.name!r}, views={self.num_views}, img_size={self.img_size})"


def build_recipe(name: str, img_size: int, mean: Sequence[float], std: Sequence[float]) -> Callable:
    """The augmentation recipe ``name`` (one of :data:`RECIPES`) producing views of ``img_size`` px."""
    if name not in RECIPE_VIEWS:
        raise ValueError(f"unknown recipe {name!r}; valid: {', '.join(RECIPES)}")
    return Recipe(name, RECIPE_VIEWS[name], img_size, mean, std)
