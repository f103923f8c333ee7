"""The paper's own models on the paper's images (chapter 8 of the book).

Park et al. (ICLR 2023) analyse ViT-B/16 models pre-trained on ImageNet-1K; their notebooks run
them on Imagenette-160 validation images at 224 px. This module picks those images (the official
notebooks' subset, or a seeded random one), loads the four official checkpoints through
:mod:`sslvit_lite.official` (or, offline, random stand-ins of the same families, and says so),
and measures everything the chapter shows in one JSON-ready record: the metrics of
:func:`sslvit_lite.measure.compute_metrics` per model, the image-ID silhouette and t-SNE of the
paper's 18 t-SNE images (Fig. E.2), one attention-map example (Fig. 2) and a random-init control.

Shapes: images uint8 (N, 3, 224, 224); patch tokens (B, 196, C) per depth 0..L.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from sslvit_lite.analysis.attention import patch_index, query_map
from sslvit_lite.analysis.representation import image_silhouette, token_tsne
from sslvit_lite.checkpoint import CheckpointError
from sslvit_lite.data import IMAGENET_MEAN, IMAGENET_STD, DatasetUnavailableError, ImageDataset, load_dataset, normalize
from sslvit_lite.download import DownloadError
from sslvit_lite.measure import compute_metrics
from sslvit_lite.official import build_model, load_pretrained
from sslvit_lite.provenance import provenance
from sslvit_lite.vit import capture, patch_grid

SCHEMA = "sslvit_lite.chapter08/1"
IMG, PATCH = 224, 16  # every model here: 224-px input, 16-px patches, a 14×14 grid
MODELS = {"mocov3": "mocov3_vit_base", "simmim": "simmim_vit_base", "dino": "dino_vit_base", "mae": "mae_vit_base"}
LABELS = {"mocov3": "MoCo v3 (CL)", "simmim": "SimMIM (MIM)", "dino": "DINO (CL)", "mae": "MAE (MIM)"}
SETTINGS = ("averaged", "notebook")
CHOICES = ("auto", "official", "stand-in")
REPRESENTATION_KEYS = ("fourier_delta", "fourier_curves", "effective_rank", "unison")


# ----------------------------------------------------------------------------------------------
# images


def to_input(images: torch.Tensor) -> torch.Tensor:
    """(n, 3, H, W) uint8 → (n, 3, 224, 224) uint8: centre crop when larger, bicubic upsampling when smaller."""
    h, w = images.shape[-2:]
    if h >= IMG and w >= IMG:
        top, left = (h - IMG) // 2, (w - IMG) // 2
        return images[..., top:top + IMG, left:left + IMG]
    up = F.interpolate(images.float(), size=(IMG, IMG), mode="bicubic", align_corners=False)  # (n, 3, 224, 224)
    return up.round().clamp(0, 255).to(torch.uint8)


def first_of_each_class(labels: torch.Tensor, counts: list[int]) -> torch.Tensor:
    """Indices of the first counts[c] images of class c (c = 0, 1, ...), in dataset (folder) order."""
    return torch.cat([torch.nonzero(labels == c).flatten()[:k] for c, k in enumerate(counts)])


def load_pool(data_source: str) -> tuple[ImageDataset, str]:
    """Imagenette-160 val at 256 px (centre-cropped to 224 later), or, with ``data_source`` "auto" and no
    Imagenette, the embedded CIFAR-10 sample (upsampled 32 → 224 px); (images, a note saying which)."""
    if data_source != "sample":
        try:
            pool = load_dataset("imagenette", "val", source=data_source, img_size=256)
            return pool, f"Imagenette-160 val ({pool.source}), short side 256, centre crop 224"
        except DatasetUnavailableError:
            if data_source != "auto":
                raise
    return load_dataset("cifar10", "test", source="sample"), "CIFAR-10 test SAMPLE upsampled 32→224 px (NOT Imagenette)"


@dataclass
class ImageSets:
    """The images of each analysis, 224 px uint8, and the labels of the t-SNE images."""

    attention: torch.Tensor  # (n, 3, 224, 224): attention metrics (and, averaged, all metrics)
    fourier: torch.Tensor  # (m, 3, 224, 224): representation metrics
    tsne: torch.Tensor  # (3k, 3, 224, 224): k images of each of 3 classes
    tsne_labels: torch.Tensor  # (3k,)
    map_index: int  # the attention-map example among ``attention``


def choose_images(pool: ImageDataset, setting: str, num_images: int, tsne_per_class: int, seed: int,
                  map_image: int) -> ImageSets:
    """``"notebook"``: the official notebooks' images, the first ⌊n_c / 64⌋ of each class in folder order,
    of which the first batch of 64 (attention) and its first 16 (Fourier). ``"averaged"``: ``num_images``
    seeded random images for everything. The t-SNE images are ``tsne_per_class`` of each of 3 classes."""
    if setting not in SETTINGS:
        raise ValueError(f"unknown setting {setting!r}; valid: {', '.join(SETTINGS)}")
    labels = pool.labels
    if setting == "notebook":
        per_class = (torch.bincount(labels, minlength=len(pool.classes)) // 64).tolist()
        subset = first_of_each_class(labels, per_class)  # the official utils.subsample(ratio=2**-6, random=False)
        attention_idx, fourier_idx = subset[:64], subset[:16]
        tsne_idx = first_of_each_class(labels, [tsne_per_class] * 3)
    else:
        if not 2 <= num_images <= len(pool):
            raise ValueError(f"num_images must be in 2..{len(pool)}, got {num_images}")
        order = torch.randperm(len(pool), generator=torch.Generator().manual_seed(seed))
        attention_idx = fourier_idx = order[:num_images]
        tsne_idx = order[first_of_each_class(labels[order], [tsne_per_class] * 3)]
    if torch.bincount(labels[tsne_idx], minlength=3)[:3].tolist() != [tsne_per_class] * 3:
        raise ValueError(f"the images do not hold {tsne_per_class} of each of the first 3 classes")
    return ImageSets(to_input(pool.images[attention_idx]), to_input(pool.images[fourier_idx]),
                     to_input(pool.images[tsne_idx]), labels[tsne_idx], map_image % len(attention_idx))


# ----------------------------------------------------------------------------------------------
# models


def stand_in(name: str, seed: int, depth: int = 3, width: int = 48, heads: int = 2) -> nn.Module:
    """An untrained model of the same family as ``MODELS[name]``: 224 px, 16-px patches, reduced size."""
    torch.manual_seed(seed + list(MODELS).index(name))  # a different draw per family
    return build_model(MODELS[name], img_size=IMG, patch_size=PATCH, depth=depth, embed_dim=width,
                       num_heads=heads).eval()


def load_models(choice: str, smoke: bool, seed: int, **stand_in_size: int
                ) -> tuple[dict[str, nn.Module], dict[str, str], dict[str, str]]:
    """(models, "official" or "stand-in" per model, why each stand-in is one).

    ``choice`` "official" loads the four checkpoints or raises; "stand-in" builds stand-ins; "auto" loads
    them and answers a failed download (offline) or load with a stand-in. At the ``smoke`` preset "auto"
    downloads nothing."""
    if choice not in CHOICES:
        raise ValueError(f"unknown models {choice!r}; valid: {', '.join(CHOICES)}")
    nets, weights, why = {}, {}, {}
    for name in MODELS:
        if choice == "stand-in" or (choice == "auto" and smoke):
            nets[name], weights[name] = stand_in(name, seed, **stand_in_size), "stand-in"
            why[name] = "models = 'stand-in'" if choice == "stand-in" else "preset 'smoke' downloads nothing"
            continue
        try:
            nets[name], weights[name] = load_pretrained(MODELS[name]).eval(), "official"
        except (DownloadError, CheckpointError) as err:  # offline, or a file this timm cannot load
            if choice == "official":
                raise
            nets[name], weights[name] = stand_in(name, seed, **stand_in_size), "stand-in"
            why[name] = ("the official file could not be downloaded (offline?)" if isinstance(err, DownloadError)
                         else "the official file could not be loaded")
    return nets, weights, why


# ----------------------------------------------------------------------------------------------
# measuring


@torch.no_grad()
def patch_tokens(net: nn.Module, batch: torch.Tensor, device: str = "cpu") -> list[torch.Tensor]:
    """Patch tokens at depths 0..L (embedding, block outputs), CLS dropped: L+1 × (B, 196, C) on the CPU."""
    x = normalize(batch.to(device), IMAGENET_MEAN, IMAGENET_STD)  # (B, 3, 224, 224)
    with capture(net) as cap:
        net(x)
    return [z[:, net.num_prefix_tokens:].cpu() for z in cap.block_outputs]


@torch.no_grad()
def example_maps(net: nn.Module, image: torch.Tensor, block: int, row: int, col: int,
                 device: str = "cpu") -> tuple[int, torch.Tensor]:
    """(block used, (H, 14, 14) attention of query patch (row, col)) for one (3, 224, 224) image; ``block``
    (1-based) is clipped to the model's depth."""
    x = normalize(image[None].to(device), IMAGENET_MEAN, IMAGENET_STD)  # (1, 3, 224, 224)
    with capture(net) as cap:
        net(x)
    block = min(block, len(net.blocks))
    grid = patch_grid(net)
    maps = query_map(cap.attentions[block - 1], patch_index(row, col, grid), grid, net.num_prefix_tokens)  # (1, H, R, C)
    return block, maps[0].cpu()


