"""Datasets as uint8 tensors, with a provenance string saying where the pixels came from.

Three ways to get real images, tried in this order by ``source="auto"``:

1. a local data root (``root=`` or the environment variable ``SSLVIT_DATA``) holding one folder per
   dataset, e.g. ``$SSLVIT_DATA/cifar10/`` with ImageFolder trees (``test/<class>/<n>.jpg``) or
   zips of them (``cifar10-test.zip``), optionally with a ``SHA256SUMS`` file that is checked;
2. torchvision's own download (needs the internet; cached under ``~/.cache/sslvit_lite``);
3. nothing else: a clear :class:`DatasetUnavailableError` that says how to get the data.

``source="sample"`` gives the embedded sample (2,000 real CIFAR-10 test images shipped inside the
package) for tests and offline smoke runs; everything built from it is labelled as a sample.
``name="synthetic"`` gives procedurally drawn images (no download, any size) for engine tests.
"""

from __future__ import annotations

import hashlib
import io
import os
import zipfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import torch
from PIL import Image

CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

# name -> (native image size, valid splits, has a torchvision loader)
DATASETS: dict[str, tuple[int, tuple[str, ...], bool]] = {
    "cifar10": (32, ("train", "test"), True),
    "cifar100": (32, ("train", "test"), True),
    "stl10": (96, ("train", "test", "unlabeled"), True),
    "imagenette": (160, ("train", "val"), True),
    "imagenet100": (224, ("train", "val"), False),
    "tiny-imagenet": (64, ("train", "val"), False),
    "synthetic": (32, ("train", "test"), False),
}
SOURCES = ("auto", "folder", "torchvision", "sample", "auto+sample")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
SAMPLE_ZIP = "cifar10-test-sample.zip"


class DatasetUnavailableError(RuntimeError):
    """The requested data is not on this machine and cannot be downloaded."""


@dataclass
class ImageDataset:
    """Images held as one uint8 tensor.

    images: (N, 3, H, W) uint8; labels: (N,) int64 indices into ``classes``;
    source: where the pixels came from, for captions (e.g. "CIFAR-10 test, folder /data/cifar10").
    """

    images: torch.Tensor
    labels: torch.Tensor
    classes: list[str]
    name: str
    split: str
    source: str
    is_sample: bool = False

    def __post_init__(self):
        if self.images.dtype != torch.uint8 or self.images.ndim != 4 or self.images.shape[1] != 3:
            raise ValueError(f"images must be uint8 (N, 3, H, W), got {self.images.dtype} {tuple(self.images.shape)}")
        if self.labels.shape != (self.images.shape[0],):  # labels of unlabeled splits (STL-10) are -1
            raise ValueError(f"{self.labels.shape[0]} labels for {self.images.shape[0]} images")

    def __len__(self) -> int:
        return self.images.shape[0]

    def subset(self, n: int, seed: int = 0, per_class: bool = False) -> "ImageDataset":
        """``n`` images drawn without replacement (balanced across classes when ``per_class``)."""
        if n <= 0 or n > len(self):
            raise ValueError(f"subset size must be in 1..{len(self)}, got {n}")
        g = torch.Generator().manual_seed(seed)
        if per_class:
            k = n // len(self.classes)
            idx = torch.cat([
                torch.nonzero(self.labels == c).flatten()[torch.randperm(int((self.labels == c).sum()), generator=g)[:k]]
                for c in range(len(self.classes))
            ])
        else:
            idx = torch.randperm(len(self), generator=g)[:n]
        return ImageDataset(self.images[idx], self.labels[idx], self.classes, self.name, self.split,
                            f"{self.source}, subset of {len(idx)} (seed {seed})", self.is_sample)


def normalize(images: torch.Tensor, mean=CIFAR10_MEAN, std=CIFAR10_STD) -> torch.Tensor:
    """uint8 (B, 3, H, W) in [0, 255] → float (B, 3, H, W), standardised per channel."""
    mean_t = torch.tensor(mean, device=images.device).view(1, 3, 1, 1)
    std_t = torch.tensor(std, device=images.device).view(1, 3, 1, 1)
    return (images.float() / 255.0 - mean_t) / std_t  # (B, 3, H, W)


