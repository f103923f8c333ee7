"""Shape vs texture and robustness to frequency-band noise (claims 17–18, ours: the paper only argues them).

**These tests are ours, not the paper's.** The paper argues "CL is shape-biased, MIM is
texture-biased" from its Fourier analysis; whether it ran noise-robustness or cue-conflict
experiments, and with which numbers, is not known (we found no published code or numbers). We provide:

- Band-limited noise after the authors' earlier work ("How Do ViTs Work?", HDVW,
  ``ops/adversarial.py``, [EXT]): ε·sign(N(0, 1)) per pixel, band-pass filtered in the 2-D
  FFT to a square annulus, then added to the (normalised) image.
  Our mask keeps exactly the bins whose L∞ angular frequency ω∞ = max(|ω_y|, |ω_x|)
  (rad/px, ω = 2π·fftfreq) lies in [f − s, f + s). HDVW builds the annulus from integer
  widths, which for even image sizes is off by one bin on one side; ours is symmetric, so
  the filtered noise is real and all its energy lies inside the band.
- A procedural, offline **cue-conflict** set of our own design (after Geirhos et al.,
  ICLR 2019): silhouettes of four shapes (circle, square, triangle, star) on a white
  background, filled with one of four textures (stripes, checker, dots, noise) in random
  colours. Class i pairs ``CUE_SHAPES[i]`` with ``CUE_TEXTURES[i]``; train a probe on
  :func:`cue_consistent_set`, predict on :func:`cue_conflict_set` (shape of class a, texture
  of class b ≠ a) and report :func:`shape_bias` = shape decisions / (shape + texture decisions).
"""

from __future__ import annotations

import math
from typing import Callable, NamedTuple, Sequence

import torch

CUE_SHAPES: tuple[str, ...] = ("circle", "square", "triangle", "star")
CUE_TEXTURES: tuple[str, ...] = ("stripes", "checker", "dots", "noise")
CUE_CLASSES: tuple[str, ...] = tuple(f"{s}/{t}" for s, t in zip(CUE_SHAPES, CUE_TEXTURES))
BACKGROUND = 255  # white; textures never use it, so the silhouette is "pixel != 255"
_MAX_TEXTURE_VALUE = 220  # brightest texture value, keeps textures off the background


# --------------------------------------------------------------------------- frequency noise


def band_pass_mask(height: int, width: int, f: float, s: float = 0.2, device=None) -> torch.Tensor:
    """Boolean (H, W) mask, in ``fft2`` (uncentred) layout, of bins with f − s ≤ ω∞ < f + s.

    ω∞ = max(|ω_y|, |ω_x|) in rad/px with ω = 2π·fftfreq(n): a square annulus in the
    centred spectrum. The mask is symmetric under k → −k except possibly at Nyquist.
    """
    if height < 1 or width < 1:
        raise ValueError(f"height and width must be positive, got {height}×{width}")
    if f < 0 or s <= 0:
        raise ValueError(f"need f ≥ 0 and s > 0 (rad/px), got f={f}, s={s}")
    wy = (2 * math.pi * torch.fft.fftfreq(height, device=device, dtype=torch.float64)).abs()  # (H,)
    wx = (2 * math.pi * torch.fft.fftfreq(width, device=device, dtype=torch.float64)).abs()  # (W,)
    radius = torch.maximum(wy[:, None], wx[None, :])  # (H, W)
    return (radius >= f - s) & (radius < f + s)