def png_base64(image: torch.Tensor) -> str:
    """A (3, H, W) uint8 image as base64 PNG text (kept in the saved results)."""
    buffer = io.BytesIO()
    Image.fromarray(image.permute(1, 2, 0).numpy()).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def measure_model(net: nn.Module, images: ImageSets, setting: str, *, query: tuple[int, int], map_block: int,
                  tsne_depth: int | None, tsne_iterations: int, batch_size: int, seed: int,
                  device: str = "cpu") -> dict:
    """Every metric of one model: ``compute_metrics`` on the attention images (on the first 16 for the
    representation metrics in the notebook setting, as the official representation notebook), the silhouette
    and t-SNE of the t-SNE images, and the attention-map example."""
    def metrics_of(batch):
        return dict(compute_metrics(net, batch, IMAGENET_MEAN, IMAGENET_STD, batch_size=batch_size, device=device,
                                    seed=seed, representation_images=2, tsne=False)["metrics"])

    metrics = metrics_of(images.attention)
    if setting == "notebook":
        rep = metrics_of(images.fourier)
        metrics.update({k: rep[k] for k in REPRESENTATION_KEYS})
    tokens = patch_tokens(net, images.tsne, device)  # L+1 × (3k, 196, C)
    metrics["silhouette"] = [round(image_silhouette(z), 6) for z in tokens]  # on the paper's t-SNE images
    depth = len(tokens) - 1 if tsne_depth is None else min(tsne_depth, len(tokens) - 1)
    points = token_tsne(tokens[depth], perplexity=20, seed=seed, max_iter=tsne_iterations)  # (3k·196, 2)
    block, maps = example_maps(net, images.attention[images.map_index], map_block, *query, device=device)
    return {"blocks": len(net.blocks), "heads": net.blocks[0].attn.num_heads, "width": net.embed_dim,
            "metrics": metrics, "attention_map": {"block": block, "head_maps": maps.numpy().round(6).tolist()},
            "tsne": {"depth": depth, "points": points.round(3).tolist()}}


