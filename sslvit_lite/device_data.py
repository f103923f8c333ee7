"""A dataset held on the training device as uint8, and an on-device epoch sampler.

Why: a ViT-Tiny step on CIFAR-10 is so cheap that a CPU DataLoader with two augmented views
caps MoCo v3 at about a fifth of what an H100 can do (measured: see bench/throughput.py). So the whole
training set lives on the GPU as uint8 (CIFAR-10 at 32 px: 150 MB), resized to the training
resolution once when it is placed there; batches are gathered by index and augmented on the GPU
(:mod:`sslvit_lite.augment`). The sampler draws one permutation per epoch and yields index batches;
no CPU DataLoader, no worker processes in the hot path.

When the images do not fit, :func:`to_device` refuses with a message saying what to do (a smaller
resolution, a subset, or ``placement="host"``: images in pinned host memory, one batch copied to the
device per step).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Iterator

import torch
import torch.nn.functional as F

PLACEMENTS = ("device", "host")
DEVICE_FRACTION = 0.5  # at most this share of the free accelerator memory goes to the images
HOST_FRACTION = 0.8  # at most this share of the available RAM
RESIZE_CHUNK = 4096  # images resized at a time


class DoesNotFitError(MemoryError):
    """The images would not fit into the memory they are meant to live in."""


def estimate_bytes(n: int, c: int, h: int, w: int) -> int:
    """Bytes of ``n`` uint8 images of ``c``×``h``×``w`` (one byte per value)."""
    if min(n, c, h, w) < 0:
        raise ValueError(f"sizes must be non-negative, got {(n, c, h, w)}")
    return n * c * h * w


def available_bytes(device: torch.device | str) -> int:
    """Free memory where tensors of ``device`` live: ``torch.cuda.mem_get_info`` on CUDA, MemAvailable on CPU."""
    device = torch.device(device)
    if device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(device)
        return int(free)
    if device.type == "cpu":
        try:
            with open("/proc/meminfo") as f:
                for line in f:
                    if line.startswith("MemAvailable:"):
                        return int(line.split()[1]) * 1024
        except OSError:
            pass
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    raise ValueError(f"unsupported device type {device.type!r}; valid: cpu, cuda")


def format_bytes(n: int) -> str:
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} B"


def check_fits(n: int, img_size: int, device: torch.device | str, placement: str = "device",
               fraction: float | None = None) -> int:
    """Bytes needed for ``n`` images at ``img_size`` px; raises :class:`DoesNotFitError` when they would not fit."""
    if placement not in PLACEMENTS:
        raise ValueError(f"unknown placement {placement!r}; valid: {', '.join(PLACEMENTS)}")
    device = torch.device(device)
    where = device if placement == "device" else torch.device("cpu")
    if fraction is None:
        fraction = DEVICE_FRACTION if where.type == "cuda" else HOST_FRACTION
    need = estimate_bytes(n, 3, img_size, img_size)
    free = available_bytes(where)
    if need > fraction * free:
        memory = f"{where} memory" if where.type == "cuda" else "RAM"
        advice = [
            f"a smaller resolution (img_size={img_size // 2} needs {format_bytes(need // 4)})",
            f"a subset (subset={max(1, int(fraction * free) // (3 * img_size * img_size))} images would fit)",
        ]
        if where.type == "cuda":
            advice.append("placement='host': keep the images in pinned host RAM and copy one batch per step")
        else:
            advice.append("a host-side loader that decodes images from disk per batch "
                          "(torchvision ImageFolder + DataLoader)")
        raise DoesNotFitError(
            f"{n:,} images of 3×{img_size}×{img_size} uint8 need {format_bytes(need)}, but only "
            f"{format_bytes(free)} of {memory} is free and at most {fraction:.0%} of it may hold the data. "
            f"Use {'; or '.join(advice)}.")
    return need


def _resize_uint8(images: torch.Tensor, size: int, device: torch.device) -> torch.Tensor:
    """uint8 (N, 3, H, W) on any device → uint8 (N, 3, size, size) on ``device``, in chunks (antialiased bilinear)."""
    out = torch.empty((images.shape[0], 3, size, size), dtype=torch.uint8, device=device)
    for start in range(0, images.shape[0], RESIZE_CHUNK):
        chunk = images[start:start + RESIZE_CHUNK].to(device, non_blocking=True).float()  # (n, 3, H, W)
        resized = F.interpolate(chunk, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
        out[start:start + RESIZE_CHUNK] = resized.round_().clamp_(0, 255).to(torch.uint8)  # (n, 3, S, S)
    return out


@dataclass
class DeviceImages:
    """Training images resident in memory: ``images`` uint8 (N, 3, S, S), ``labels`` int64 (N,).

    ``images`` live on ``device`` (placement "device") or in pinned host memory (placement "host");
    :meth:`batch` always returns the batch on ``device``.
    """

    images: torch.Tensor
    labels: torch.Tensor
    device: torch.device
    placement: str = "device"

    def __len__(self) -> int:
        return self.images.shape[0]

    @property
    def nbytes(self) -> int:
        return self.images.numel() * self.images.element_size()

    @property
    def img_size(self) -> int:
        return self.images.shape[-1]

    def batch(self, indices: torch.Tensor) -> torch.Tensor:
        """uint8 (B, 3, S, S) on ``device`` for ``indices`` (B,) int64."""
        if self.placement == "device":
            return self.images.index_select(0, indices)  # (B, 3, S, S)
        picked = self.images.index_select(0, indices.cpu())  # (B, 3, S, S) on the host (indices should be too)
        return picked.pin_memory().to(self.device, non_blocking=True) if self.device.type == "cuda" else picked


def to_device(
    images: torch.Tensor,
    labels: torch.Tensor | None,
    img_size: int,
    device: torch.device | str,
    placement: str = "device",
    fraction: float | None = None,
    verbose: bool = True,
) -> DeviceImages:
    """Place uint8 ``images`` (N, 3, H, W) on ``device`` at ``img_size`` px, resized once (antialiased bilinear).

    Refuses with :class:`DoesNotFitError` (saying what to do) when they would not fit; prints the
    cache size when ``verbose``. On the CPU an image tensor already at ``img_size`` is used as is.
    """
    if images.dtype != torch.uint8 or images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(f"images must be uint8 (N, 3, H, W), got {images.dtype} {tuple(images.shape)}")
    if img_size <= 0:
        raise ValueError(f"img_size must be positive, got {img_size}")
    device = torch.device(device)
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", torch.cuda.current_device())
    n = images.shape[0]
    labels = torch.zeros(n, dtype=torch.int64) if labels is None else labels
    if labels.shape != (n,):
        raise ValueError(f"{labels.shape} labels for {n} images")
    store = device if placement == "device" else torch.device("cpu")
    same_size = images.shape[-2:] == (img_size, img_size)
    reuse = same_size and images.device == store
    if not reuse:
        check_fits(n, img_size, device, placement, fraction)
    if same_size:
        stored = images if reuse else images.to(store)
    else:
        stored = _resize_uint8(images, img_size, store)
    if placement == "host" and device.type == "cuda":
        stored = stored.pin_memory()
    result = DeviceImages(stored, labels.to(store), device, placement)
    if verbose:
        resized = "" if same_size else f", resized from {images.shape[-2]}×{images.shape[-1]}"
        print(f"[sslvit-lite] training images: {n:,} × 3×{img_size}×{img_size} uint8 = "
              f"{format_bytes(result.nbytes)} on {store}{resized}")
    return result


class EpochSampler:
    """Index batches for one epoch, drawn on the training device without a DataLoader.

    Each epoch is a fresh permutation of ``n`` indices from a generator seeded by ``(seed, epoch)``,
    so the sampler has no hidden state: (seed, epoch, position) fully determines what comes next,
    which makes resuming exact. With ``world_size`` > 1 each rank takes its slice of every global
    batch (like ``DistributedSampler``, but every step's global batch is the same contiguous block
    of the permutation that a single process would draw). Incomplete last batches are dropped.
    """

    def __init__(self, n: int, batch_size: int, seed: int = 0, device: torch.device | str = "cpu",
                 rank: int = 0, world_size: int = 1):
        if batch_size <= 0 or world_size <= 0 or not 0 <= rank < world_size:
            raise ValueError(f"need batch_size > 0 and 0 <= rank < world_size, got {batch_size}, {rank}, {world_size}")
        global_batch = batch_size * world_size
        if n < global_batch:
            raise ValueError(f"{n} images are fewer than one global batch of {global_batch} "
                             f"({world_size} × {batch_size}); lower the batch size or use more images")
        self.n, self.batch_size, self.seed = n, batch_size, seed
        self.device, self.rank, self.world_size = torch.device(device), rank, world_size
        self.steps_per_epoch = n // global_batch

    def __len__(self) -> int:
        return self.steps_per_epoch

    def permutation(self, epoch: int) -> torch.Tensor:
        """The global permutation of epoch ``epoch`` (N,), the same on every rank and device."""
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
        return torch.randperm(self.n, generator=generator)  # (N,) on the host, once per epoch

    def epoch_batches(self, epoch: int) -> torch.Tensor:
        """This rank's index batches of ``epoch``: (steps_per_epoch, batch_size) int64 on ``device``."""
        steps, b = self.steps_per_epoch, self.batch_size
        perm = self.permutation(epoch)[: steps * b * self.world_size]
        mine = perm.view(steps, self.world_size, b)[:, self.rank].contiguous()  # (steps, B)
        if self.device.type == "cuda":
            mine = mine.pin_memory()  # an asynchronous copy, once per epoch
        return mine.to(self.device, non_blocking=True)

    def batches(self, start_step: int = 0) -> Iterator[tuple[int, torch.Tensor]]:
        """(global step, index batch (B,)) from ``start_step`` on, epoch after epoch, without end."""
        step = start_step
        while True:
            epoch, position = divmod(step, self.steps_per_epoch)
            table = self.epoch_batches(epoch)  # (steps, B)
            for i in range(position, self.steps_per_epoch):
                yield step, table[i]
                step += 1

    def state_dict(self) -> dict:
        return {"n": self.n, "batch_size": self.batch_size, "seed": self.seed, "world_size": self.world_size}