def band_limited_noise(
    images: torch.Tensor,
    f: float,
    s: float = 0.2,
    eps: float = 0.007,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """HDVW-style frequency-band noise for ``images`` (B, C, H, W); returns the noise, same shape.

    ε·sign(N(0, 1)) per pixel and channel, drawn on ``generator``'s device (CPU by default,
    so the pattern does not depend on the images' device), band-passed to
    f − s ≤ ω∞ < f + s rad/px (:func:`band_pass_mask`) keeping the phase, real part.
    Add it to normalised images (HDVW: ε = 0.007 in normalised units, s = 0.2, f from 0.1π
    to 0.9π). Its RMS is at most ε; a band covering all bins returns exactly ±ε.
    """
    if images.dim() != 4:
        raise ValueError(f"images must have shape (B, C, H, W), got {tuple(images.shape)}")
    if eps < 0:
        raise ValueError(f"eps must be ≥ 0, got {eps}")
    height, width = images.shape[-2:]
    gen_device = generator.device if generator is not None else torch.device("cpu")
    signs = torch.randn(images.shape, generator=generator, device=gen_device, dtype=torch.float64).sign()  # (B, C, H, W)
    spectrum = torch.fft.fft2(eps * signs)  # (B, C, H, W)
    mask = band_pass_mask(height, width, f, s, device=gen_device)  # (H, W)
    noise = torch.fft.ifft2(spectrum * mask).real  # (B, C, H, W)
    dtype = images.dtype if torch.is_floating_point(images) else torch.float32
    return noise.to(device=images.device, dtype=dtype)


def _accuracy(classify_fn: Callable, images: torch.Tensor, labels: torch.Tensor, batch_size: int) -> float:
    correct = 0
    for start in range(0, len(images), batch_size):
        scores = classify_fn(images[start : start + batch_size])  # (b, K)
        if scores.dim() != 2:
            raise ValueError(f"classify_fn must return class scores (B, K), got shape {tuple(scores.shape)}")
        correct += int((scores.argmax(dim=1).cpu() == labels[start : start + batch_size].cpu()).sum())
    return correct / len(images)


def accuracy_under_noise(
    classify_fn: Callable[[torch.Tensor], torch.Tensor],
    images: torch.Tensor,
    labels: torch.Tensor,
    freqs: Sequence[float],
    s: float = 0.2,
    eps: float = 0.007,
    seed: int = 0,
    batch_size: int = 256,
) -> dict:
    """Accuracy on clean images and under band-limited noise at each centre frequency (ours, not the paper's).

    classify_fn: normalised float images (b, C, H, W) → class scores (b, K).
    images: normalised float (B, C, H, W); labels: int (B,); freqs: centre frequencies in
    rad/px (e.g. ``[k * math.pi / 10 for k in range(1, 10)]``). Every frequency uses the same
    sign pattern (same ``seed``), so the curves differ only by the band.
    Returns a JSON-serialisable dict: ``freqs``, ``clean``, ``accuracy`` (per f) and
    ``delta`` (accuracy − clean, per f), plus ``s``, ``eps``, ``seed``.
    """
    if len(images) == 0 or len(images) != len(labels):
        raise ValueError(f"need as many labels as images (> 0), got {len(images)} images and {len(labels)} labels")
    if batch_size < 1:
        raise ValueError(f"batch_size must be ≥ 1, got {batch_size}")
    with torch.no_grad():
        clean = _accuracy(classify_fn, images, labels, batch_size)
        accuracy = []
        for f in freqs:
            generator = torch.Generator().manual_seed(seed)
            noisy = images + band_limited_noise(images, f, s, eps, generator)  # (B, C, H, W)
            accuracy.append(_accuracy(classify_fn, noisy, labels, batch_size))
    return {
        "freqs": [float(f) for f in freqs],
        "clean": clean,
        "accuracy": accuracy,
        "delta": [a - clean for a in accuracy],
        "s": float(s),
        "eps": float(eps),
        "seed": int(seed),
    }


# --------------------------------------------------------------------------- cue conflict


class CueSet(NamedTuple):
    """Procedural shape/texture images (ours). Class i = ``CUE_SHAPES[i]`` + ``CUE_TEXTURES[i]``."""

    images: torch.Tensor  # uint8 (N, 3, S, S), white background
    shape_labels: torch.Tensor  # int64 (N,), index into CUE_SHAPES
    texture_labels: torch.Tensor  # int64 (N,), index into CUE_TEXTURES
    classes: tuple[str, ...]


def _uniform(generator: torch.Generator, low: float, high: float) -> float:
    return low + (high - low) * float(torch.rand((), generator=generator))


def _inside_star(u: torch.Tensor, v: torch.Tensor, inner: float = 0.382) -> torch.Tensor:
    """Inside test for an upright regular pentagram (inner radius 0.382) of outer radius 1 (u right, v down)."""
    start = -math.pi / 2  # first outer vertex points up
    step = math.pi / 5
    theta = torch.atan2(v, u)  # (S, S)
    sector = torch.floor(torch.remainder(theta - start, 2 * math.pi) / step)  # 0..9
    radius_a = torch.where(sector.remainder(2) == 0, 1.0, inner)
    radius_b = torch.where(sector.remainder(2) == 0, inner, 1.0)
    angle_a = start + sector * step
    angle_b = angle_a + step
    ax, ay = radius_a * torch.cos(angle_a), radius_a * torch.sin(angle_a)
    bx, by = radius_b * torch.cos(angle_b), radius_b * torch.sin(angle_b)
    # The point is inside iff it lies on the centre's side of the edge A→B.
    side_point = (bx - ax) * (v - ay) - (by - ay) * (u - ax)
    side_centre = (bx - ax) * (0 - ay) - (by - ay) * (0 - ax)
    return side_point * side_centre >= 0


def shape_mask(shape: str, size: int, center: tuple[float, float], radius: float) -> torch.Tensor:
    """Boolean (size, size) silhouette of ``shape`` (one of :data:`CUE_SHAPES`), upright.

    center: (row, col) in pixels; radius: half the shape's extent in pixels.
    """
    if shape not in CUE_SHAPES:
        raise ValueError(f"unknown shape {shape!r}; valid: {', '.join(CUE_SHAPES)}")
    coords = torch.arange(size, dtype=torch.float64) + 0.5  # pixel centres
    v = (coords[:, None] - center[0]) / radius  # (S, 1) rows, downwards
    u = (coords[None, :] - center[1]) / radius  # (1, S) columns
    u, v = torch.broadcast_tensors(u, v)  # (S, S)
    if shape == "circle":
        return u**2 + v**2 <= 1.0
    if shape == "square":
        return torch.maximum(u.abs(), v.abs()) <= 0.8
    if shape == "triangle":  # apex up at v = −0.8, base at v = 0.8 with half-width 1
        return (v >= -0.8) & (v <= 0.8) & (u.abs() <= (v + 0.8) / 1.6)
    return _inside_star(u, v)


def _two_colours(generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """A dark and a light RGB colour with random hues, in random order: each (3,) uint8-range floats."""
    dark = torch.randint(0, 91, (3,), generator=generator).double()
    light = torch.randint(130, _MAX_TEXTURE_VALUE + 1, (3,), generator=generator).double()
    return (dark, light) if float(torch.rand((), generator=generator)) < 0.5 else (light, dark)


def texture_image(texture: str, size: int, generator: torch.Generator) -> torch.Tensor:
    """A (3, size, size) uint8 texture (one of :data:`CUE_TEXTURES`), random colours and phase.

    Pattern scales are given for 32 px and grow with ``size``: stripes of period 4–6 px,
    checker cells of 2–3 px, dots of radius 1.5 px every 6 px, or per-pixel colour noise.
    No texture value reaches the white background.
    """
    if texture not in CUE_TEXTURES:
        raise ValueError(f"unknown texture {texture!r}; valid: {', '.join(CUE_TEXTURES)}")
    if texture == "noise":
        return torch.randint(0, _MAX_TEXTURE_VALUE + 1, (3, size, size), generator=generator, dtype=torch.uint8)
    scale = size / 32
    rows = torch.arange(size, dtype=torch.float64)[:, None]  # (S, 1)
    cols = torch.arange(size, dtype=torch.float64)[None, :]  # (1, S)
    offset_r, offset_c = _uniform(generator, 0, 12 * scale), _uniform(generator, 0, 12 * scale)
    if texture == "stripes":
        period = scale * (4 if float(torch.rand((), generator=generator)) < 0.5 else 6)
        along = rows + offset_r if float(torch.rand((), generator=generator)) < 0.5 else cols + offset_c
        ink = torch.remainder(along, period) < period / 2  # (S, 1) or (1, S)
    elif texture == "checker":
        cell = scale * (2 if float(torch.rand((), generator=generator)) < 0.5 else 3)
        ink = torch.remainder(torch.floor((rows + offset_r) / cell) + torch.floor((cols + offset_c) / cell), 2) == 1
    else:  # dots
        spacing, radius = 6 * scale, 1.5 * scale
        dr = torch.remainder(rows + offset_r, spacing) - spacing / 2  # (S, 1)
        dc = torch.remainder(cols + offset_c, spacing) - spacing / 2  # (1, S)
        ink = dr**2 + dc**2 <= radius**2  # (S, S)
    ink = ink.expand(size, size)  # (S, S)
    ink_colour, paper_colour = _two_colours(generator)
    image = torch.where(ink[None], ink_colour[:, None, None], paper_colour[:, None, None])  # (3, S, S)
    return image.round().to(torch.uint8)


def _render(shape_ids: list[int], texture_ids: list[int], size: int, generator: torch.Generator) -> CueSet:
    images = torch.full((len(shape_ids), 3, size, size), BACKGROUND, dtype=torch.uint8)  # (N, 3, S, S)
    for i, (a, b) in enumerate(zip(shape_ids, texture_ids)):
        radius = size * _uniform(generator, 0.30, 0.40)
        jitter = size * 0.08
        center = (size / 2 + _uniform(generator, -jitter, jitter), size / 2 + _uniform(generator, -jitter, jitter))
        mask = shape_mask(CUE_SHAPES[a], size, center, radius)  # (S, S)
        fill = texture_image(CUE_TEXTURES[b], size, generator)  # (3, S, S)
        images[i] = torch.where(mask[None], fill, images[i])
    return CueSet(
        images=images,
        shape_labels=torch.tensor(shape_ids, dtype=torch.int64),
        texture_labels=torch.tensor(texture_ids, dtype=torch.int64),
        classes=CUE_CLASSES,
    )


def cue_consistent_set(num_per_class: int = 100, size: int = 32, seed: int = 0) -> CueSet:
    """Images whose shape and texture agree (class i: shape i filled with texture i), for training a probe.

    Ours, not the paper's. Deterministic for a seed. N = 4 · num_per_class, class-major order.
    """
    if num_per_class < 1 or size < 16:
        raise ValueError(f"need num_per_class ≥ 1 and size ≥ 16, got {num_per_class}, {size}")
    ids = [c for c in range(len(CUE_SHAPES)) for _ in range(num_per_class)]
    return _render(ids, ids, size, torch.Generator().manual_seed(seed))


def cue_conflict_set(num_per_pair: int = 10, size: int = 32, seed: int = 1) -> CueSet:
    """Cue-conflict images (ours, after Geirhos et al. 2019): shape of class a, texture of class b ≠ a.

    All 12 ordered pairs, ``num_per_pair`` images each (N = 12 · num_per_pair), random
    position, size, colours and texture phase. Deterministic for a seed.
    """
    if num_per_pair < 1 or size < 16:
        raise ValueError(f"need num_per_pair ≥ 1 and size ≥ 16, got {num_per_pair}, {size}")
    n = len(CUE_SHAPES)
    pairs = [(a, b) for a in range(n) for b in range(n) if a != b for _ in range(num_per_pair)]
    shapes, textures = zip(*pairs)
    return _render(list(shapes), list(textures), size, torch.Generator().manual_seed(seed))


def shape_bias(predictions: torch.Tensor, shape_labels: torch.Tensor, texture_labels: torch.Tensor) -> float:
    """Geirhos shape bias: shape decisions / (shape decisions + texture decisions) (ours, not the paper's).

    predictions, shape_labels, texture_labels: int (N,) class indices on cue-conflict images
    (shape ≠ texture class). Decisions matching neither cue are ignored. Returns NaN when no
    prediction matches either cue.
    """
    if not (predictions.shape == shape_labels.shape == texture_labels.shape) or predictions.dim() != 1:
        raise ValueError("predictions, shape_labels and texture_labels must be 1-D tensors of one length")
    if bool((shape_labels == texture_labels).any()):
        raise ValueError("cue-conflict images need shape_labels != texture_labels everywhere")
    shape_hits = int((predictions == shape_labels).sum())
    texture_hits = int((predictions == texture_labels).sum())
    total = shape_hits + texture_hits
    return shape_hits / total if total else float("nan")