def random_init_control(net: nn.Module, images: ImageSets, batch_size: int, seed: int, device: str = "cpu") -> dict:
    """The metrics of an untrained encoder (the claims' random-init control), silhouette on the t-SNE images."""
    control = dict(compute_metrics(net, images.attention, IMAGENET_MEAN, IMAGENET_STD, batch_size=batch_size,
                                   device=device, seed=seed, representation_images=2, tsne=False)["metrics"])
    control["silhouette"] = [round(image_silhouette(z), 6) for z in patch_tokens(net, images.tsne, device)]
    return control


def measure_run(nets: dict[str, nn.Module], weights: dict[str, str], images: ImageSets, pool: ImageDataset,
                data_note: str, setting: str, *, query: tuple[int, int], map_block: int, tsne_depth: int | None,
                tsne_iterations: int, batch_size: int, seed: int, preset: str, stand_in_size: dict,
                device: str = "cpu") -> dict:
    """The chapter's whole record (JSON-ready, schema :data:`SCHEMA`): every model, the images, the control
    (a random init of MoCo v3's family and size) and provenance."""
    records = {name: {"weights": weights[name],
                      **measure_model(net, images, setting, query=query, map_block=map_block, tsne_depth=tsne_depth,
                                      tsne_iterations=tsne_iterations, batch_size=batch_size, seed=seed,
                                      device=device)}
               for name, net in nets.items()}
    control_net = (stand_in("mocov3", seed, **stand_in_size) if weights["mocov3"] == "stand-in"
                   else build_model(MODELS["mocov3"]).eval())
    return {
        "schema": SCHEMA, "setting": setting, "data": data_note,
        "images": {"attention": len(images.attention), "fourier": len(images.fourier), "tsne": len(images.tsne)},
        "tsne_image_classes": [pool.classes[c] for c in images.tsne_labels.tolist()],
        "example_image": png_base64(images.attention[images.map_index]),
        "query": list(query),
        "provenance": provenance(device, data=data_note, preset=preset, images=len(images.attention),
                                 setting=setting, seed=seed),
        "models": records,
        "random_init": random_init_control(control_net, images, batch_size, seed, device),
    }


def weights_note(run: dict) -> str:
    """The line every figure and table of the chapter carries: official weights, or which are stand-ins."""
    stand_ins = [LABELS[n] for n, r in run["models"].items() if r["weights"] == "stand-in"]
    if stand_ins:
        return f"RANDOM STAND-INS, NOT THE PAPER'S WEIGHTS ({', '.join(stand_ins)}): the numbers mean nothing"
    return "official checkpoints: MoCo v3, SimMIM, DINO, MAE (ViT-B/16, ImageNet-1K)"


def claims_input(run: dict, cl: str, mim: str) -> dict:
    """The :mod:`sslvit_lite.claims` input of one CL/MIM pair of ``run`` with its random-init control.

    Stand-ins are untrained, so a pair with one is scored as a smoke run (every verdict "n/a"); there is
    one released checkpoint per method, so the scoreboard is read with ``min_seeds=1``."""
    stand_in_here = "stand-in" in {run["models"][n]["weights"] for n in (cl, mim)}
    control = {"random_init": run["random_init"]} if "random_init" in run else {}  # absent: not measured
    return {"models": {**{n: run["models"][n]["metrics"] for n in (cl, mim)}, **control},
            "roles": {"cl": cl, "mim": mim, "random": "random_init"},
            "provenance": {**run["provenance"], "preset": "smoke" if stand_in_here else "official checkpoints"}}