def dataset_stats(dataset: str) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Normalisation mean/std: CIFAR-10's for the 32 px datasets, ImageNet's otherwise."""
    if dataset in ("cifar10", "cifar100", "synthetic"):
        return CIFAR10_MEAN, CIFAR10_STD
    return IMAGENET_MEAN, IMAGENET_STD


def cache_dir() -> Path:
    return Path(os.environ.get("SSLVIT_CACHE", Path.home() / ".cache" / "sslvit_lite"))


def load_dataset(
    name: str,
    split: str = "train",
    source: str = "auto",
    root: str | os.PathLike | None = None,
    img_size: int | None = None,
    download: bool = True,
) -> ImageDataset:
    """Load ``name``/``split`` as an :class:`ImageDataset`, resized to ``img_size`` when given.

    ``source``: "auto" (folder, then torchvision), "folder", "torchvision", "sample", or
    "auto+sample" (the book's default): "auto" when it can provide the data, else the embedded
    CIFAR-10 sample, so that the book builds offline; the dataset's ``source`` says which it was.
    """
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; valid: {', '.join(DATASETS)}")
    native, splits, has_torchvision = DATASETS[name]
    if split not in splits:
        raise ValueError(f"{name} has no split {split!r}; valid: {', '.join(splits)}")
    if source not in SOURCES:
        raise ValueError(f"unknown source {source!r}; valid: {', '.join(SOURCES)}")
    size = img_size or native

    if source == "auto+sample":
        try:
            return load_dataset(name, split, "auto", root, img_size, download)
        except DatasetUnavailableError:
            if name != "cifar10":
                raise
            return load_dataset(name, split, "sample", root, img_size)
    if name == "synthetic":
        return synthetic_dataset(n=2000 if split == "test" else 10000, img_size=size, seed=0 if split == "train" else 1,
                                 split=split)
    if source == "sample":
        if name != "cifar10":
            raise ValueError(f"the embedded sample is CIFAR-10 only; for {name} use source='folder' or 'torchvision'")
        return _resize_dataset(load_sample(), size)

    data_root = Path(root) if root else (Path(os.environ["SSLVIT_DATA"]) if os.environ.get("SSLVIT_DATA") else None)
    folder = data_root / name if data_root else None
    if source == "folder" or (source == "auto" and folder is not None and folder.is_dir()):
        if folder is None or not folder.is_dir():
            raise DatasetUnavailableError(
                f"no folder for {name}: set SSLVIT_DATA (or root=) to a directory containing {name}/ "
                f"(looked in {folder or 'nowhere: SSLVIT_DATA is not set'})")
        return _cached(name, split, size, f"folder:{folder.resolve()}",
                       lambda: _load_folder(name, folder, split, size))
    if source in ("auto", "torchvision") and has_torchvision:
        return _cached(name, split, size, "torchvision", lambda: _load_torchvision(name, split, size, download))
    raise DatasetUnavailableError(_how_to_get(name))


def _how_to_get(name: str) -> str:
    return (
        f"{name} is not available on this machine. Either (a) be online so torchvision can download it"
        f"{'' if DATASETS[name][2] else ' (not possible for ' + name + ': no torchvision loader)'}, "
        f"(b) set SSLVIT_DATA to a directory holding {name}/ as ImageFolder trees or zips "
        f"(e.g. {name}/{name}-train.zip with train/<class>/<image>), or (c) for a quick offline run on CIFAR-10, "
        "use source='sample' (2,000 real test images shipped with the package, labelled as a sample)."
    )


def _cached(name: str, split: str, size: int, origin: str, build) -> ImageDataset:
    """Decode once, then reuse an atomically written tensor cache keyed by origin and size."""
    key = hashlib.sha256(f"{name}|{split}|{size}|{origin}".encode()).hexdigest()[:16]
    path = cache_dir() / "datasets" / f"{name}-{split}-{size}px-{key}.pt"
    if path.exists():
        try:
            blob = torch.load(path, weights_only=True)
            return ImageDataset(blob["images"], blob["labels"], list(blob["classes"]), name, split, blob["source"])
        except Exception:  # a corrupt cache is rebuilt, never trusted
            path.unlink(missing_ok=True)
    dataset = build()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save({"images": dataset.images, "labels": dataset.labels, "classes": dataset.classes,
                "source": dataset.source}, tmp)
    os.replace(tmp, path)
    return dataset


def _decode(data: bytes, size: int) -> np.ndarray:
    """JPEG/PNG bytes → (3, size, size) uint8: short side resized to ``size``, centre crop."""
    img = Image.open(io.BytesIO(data)).convert("RGB")
    if img.size != (size, size):
        w, h = img.size
        scale = size / min(w, h)
        img = img.resize((max(size, round(w * scale)), max(size, round(h * scale))), Image.BICUBIC)
        w, h = img.size
        left, top = (w - size) // 2, (h - size) // 2
        img = img.crop((left, top, left + size, top + size))
    return np.asarray(img, dtype=np.uint8).transpose(2, 0, 1)  # (3, H, W)


def _from_files(files: list[tuple[str, str, callable]], size: int) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """files: (class name, member name, read-bytes function) → images, labels, sorted class names."""
    if not files:
        raise DatasetUnavailableError("no image files found")
    classes = sorted({c for c, _, _ in files})
    index = {c: i for i, c in enumerate(classes)}
    files = sorted(files, key=lambda f: (f[0], f[1]))
    images = np.stack([_decode(read(), size) for _, _, read in files])  # (N, 3, H, W)
    labels = torch.tensor([index[c] for c, _, _ in files], dtype=torch.int64)
    return torch.from_numpy(images), labels, classes


def _load_folder(name: str, folder: Path, split: str, size: int) -> ImageDataset:
    _verify_checksums(folder)
    tree = folder / split
    archive = folder / f"{name}-{split}.zip"
    if tree.is_dir():
        files = [(p.parent.name, str(p), p.read_bytes) for p in tree.glob("*/*") if p.suffix.lower() in IMAGE_SUFFIXES]
        where = tree
    elif archive.is_file():
        zf = zipfile.ZipFile(archive)
        files = []
        for member in zf.namelist():
            parts = member.split("/")
            if len(parts) >= 3 and parts[-3] == split and Path(member).suffix.lower() in IMAGE_SUFFIXES:
                files.append((parts[-2], member, lambda m=member: zf.read(m)))
        where = archive
    else:
        raise DatasetUnavailableError(f"{folder} holds neither {split}/ nor {archive.name}. {_how_to_get(name)}")
    images, labels, classes = _from_files(files, size)
    return ImageDataset(images, labels, classes, name, split, f"{name} {split}, from {where}")


def _verify_checksums(folder: Path) -> None:
    sums = folder / "SHA256SUMS"
    if not sums.is_file():
        return
    for line in sums.read_text().splitlines():
        if not line.strip():
            continue
        digest, filename = line.split()
        path = folder / filename.lstrip("*")
        if path.is_file():
            h = hashlib.sha256()
            with open(path, "rb") as f:
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    h.update(chunk)
            if h.hexdigest() != digest:
                raise DatasetUnavailableError(f"checksum mismatch for {path}: the file is corrupt or incomplete")


def _load_torchvision(name: str, split: str, size: int, download: bool) -> ImageDataset:
    import torchvision.datasets as tvd

    root = cache_dir() / "torchvision"
    try:
        if name in ("cifar10", "cifar100"):
            cls = tvd.CIFAR10 if name == "cifar10" else tvd.CIFAR100
            ds = cls(str(root), train=split == "train", download=download)
            images = torch.from_numpy(ds.data).permute(0, 3, 1, 2).contiguous()  # (N, 3, 32, 32)
            labels, classes = torch.tensor(ds.targets), list(ds.classes)
        elif name == "stl10":
            ds = tvd.STL10(str(root), split=split, download=download)
            images = torch.from_numpy(ds.data)  # (N, 3, 96, 96)
            labels, classes = torch.from_numpy(ds.labels.astype(np.int64)), list(ds.classes)  # -1: unlabeled
        else:  # imagenette
            ds = tvd.Imagenette(str(root), split=split, size="160px", download=download)
            files = [(str(label), path, lambda p=path: Path(p).read_bytes()) for path, label in ds._samples]
            images, labels, _ = _from_files(files, size)
            classes = [names[0] for names in ds.classes]
    except (OSError, RuntimeError) as err:  # URLError is an OSError; torchvision raises RuntimeError when missing
        raise DatasetUnavailableError(f"torchvision could not provide {name} ({err}). {_how_to_get(name)}") from err
    dataset = ImageDataset(images, labels.long(), classes, name, split, f"{name} {split}, torchvision")
    return _resize_dataset(dataset, size)


def _resize_dataset(dataset: ImageDataset, size: int) -> ImageDataset:
    if dataset.images.shape[-1] == size and dataset.images.shape[-2] == size:
        return dataset
    resized = torch.nn.functional.interpolate(dataset.images.float(), size=(size, size), mode="bicubic",
                                              antialias=True, align_corners=False)
    images = resized.round().clamp(0, 255).to(torch.uint8)  # (N, 3, size, size)
    return ImageDataset(images, dataset.labels, dataset.classes, dataset.name, dataset.split,
                        f"{dataset.source}, resized to {size} px", dataset.is_sample)


def load_sample() -> ImageDataset:
    """The embedded sample: 2,000 real CIFAR-10 test images (200 per class), offline."""
    blob = resources.files("sslvit_lite").joinpath("sample_data", SAMPLE_ZIP).read_bytes()
    zf = zipfile.ZipFile(io.BytesIO(blob))
    files = [(m.split("/")[1], m, lambda m=m: zf.read(m)) for m in zf.namelist() if m.endswith(".jpg")]
    images, labels, classes = _from_files(files, 32)
    return ImageDataset(images, labels, classes, "cifar10", "test",
                        "CIFAR-10 test SAMPLE (2,000 images embedded in sslvit_lite)", is_sample=True)


def synthetic_dataset(n: int = 10000, img_size: int = 32, num_classes: int = 10, seed: int = 0,
                      split: str = "train") -> ImageDataset:
    """Procedural images: class c is a grating at orientation and colour set by c, plus noise.

    Learnable (a linear probe separates the classes) and free of any download; for engine tests
    and benchmarks, never for results about natural images.
    """
    if n <= 0 or img_size <= 0 or num_classes <= 0:
        raise ValueError("n, img_size and num_classes must be positive")
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(num_classes, (n,), generator=g)  # (N,)
    coords = torch.linspace(-1, 1, img_size)
    yy, xx = torch.meshgrid(coords, coords, indexing="ij")  # (H, W)
    angle = labels.float() * torch.pi / num_classes  # (N,)
    phase = torch.rand(n, generator=g) * 2 * torch.pi
    freq = 3.0 + 2.0 * torch.rand(n, generator=g)
    wave = torch.sin(freq.view(-1, 1, 1) * (xx * angle.cos().view(-1, 1, 1) + yy * angle.sin().view(-1, 1, 1)) * torch.pi
                     + phase.view(-1, 1, 1))  # (N, H, W)
    hue = labels.float().view(-1, 1) / num_classes * 2 * torch.pi + torch.tensor([0.0, 2.1, 4.2])  # (N, 3)
    colour = 0.5 + 0.4 * torch.cos(hue)  # (N, 3)
    images = colour.view(n, 3, 1, 1) * (0.5 + 0.5 * wave.unsqueeze(1))  # (N, 3, H, W)
    images = images + 0.08 * torch.randn(images.shape, generator=g)
    images = (images.clamp(0, 1) * 255).round().to(torch.uint8)
    classes = [f"grating-{c}" for c in range(num_classes)]
    return ImageDataset(images, labels, classes, "synthetic", split, f"synthetic gratings (seed {seed})")
