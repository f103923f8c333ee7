"""Evaluation of a (self-supervised) ViT: frozen features per block, kNN, linear probe, fine-tuning.

Park et al. (ICLR 2023) compare CL and MIM by linear probing (LP) the last block (Fig 1), every
block (Fig 10) and by fine-tuning (FT, Fig 1, Fig 12). The paper's probe recipe is
not published; we follow the upstream ones:

- **labelled images** (:func:`evaluation_split`): disjoint train / test sets for every probe of
  the book (chapters 01, 02, 05 and the hybrid sweep), so that all of them split data alike.
- **features** (:func:`extract_features`): the output of block l (1-based, the ``zs[2l]`` state of
  the official code, *without* the final LayerNorm), pooled by the CLS token or by the mean of the
  patch tokens. For the last block the key ``"final"`` also gives the output *after* the model's
  final norm — what ``forward_features`` returns and what MoCo v3's and MAE's official linear
  probes use (CLS after the final LN).
- **kNN** (:func:`knn_accuracy`): the weighted kNN of InstDisc / DINO: cosine similarity to the
  k nearest training features, each neighbour votes for its label with weight exp(sim/T).
- **linear probe** (:func:`linear_probe_accuracy`): BatchNorm1d(affine=False) + Linear on frozen
  features, MAE's probe head (a BN without affine parameters standardises each feature, so one
  optimiser recipe fits every model and depth, whatever the feature scale). It is trained in torch
  rather than with scikit-learn's LogisticRegression because it runs on the GPU for the many
  (model × block) probes of Fig 10 and scales to ImageNet-size feature sets; the recipe is fixed:
  SGD with momentum 0.9, lr 0.1, cosine schedule, no weight decay, head init N(0, 0.01) (MoCo v3
  and MAE probe with SGD/LARS too). On BN-standardised features it matches scikit-learn's
  logistic regression; Adam was slower to converge on small sets, its sign-like steps moving
  the weights of uninformative features as fast as the informative ones.
- **fine-tuning** (:func:`finetune`): a new linear head on a copy of the backbone, every weight
  trained with AdamW, layer-wise lr decay (BEiT/MAE/SimMIM fine-tuning), label smoothing, warm-up
  + cosine schedule, random-crop (padding) + flip augmentation.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterable, Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.init import trunc_normal_

from .data import ImageDataset, load_dataset, normalize

POOLS = ("cls", "mean")

# The book's one probe protocol: every probe number in the scoreboard, the results README and the chapters
# is this one unless labelled otherwise. Mean-pooled patch tokens work for every objective (the MIM losses
# never train [CLS]; SimMIM's own probe averages the patch tokens of a block), and one feature for every
# block lets Fig 10's per-block curve and the last-block headline be the same measurement.
PROTOCOL = {
    "features": "mean of the patch tokens of a block's output ([CLS] excluded, no final norm)",
    "blocks": "every block 1..L (Fig 10); the headline is block L",
    "linear_probe": "BatchNorm1d(affine=False) + linear, SGD lr 0.1, momentum 0.9, cosine, 100 epochs, batch 1024",
    "knn": "weighted kNN, k = 20, cosine similarity, temperature 0.07",
    "split": "CIFAR-10: 10,000 training images to fit, 2,000 test images to score (evaluation_split, seed 0)",
}


def _device_of(model: nn.Module, device: torch.device | str | None) -> torch.device:
    return torch.device(device) if device is not None else next(model.parameters()).device


def _check_images(images: torch.Tensor, name: str) -> None:
    if images.dtype != torch.uint8 or images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(f"{name} must be uint8 (N, 3, H, W), got {images.dtype} {tuple(images.shape)}")


def _pool(tokens: torch.Tensor, prefix: int, pool: str) -> torch.Tensor:
    """(B, P + N, C) → (B, C): the first prefix (CLS) token, or the mean of the N patch tokens."""
    return tokens[:, 0] if pool == "cls" else tokens[:, prefix:].mean(dim=1)


def _take(dataset: ImageDataset, index: torch.Tensor, what: str) -> ImageDataset:
    return ImageDataset(dataset.images[index], dataset.labels[index], dataset.classes, dataset.name,
                        dataset.split, f"{dataset.source}, {what} of {len(index)}", dataset.is_sample)


def evaluation_split(
    dataset: str = "cifar10",
    data_source: str = "auto",
    img_size: int = 32,
    num_train: int | None = None,
    num_test: int | None = None,
    seed: int = 0,
) -> tuple[ImageDataset, ImageDataset]:
    """Labelled (train, test) images for probes and fine-tuning, uint8 (N, 3, img_size, img_size).

    Real data: random subsets (``seed``) of the train and test splits, all images when None.
    The embedded sample (2,000 CIFAR-10 *test* images sorted by class) has no train split: it is
    shuffled with ``seed`` and cut into two disjoint parts, the test part first (``num_test``, at
    most half of it), the train part from the rest (``num_train``, capped at what is left).
    """
    for name, n in (("num_train", num_train), ("num_test", num_test)):
        if n is not None and (not isinstance(n, int) or n < 2):
            raise ValueError(f"{name} must be an integer ≥ 2 or None (all), got {n!r}")
    test = load_dataset(dataset, "test", source=data_source, img_size=img_size)
    generator = torch.Generator().manual_seed(seed)
    if test.is_sample:
        order = torch.randperm(len(test), generator=generator)  # (N,)
        n_test = min(num_test or len(test) // 2, len(test) // 2)
        n_train = min(num_train or len(test), len(test) - n_test)
        return (_take(test, order[n_test : n_test + n_train], "probe-train part"),
                _take(test, order[:n_test], "probe-test part"))
    train = load_dataset(dataset, "train", source=data_source, img_size=img_size)

    def subset(split: ImageDataset, n: int | None) -> ImageDataset:
        if n is None or n >= len(split):
            return split
        return _take(split, torch.randperm(len(split), generator=generator)[:n], "random subset")

    return subset(train, num_train), subset(test, num_test)


@torch.no_grad()
def extract_features(
    model: nn.Module,
    images: torch.Tensor,
    mean: Iterable[float],
    std: Iterable[float],
    blocks: Iterable[int] | None = None,
    pool: str = "cls",
    batch_size: int = 256,
    device: torch.device | str | None = None,
) -> dict[int | str, torch.Tensor]:
    """Pooled features of a timm ViT per block, for probes.

    model: a timm VisionTransformer (e.g. ``objective.backbone``); run in eval mode, fp32, its
    training mode is restored afterwards. images: uint8 (N, 3, H, W), normalised here with
    ``mean``/``std``. blocks: 1-based block indices (default: all). pool: "cls" (token 0) or "mean"
    (mean over patch tokens, prefix tokens excluded).

    Returns {l: (N, C) float32 on the CPU} for each requested block l (block output, no final norm)
    and, when the last block is requested, {"final": (N, C)}: the last block after the final norm.
    """
    _check_images(images, "images")
    if pool not in POOLS:
        raise ValueError(f"unknown pool {pool!r}; valid: {', '.join(POOLS)}")
    prefix = model.num_prefix_tokens
    if pool == "cls" and not getattr(model, "has_class_token", prefix > 0):
        raise ValueError("pool='cls' needs a model with a class token; use pool='mean'")
    depth = len(model.blocks)
    wanted = sorted(set(range(1, depth + 1) if blocks is None else blocks))
    if not wanted or wanted[0] < 1 or wanted[-1] > depth:
        raise ValueError(f"blocks must be 1-based indices in 1..{depth}, got {wanted}")
    device = _device_of(model, device)
    was_training = model.training
    model.eval()
    chunks: dict[int | str, list[torch.Tensor]] = {key: [] for key in wanted + (["final"] if wanted[-1] == depth else [])}
    try:
        for start in range(0, images.shape[0], batch_size):
            x = normalize(images[start : start + batch_size].to(device), mean, std)  # (B, 3, H, W)
            final, states = model.forward_intermediates(
                x, indices=[l - 1 for l in wanted], norm=False, output_fmt="NLC", return_prefix_tokens=True
            )
            for l, (patches, prefix_tokens) in zip(wanted, states):
                tokens = torch.cat([prefix_tokens, patches], dim=1)  # (B, P + N, C)
                chunks[l].append(_pool(tokens, prefix, pool).float().cpu())  # (B, C)
            if "final" in chunks:
                chunks["final"].append(_pool(final, prefix, pool).float().cpu())  # (B, C)
    finally:
        model.train(was_training)
    return {key: torch.cat(parts) for key, parts in chunks.items()}  # (N, C) each


def _check_features(features: torch.Tensor, labels: torch.Tensor, name: str) -> None:
    if features.ndim != 2 or labels.ndim != 1 or features.shape[0] != labels.shape[0]:
        raise ValueError(
            f"{name}: features must be (N, C) and labels (N,), got {tuple(features.shape)} and {tuple(labels.shape)}"
        )


def _num_classes(*labels: torch.Tensor) -> int:
    return int(max(int(y.max()) for y in labels)) + 1


@torch.no_grad()
def knn_accuracy(
    train_features: torch.Tensor,
    train_labels: torch.Tensor,
    test_features: torch.Tensor,
    test_labels: torch.Tensor,
    k: int = 20,
    temperature: float = 0.07,
    batch_size: int = 1024,
    device: torch.device | str | None = None,
) -> float:
    """Weighted kNN top-1 accuracy in [0, 1] (InstDisc, Wu et al. 2018; DINO's ``knn_classifier``).

    Features (N, C) are L2-normalised; each test feature takes its k most cosine-similar training
    features, which vote for their labels with weight exp(similarity / temperature).
    """
    _check_features(train_features, train_labels, "train")
    _check_features(test_features, test_labels, "test")
    if not 1 <= k <= train_features.shape[0]:
        raise ValueError(f"k must be in 1..{train_features.shape[0]} (the number of training features), got {k}")
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    device = torch.device(device) if device is not None else train_features.device
    num_classes = _num_classes(train_labels, test_labels)
    bank = F.normalize(train_features.to(device).float(), dim=1)  # (N_train, C)
    bank_labels = train_labels.to(device)  # (N_train,)
    correct = 0
    for start in range(0, test_features.shape[0], batch_size):
        queries = F.normalize(test_features[start : start + batch_size].to(device).float(), dim=1)  # (B, C)
        similarity, index = (queries @ bank.T).topk(k, dim=1)  # (B, k)
        weights = (similarity / temperature).exp()  # (B, k)
        votes = torch.zeros(queries.shape[0], num_classes, device=device)  # (B, classes)
        votes.scatter_add_(1, bank_labels[index], weights)
        correct += (votes.argmax(dim=1) == test_labels[start : start + batch_size].to(device)).sum().item()
    return correct / test_features.shape[0]


def linear_probe_accuracy(
    train_features: torch.Tensor,
    train_labels: torch.Tensor,
    test_features: torch.Tensor,
    test_labels: torch.Tensor,
    epochs: int = 100,
    lr: float = 0.1,
    batch_size: int = 1024,
    seed: int = 0,
    device: torch.device | str | None = None,
) -> float:
    """Top-1 test accuracy in [0, 1] of a BN(affine=False) + Linear probe trained on frozen features.

    Fixed recipe: SGD(lr, momentum 0.9, no weight decay), cosine decay to 0 over ``epochs``, mini-batches of
    ``batch_size`` shuffled with ``seed``, head weights N(0, 0.01) (MoCo v3 / MAE probes), zero bias.
    """
    _check_features(train_features, train_labels, "train")
    _check_features(test_features, test_labels, "test")
    if epochs <= 0 or lr <= 0 or batch_size <= 0:
        raise ValueError(f"epochs, lr and batch_size must be > 0, got {epochs}, {lr}, {batch_size}")
    device = torch.device(device) if device is not None else train_features.device
    generator = torch.Generator().manual_seed(seed)
    num_classes = _num_classes(train_labels, test_labels)
    head = nn.Linear(train_features.shape[1], num_classes)
    nn.init.normal_(head.weight, std=0.01, generator=generator)
    nn.init.zeros_(head.bias)
    probe = nn.Sequential(nn.BatchNorm1d(train_features.shape[1], affine=False), head).to(device)
    x, y = train_features.to(device).float(), train_labels.to(device)  # (N, C), (N,)
    steps_per_epoch = math.ceil(x.shape[0] / batch_size)
    optimizer = torch.optim.SGD(probe.parameters(), lr=lr, momentum=0.9, weight_decay=0.0)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs * steps_per_epoch)
    probe.train()
    for _ in range(epochs):
        order = torch.randperm(x.shape[0], generator=generator).to(device)  # (N,)
        for batch in order.split(batch_size):
            if batch.numel() < 2:  # BatchNorm needs two samples
                continue
            loss = F.cross_entropy(probe(x[batch]), y[batch])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
    probe.eval()
    with torch.no_grad():
        predictions = probe(test_features.to(device).float()).argmax(dim=1)  # (N_test,)
    return (predictions == test_labels.to(device)).float().mean().item()


def layer_id(name: str, depth: int) -> int:
    """Layer of a ViT parameter for layer-wise lr decay: 0 embeddings, l for block l (1-based), depth + 1 after."""
    if name.startswith(("cls_token", "reg_token", "pos_embed", "patch_embed", "norm_pre")):
        return 0
    if name.startswith("blocks."):
        return int(name.split(".")[1]) + 1
    return depth + 1


def finetune_param_groups(model: nn.Module, weight_decay: float, layer_decay: float) -> list[dict]:
    """AdamW groups: lr scale layer_decay^(depth + 1 − layer); no weight decay on 1-d params, tokens, pos_embed."""
    depth = len(model.blocks)
    groups: dict[tuple[int, bool], dict] = {}
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        no_decay = param.ndim <= 1 or "token" in name or "pos_embed" in name
        layer = layer_id(name, depth)
        group = groups.setdefault(
            (layer, no_decay),
            {"params": [], "weight_decay": 0.0 if no_decay else weight_decay, "lr_scale": layer_decay ** (depth + 1 - layer)},
        )
        group["params"].append(param)
    return list(groups.values())


def random_crop_flip(images: torch.Tensor, padding: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """CIFAR augmentation on a uint8 batch (B, 3, H, W): zero-pad by ``padding``, random crop back, random h-flip."""
    b, _, h, w = images.shape
    padded = F.pad(images, (padding, padding, padding, padding))  # (B, 3, H + 2p, W + 2p)
    dy, dx = (torch.randint(0, 2 * padding + 1, (2, b), generator=generator)).to(images.device)  # (B,) each
    rows = dy[:, None] + torch.arange(h, device=images.device)  # (B, H)
    cols = dx[:, None] + torch.arange(w, device=images.device)  # (B, W)
    flip = (torch.rand(b, generator=generator) < 0.5).to(images.device)  # (B,)
    cols = torch.where(flip[:, None], cols.flip(1), cols)  # (B, W)
    batch = torch.arange(b, device=images.device)[:, None, None]  # (B, 1, 1)
    crops = padded.permute(0, 2, 3, 1)[batch, rows[:, :, None], cols[:, None, :]]  # (B, H, W, 3)
    return crops.permute(0, 3, 1, 2).contiguous()  # (B, 3, H, W)


def finetune(
    backbone: nn.Module,
    train_images: torch.Tensor,
    train_labels: torch.Tensor,
    test_images: torch.Tensor,
    test_labels: torch.Tensor,
    mean: Iterable[float],
    std: Iterable[float],
    epochs: int = 30,
    lr: float = 1e-3,
    batch_size: int = 256,
    weight_decay: float = 0.05,
    layer_decay: float = 0.75,
    label_smoothing: float = 0.1,
    warmup_fraction: float = 0.1,
    seed: int = 0,
    device: torch.device | str | None = None,
) -> float:
    """Fine-tune a copy of ``backbone`` with a new linear head; return top-1 test accuracy in [0, 1].

    backbone: a timm VisionTransformer (left untouched; its copy is unfrozen entirely, e.g. MoCo v3's
    frozen patch projection). images uint8 (N, 3, H, W), labels int64 (N,). Recipe: AdamW(lr·scale,
    weight_decay) with layer-wise lr decay (0.75 as MAE ViT-B; 1.0 switches it off), linear warm-up
    over ``warmup_fraction`` of the steps then cosine to 0, cross-entropy with ``label_smoothing``,
    random crop (padding H/8) + flip. bf16 autocast on CUDA GPUs that support it, else fp32.
    """
    _check_images(train_images, "train_images")
    _check_images(test_images, "test_images")
    if epochs <= 0 or lr <= 0 or batch_size <= 0:
        raise ValueError(f"epochs, lr and batch_size must be > 0, got {epochs}, {lr}, {batch_size}")
    if not 0.0 < layer_decay <= 1.0:
        raise ValueError(f"layer_decay must be in (0, 1], got {layer_decay}")
    device = _device_of(backbone, device)
    generator = torch.Generator().manual_seed(seed)
    num_classes = _num_classes(train_labels, test_labels)
    model = copy.deepcopy(backbone).requires_grad_(True).to(device)
    model.reset_classifier(num_classes)
    trunc_normal_(model.head.weight, std=2e-5)
    nn.init.zeros_(model.head.bias)
    model.head.to(device)
    groups = finetune_param_groups(model, weight_decay, layer_decay)
    optimizer = torch.optim.AdamW(groups, lr=lr)
    total = epochs * math.ceil(train_images.shape[0] / batch_size)
    warmup = max(1, int(warmup_fraction * total))
    amp = device.type == "cuda" and torch.cuda.is_bf16_supported()
    images, labels = train_images.to(device), train_labels.to(device)
    step = 0
    model.train()
    for _ in range(epochs):
        order = torch.randperm(images.shape[0], generator=generator).to(device)  # (N,)
        for batch in order.split(batch_size):
            scale = step / warmup if step < warmup else 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, total - warmup)))
            for group in optimizer.param_groups:
                group["lr"] = lr * scale * group["lr_scale"]
            x = normalize(random_crop_flip(images[batch], images.shape[-1] // 8, generator), mean, std)  # (B, 3, H, W)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
                loss = F.cross_entropy(model(x), labels[batch], label_smoothing=label_smoothing)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            step += 1
    return classify_accuracy(model, test_images, test_labels, mean, std, batch_size, device)


@torch.no_grad()
def classify_accuracy(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    mean: Iterable[float],
    std: Iterable[float],
    batch_size: int = 256,
    device: torch.device | str | None = None,
) -> float:
    """Top-1 accuracy in [0, 1] of a classifier (logits = model(normalised images)) in eval mode, fp32."""
    _check_images(images, "images")
    device = _device_of(model, device)
    was_training = model.training
    model.eval()
    correct = 0
    try:
        for start in range(0, images.shape[0], batch_size):
            x = normalize(images[start : start + batch_size].to(device), mean, std)  # (B, 3, H, W)
            correct += (model(x).argmax(dim=1).cpu() == labels[start : start + batch_size].cpu()).sum().item()
    finally:
        model.train(was_training)
    return correct / images.shape[0]


# --------------------------------------------------------------------------- probes of a backbone


def check_pool(pool: str) -> None:
    if pool not in POOLS:
        raise ValueError(f"unknown pool {pool!r}; valid: {', '.join(POOLS)}")


def _percent(x: float) -> float:
    return round(100.0 * x, 2)


def _probe_scores(train_features: torch.Tensor, test_features: torch.Tensor, train: ImageDataset,
                  test: ImageDataset, knn_k: int, probe_epochs: int, seed: int, device: torch.device) -> tuple[float, float]:
    """(kNN, linear probe) top-1 % on one pair of (N, C) feature sets, computed on ``device``."""
    knn = knn_accuracy(train_features, train.labels, test_features, test.labels, k=min(knn_k, len(train)),
                       device=device)
    probe = linear_probe_accuracy(train_features, train.labels, test_features, test.labels,
                                  epochs=probe_epochs, seed=seed, device=device)
    return _percent(knn), _percent(probe)


def block_probes(
    vit: nn.Module,
    train: ImageDataset,
    test: ImageDataset,
    mean: Sequence[float],
    std: Sequence[float],
    pools: Sequence[str] = POOLS,
    knn_k: int = 20,
    probe_epochs: int = 100,
    seed: int = 0,
) -> dict[str, dict[str, list[float]]]:
    """kNN and linear-probe top-1 % on every block's output (no final norm) of a timm ViT (Fig 10).

    Returns ``{pool: {"knn": [% per block 1..L], "linear_probe": [% per block 1..L]}}``.
    """
    for pool in pools:
        check_pool(pool)
    depth, device = len(vit.blocks), next(vit.parameters()).device
    out = {}
    for pool in pools:
        feats_train = extract_features(vit, train.images, mean, std, pool=pool)  # {l: (N, C)}
        feats_test = extract_features(vit, test.images, mean, std, pool=pool)
        scores = [_probe_scores(feats_train[l], feats_test[l], train, test, knn_k, probe_epochs, seed, device)
                  for l in range(1, depth + 1)]
        out[pool] = {"knn": [s[0] for s in scores], "linear_probe": [s[1] for s in scores]}
    return out


def evaluate_backbone(
    vit: nn.Module,
    train: ImageDataset,
    test: ImageDataset,
    mean: Sequence[float],
    std: Sequence[float],
    pool: str = "mean",
    knn_k: int = 20,
    probe_epochs: int = 100,
    finetune_epochs: int = 0,
    seed: int = 0,
) -> dict[str, float | None]:
    """Top-1 % of a kNN and a linear probe on the last block, and of fine-tuning.

    ``pool="mean"`` is the book's protocol (:data:`sslvit_lite.probing.PROTOCOL`): the mean of the patch
    tokens of block L's output; ``pool="cls"`` the [CLS] token after the final norm (MoCo v3's and MAE's
    own probes). ``finetune_epochs`` = 0 skips fine-tuning (``"fine_tune": None``); otherwise a copy of
    ``vit`` is fine-tuned with :func:`sslvit_lite.probing.finetune` (``vit`` itself is left unchanged).
    """
    check_pool(pool)
    if finetune_epochs < 0:
        raise ValueError(f"finetune_epochs must be ≥ 0 (0 skips fine-tuning), got {finetune_epochs}")
    last = len(vit.blocks)
    key = last if pool == "mean" else "final"
    feats_train = extract_features(vit, train.images, mean, std, blocks=[last], pool=pool)[key]  # (N, C)
    feats_test = extract_features(vit, test.images, mean, std, blocks=[last], pool=pool)[key]  # (M, C)
    device = next(vit.parameters()).device
    knn, probe = _probe_scores(feats_train, feats_test, train, test, knn_k, probe_epochs, seed, device)
    tuned = None
    if finetune_epochs:
        tuned = _percent(finetune(vit, train.images, train.labels, test.images, test.labels, mean, std,
                                  epochs=finetune_epochs, seed=seed))
    return {"knn": knn, "linear_probe": probe, "fine_tune": tuned}
