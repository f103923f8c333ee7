"""Training throughput: the engine (device-resident data + on-device augmentation + AMP) vs a naive loop.

For each objective and batch size, two loops run the same objective, optimizer and augmentation
recipe (``sslvit_lite.augment.RECIPE_VIEWS``) in the same process:

- **engine**: ``sslvit_lite.train.Trainer.train_step``: uint8 images on the device, index batches
  from the on-device sampler, augmentation on the device, autocast (bf16/fp16 on GPUs, fp32 on the
  CPU), optional ``--compile``;
- **naive**: a torchvision ``transforms.v2`` pipeline per image in a CPU ``DataLoader`` with
  ``--workers`` (default 2, like a Colab VM) worker processes, fp32, eager.

It prints a table of images/s, the ratio engine/naive and the peak device memory (CUDA only).
``--augment-only`` times the augmentation alone: this package's recipe vs kornia's equivalent
(when kornia is installed), the measurement behind the choice in ``sslvit_lite/augment.py``.
``--estimate-memory PRESET`` estimates the peak GPU memory of a preset from a CPU measurement of the
activations kept for backward (see :func:`estimate_memory`).

Examples::

    python bench/throughput.py --device cuda --batch-size 512 1024 --steps 30
    python bench/throughput.py --device cpu --preset cpu --batch-size 64 --steps 4 --warmup 1
    python bench/throughput.py --augment-only --device cpu
    python bench/throughput.py --estimate-memory colab-t4 --device cpu
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sslvit_lite.augment import RECIPE_VIEWS, UPSTREAM_SIZE, ViewSpec, build_recipe  # noqa: E402
from sslvit_lite.device_data import format_bytes  # noqa: E402
from sslvit_lite.presets import OBJECTIVE_NAMES, TrainConfig, resolve  # noqa: E402
from sslvit_lite.data import dataset_stats  # noqa: E402
from sslvit_lite.train import Trainer, param_groups  # noqa: E402


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def random_images(n: int, size: int) -> torch.Tensor:
    return torch.randint(0, 256, (n, 3, size, size), generator=torch.Generator().manual_seed(0), dtype=torch.uint8)


# ----------------------------------------------------------------------------------------------
# the engine


def engine_throughput(config: TrainConfig, steps: int, warmup: int) -> tuple[float, int | None]:
    """(images/s, peak device bytes or None on the CPU) of ``Trainer.train_step``."""
    images = random_images(config.batch_size * (steps + warmup + 1), config.img_size)
    with tempfile.TemporaryDirectory() as out:
        trainer = Trainer(config, out, images=images, progress=False, verbose=False)
        device = trainer.device
        batches = trainer.sampler.batches(0)
        for _ in range(warmup):
            trainer.train_step(*next(batches))
        sync(device)
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        start = time.perf_counter()
        for _ in range(steps):
            trainer.train_step(*next(batches))
        sync(device)
        elapsed = time.perf_counter() - start
        peak = torch.cuda.max_memory_allocated(device) if device.type == "cuda" else None
        del trainer
    return steps * config.batch_size / elapsed, peak


# ----------------------------------------------------------------------------------------------
# the naive baseline: torchvision per image in a CPU DataLoader, fp32 eager


def torchvision_view(spec: ViewSpec, size: int, mean, std):
    """The torchvision ``transforms.v2`` pipeline of one :class:`ViewSpec` (uint8 CHW → float normalised)."""
    from torchvision.transforms import InterpolationMode, v2

    steps = []
    if spec.crop_scale is None:
        steps.append(v2.Resize((size, size), antialias=True))
    else:
        mode = InterpolationMode.BICUBIC if spec.interpolation == "bicubic" else InterpolationMode.BILINEAR
        steps.append(v2.RandomResizedCrop(size, scale=spec.crop_scale, ratio=spec.crop_ratio, interpolation=mode,
                                          antialias=True))
    if spec.flip_p > 0:
        steps.append(v2.RandomHorizontalFlip(spec.flip_p))
    if spec.jitter_p > 0:
        steps.append(v2.RandomApply([v2.ColorJitter(*spec.jitter)], p=spec.jitter_p))
    if spec.gray_p > 0:
        steps.append(v2.RandomGrayscale(spec.gray_p))
    if spec.blur_p > 0:
        sigma = (spec.blur_sigma[0] * size / UPSTREAM_SIZE, spec.blur_sigma[1] * size / UPSTREAM_SIZE)
        kernel = 2 * math.ceil(3 * sigma[1]) + 1
        steps.append(v2.RandomApply([v2.GaussianBlur(kernel, sigma)], p=spec.blur_p))
    if spec.solarize_p > 0:
        steps.append(v2.RandomSolarize(threshold=128, p=spec.solarize_p))
    steps += [v2.ToDtype(torch.float32, scale=True), v2.Normalize(list(mean), list(std))]
    return v2.Compose(steps)


class ViewsDataset(torch.utils.data.Dataset):
    """uint8 images → a list of augmented views per image (the classic per-sample pipeline)."""

    def __init__(self, images: torch.Tensor, transforms):
        self.images, self.transforms = images, transforms

    def __len__(self) -> int:
        return self.images.shape[0]

    def __getitem__(self, i: int):
        return [t(self.images[i]) for t in self.transforms]


def naive_throughput(config: TrainConfig, device: torch.device, steps: int, warmup: int, workers: int) -> float:
    """images/s of a DataLoader + fp32 eager loop with the same objective, recipe and optimizer."""
    from sslvit_lite.objectives import build_objective
    from sslvit_lite.vit import build_vit

    torch.manual_seed(config.seed)
    backbone = build_vit(config.arch, img_size=config.img_size, patch_size=config.patch_size, **config.vit_kwargs)
    objective = build_objective(config.objective, backbone, **config.hparams).to(device).train()
    optimizer = torch.optim.AdamW(param_groups(objective, config.weight_decay), lr=config.peak_lr, betas=config.betas)
    mean, std = dataset_stats(config.dataset)
    transforms = [torchvision_view(spec, config.img_size, mean, std) for spec in RECIPE_VIEWS[objective.recipe]]
    images = random_images(config.batch_size * (steps + warmup + 1), config.img_size)
    loader = torch.utils.data.DataLoader(ViewsDataset(images, transforms), batch_size=config.batch_size, shuffle=True,
                                         num_workers=workers, drop_last=True, pin_memory=device.type == "cuda")
    batches = iter(loader)
    start = None
    for step in range(warmup + steps):
        if step == warmup:
            sync(device)
            start = time.perf_counter()
        views = [v.to(device, non_blocking=True) for v in next(batches)]
        loss = objective(views)["loss"]
        loss.backward()
        if config.clip_grad is not None:
            nn.utils.clip_grad_norm_(objective.parameters(), config.clip_grad)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        objective.after_step((step + 1) / (warmup + steps))
    sync(device)
    return steps * config.batch_size / (time.perf_counter() - start)


# ----------------------------------------------------------------------------------------------
# augmentation alone: this package vs kornia


def kornia_recipe(name: str, size: int, mean, std):
    """kornia.augmentation equivalent of one of our recipes (None when kornia is not installed)."""
    try:
        import kornia.augmentation as K
    except ImportError:
        return None

    def view(spec: ViewSpec):
        ops = [K.RandomResizedCrop((size, size), scale=spec.crop_scale, ratio=spec.crop_ratio,
                                   resample=spec.interpolation.upper()),
               K.RandomHorizontalFlip(p=spec.flip_p)]
        if spec.jitter_p > 0:
            ops.append(K.ColorJitter(*spec.jitter, p=spec.jitter_p))
        if spec.gray_p > 0:
            ops.append(K.RandomGrayscale(p=spec.gray_p))
        if spec.blur_p > 0:
            sigma = (spec.blur_sigma[0] * size / UPSTREAM_SIZE, spec.blur_sigma[1] * size / UPSTREAM_SIZE)
            ops.append(K.RandomGaussianBlur(2 * math.ceil(3 * sigma[1]) + 1, sigma, p=spec.blur_p))
        if spec.solarize_p > 0:
            ops.append(K.RandomSolarize(thresholds=0.0, additions=0.0, p=spec.solarize_p))
        ops.append(K.Normalize(torch.tensor(mean), torch.tensor(std)))
        return nn.Sequential(*ops)

    views = [view(spec) for spec in RECIPE_VIEWS[name]]
    return lambda images: [v(images.float() / 255) for v in views]


def time_call(fn, x, device, reps: int, warmup: int = 2) -> float:
    """Mean seconds per call of ``fn(x)``."""
    for _ in range(warmup):
        fn(x)
    sync(device)
    start = time.perf_counter()
    for _ in range(reps):
        fn(x)
    sync(device)
    return (time.perf_counter() - start) / reps


def augment_only(device: torch.device, batch: int, size: int, reps: int, objectives) -> list[dict]:
    mean, std = dataset_stats("cifar10")
    x = random_images(batch, size).to(device)
    rows = []
    for name in objectives:
        row = {"recipe": name, "views": len(RECIPE_VIEWS[name])}
        row["sslvit_lite img/s"] = batch / time_call(build_recipe(name, size, mean, std), x, device, reps)
        kornia = kornia_recipe(name, size, mean, std)
        row["kornia img/s"] = batch / time_call(kornia, x, device, reps) if kornia else None
        rows.append(row)
    return rows


# ----------------------------------------------------------------------------------------------
# memory estimate from a CPU measurement


def saved_activation_bytes(objective: nn.Module, views: list[torch.Tensor], dtype: torch.dtype | None) -> int:
    """Bytes of the tensors autograd keeps for backward in one forward pass (parameters excluded)."""
    param_storages = {p.untyped_storage().data_ptr() for p in objective.parameters()}
    seen: dict[int, int] = {}

    def pack(t: torch.Tensor):
        ptr = t.untyped_storage().data_ptr()
        if ptr not in param_storages:
            seen[ptr] = t.untyped_storage().nbytes()
        return t

    context = torch.autocast("cpu", dtype=dtype) if dtype else torch.autocast("cpu", enabled=False)
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t), context:
        objective(views)["loss"]
    return sum(seen.values())


def estimate_memory(preset: str, objective_name: str, batch_size: int | None = None,
                    dataset_images: int = 50_000) -> dict:
    """Peak GPU memory of ``preset`` for ``objective_name``, from a CPU measurement.

    activations/image: bytes autograd saves for backward, measured on the CPU at batch 8 minus batch
    4 (so per-batch constants cancel), in fp32 and under bf16 autocast (2-byte floats, like fp16 on a
    T4). Model state: 16 bytes per trainable parameter (fp32 weight, gradient, two AdamW moments) and 4
    per frozen one (momentum encoder). Data: the uint8 training set. Peak ≈ data + state +
    activations × batch, plus 20 % for allocator fragmentation and temporaries, plus ~0.4 GB of CUDA
    context outside PyTorch's allocator.
    """
    from sslvit_lite.objectives import build_objective
    from sslvit_lite.vit import build_vit

    config = resolve(objective_name, preset, device="cpu", precision="fp32",
                     **({"batch_size": batch_size} if batch_size else {}))
    torch.manual_seed(0)
    backbone = build_vit(config.arch, img_size=config.img_size, patch_size=config.patch_size, **config.vit_kwargs)
    objective = build_objective(config.objective, backbone, **config.hparams).train()
    recipe = build_recipe(objective.recipe, config.img_size, *dataset_stats(config.dataset))

    def per_image(dtype):
        small, large = (saved_activation_bytes(objective, recipe(random_images(b, config.img_size)), dtype)
                        for b in (4, 8))
        return (large - small) / 4

    act32, act16 = per_image(None), per_image(torch.bfloat16)
    trainable = sum(p.numel() for p in objective.parameters() if p.requires_grad)
    frozen = sum(p.numel() for p in objective.parameters() if not p.requires_grad)
    state = 16 * trainable + 4 * frozen
    data = dataset_images * 3 * config.img_size ** 2
    context = 0.4e9

    def peak(act):
        return 1.2 * (data + state + act * config.batch_size) + context

    return {"preset": preset, "objective": objective_name, "batch": config.batch_size,
            "act/img fp32 MB": act32 / 1e6, "act/img fp16 MB": act16 / 1e6, "state MB": state / 1e6,
            "data MB": data / 1e6, "peak fp16 GB": peak(act16) / 1e9, "peak fp32 GB": peak(act32) / 1e9}


# ----------------------------------------------------------------------------------------------


def markdown(rows: list[dict]) -> str:
    def cell(v):
        if v is None:
            return "–"
        if isinstance(v, float):
            return f"{v:,.2f}" if v < 100 else f"{v:,.0f}"
        return str(v)

    keys = list(rows[0])
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(cell(r[k]) for k in keys) + " |" for r in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu", choices=["cpu", "cuda"])
    parser.add_argument("--preset", help="model/optimiser settings (default: cifar10-h100 on cuda, cpu on cpu)")
    parser.add_argument("--objectives", nargs="+", default=list(OBJECTIVE_NAMES), choices=OBJECTIVE_NAMES)
    parser.add_argument("--batch-size", nargs="+", type=int, default=None)
    parser.add_argument("--steps", type=int, default=20, help="timed steps per loop")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps first")
    parser.add_argument("--workers", type=int, default=2, help="DataLoader workers of the naive loop")
    parser.add_argument("--compile", action="store_true", help="torch.compile the engine's step")
    parser.add_argument("--threads", type=int, help="torch.set_num_threads (CPU runs)")
    parser.add_argument("--augment-only", action="store_true", help="time the augmentation alone (and kornia)")
    parser.add_argument("--estimate-memory", metavar="PRESET", help="estimate a preset's peak GPU memory")
    parser.add_argument("--json", type=Path, help="also write the rows to this JSON file")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    print(f"# {where}, torch {torch.__version__}\n")

    if args.estimate_memory:
        rows = [estimate_memory(args.estimate_memory, o, args.batch_size[0] if args.batch_size else None)
                for o in args.objectives]
    elif args.augment_only:
        rows = augment_only(device, (args.batch_size or [256])[0], 32, args.steps, args.objectives)
    else:
        preset = args.preset or ("cifar10-h100" if device.type == "cuda" else "cpu")
        rows = []
        for objective in args.objectives:
            for batch in args.batch_size or [resolve(objective, preset).batch_size]:
                config = resolve(objective, preset, device=args.device, batch_size=batch, compile=args.compile,
                                 steps=args.steps + args.warmup, subset=None)
                engine, peak = engine_throughput(config, args.steps, args.warmup)
                naive = naive_throughput(config, device, args.steps, args.warmup, args.workers)
                rows.append({"objective": objective, "batch": batch, "engine img/s": engine,
                             f"naive ({args.workers} workers, fp32) img/s": naive, "ratio": engine / naive,
                             "engine peak memory": format_bytes(peak) if peak is not None else None})
                print(rows[-1], flush=True)
    print()
    print(markdown(rows))
    if args.json:
        args.json.write_text(json.dumps({"device": where, "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
