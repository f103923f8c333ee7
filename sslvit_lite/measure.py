"""Run every analysis of the paper on one pre-trained ViT: ``python -m sslvit_lite analyze``.

Park et al. (ICLR 2023) analyse self-attention (Sec. 2: attention distance, NMI, maps) and
representations (Sec. 3: Fourier, t-SNE, SVD) per depth. :func:`compute_metrics` runs the
model once over the images with :func:`sslvit_lite.vit.capture` and computes all of them
per block and per head; :func:`main` loads a checkpoint, writes ``metrics.json`` and the
figures. The ``metrics`` entry has the per-model schema of :mod:`sslvit_lite.claims`.

Depth conventions (the book's, used by every chapter): attention metrics and the unison ratio per block 1..L;
Fourier, silhouette and effective rank per depth 0..L (embedding, then block outputs).
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Sequence

import torch
from torch import nn

from sslvit_lite.analysis.attention import (attention_entropy, attention_nmi, head_jsd, head_map_jsd,
                                          mean_attention_distance, query_jsd, query_map)
from sslvit_lite.analysis.fourier import diagonal_profile, mean_log_amplitude
from sslvit_lite.analysis.representation import effective_rank, image_silhouette, token_tsne, unison_ratio
from sslvit_lite.checkpoint import CheckpointError, load_backbone
from sslvit_lite.data import DatasetUnavailableError, dataset_stats, load_dataset
from sslvit_lite.provenance import provenance, provenance_caption
from sslvit_lite.vit import capture, model_input, patch_grid

SCHEMA = "sslvit_lite.measure/1"
CONVENTIONS = {
    "attention_distance": "blocks 1..L, [per head], pixels of the model input, CLS dropped (Fig 3)",
    "nmi": "blocks 1..L, [per head], CLS dropped (Fig 4)",
    "attention_entropy": "blocks 1..L, [per head], mean row entropy / log P (1 = uniform, 0 = one-hot)",
    "query_jsd": "blocks 1..L, [per head], bits, mean pairwise JSD between query rows (Fig 2, ours)",
    "head_jsd": "blocks 1..L, bits, mean pairwise JSD between heads, query by query (Fig 2, ours)",
    "head_map_jsd": "blocks 1..L, bits, mean pairwise JSD between heads' query-averaged maps (extra, ours)",
    "fourier_delta": "depths 0..L (embedding, block outputs), Δ log amplitude at the last diagonal bin (Fig 8)",
    "fourier_curves": "depths 0..L, Δ(k) for k = 0..K-1 along the half diagonal (Fig 8)",
    "silhouette": "depths 0..L, image-ID silhouette of patch tokens, cosine (Fig E.2, ours)",
    "effective_rank": "depths 0..L, mean over images of exp(entropy of σ/Σσ) of patch tokens (Sec. 3, ours)",
    "unison": "blocks 1..L, mean over images, block input → after attention (Sec. 3, ours)",
}


# --------------------------------------------------------------------------- metrics


class _Sums:
    """Running sums over images, turned into means at the end."""

    def __init__(self):
        self.sums: dict[str, list[torch.Tensor]] = {}

    def add(self, key: str, per_depth: Sequence[torch.Tensor]) -> None:
        """per_depth: one tensor per depth whose first dim is the batch (summed here)."""
        values = [t.sum(dim=0).double().cpu() for t in per_depth]
        if key not in self.sums:
            self.sums[key] = values
        else:
            self.sums[key] = [a + b for a, b in zip(self.sums[key], values)]

    def mean(self, key: str, count: int) -> list[torch.Tensor]:
        return [t / count for t in self.sums[key]]


def _as_list(t: torch.Tensor):
    return [round(float(x), 6) for x in t.flatten()] if t.dim() else round(float(t), 6)


def _accumulate(sums: _Sums, cap, prefix: int, grid: tuple[int, int], patch_px: float) -> None:
    """Add one batch's per-image metrics (from a :class:`sslvit_lite.vit.Capture`) to the running sums."""
    patches = [a[:, :, prefix:, prefix:].float() for a in cap.attentions]  # L × (B, H, P, P)
    sums.add("attention_distance", [mean_attention_distance(a, grid, patch_px) for a in patches])
    sums.add("nmi", [attention_nmi(a) for a in patches])
    sums.add("attention_entropy", [attention_entropy(a) for a in patches])
    sums.add("query_jsd", [query_jsd(a) for a in patches])
    if patches[0].shape[1] >= 2:
        sums.add("head_jsd", [head_jsd(a) for a in patches])
        sums.add("head_map_jsd", [head_map_jsd(a) for a in patches])
    zs = [z.float() for z in cap.tokens]  # (2L + 1) × (B, N, C)
    outputs = zs[0::2]  # depths 0..L
    batch = zs[0].shape[0]
    # Σ over images of the per-image-mean log amplitude, so the mean over all images is exact.
    sums.add("log_amplitude", [batch * mean_log_amplitude(z, prefix, grid)[None] for z in outputs])
    sums.add("effective_rank", [effective_rank(z[:, prefix:]) for z in outputs])
    sums.add("unison", [unison_ratio(zs[2 * l][:, prefix:], zs[2 * l + 1][:, prefix:]) for l in range(len(patches))])


@torch.no_grad()
def compute_metrics(
    model: nn.Module,
    images_uint8: torch.Tensor,
    mean: Sequence[float],
    std: Sequence[float],
    batch_size: int = 64,
    device: str | torch.device = "cpu",
    seed: int = 0,
    num_images: int | None = None,
    representation_images: int = 18,
    tsne: bool = True,
) -> dict:
    """Every analysis of the paper on ``model``, per block / depth and per head (JSON-serialisable).

    model: a timm ViT, moved to ``device`` and run in eval mode in fp32 (its training mode
    is restored afterwards).
    images_uint8: (N, 3, H, W) uint8, normalised here with ``mean``/``std`` and resized
    (bilinear, antialiased) to the model's input size if needed. ``num_images`` images are
    drawn without replacement with ``seed`` (all, in order, when None or ≥ N).
    The silhouette and the t-SNE example use the first ``representation_images`` of them
    (the paper's t-SNE shows 18 images).

    Returns ``{"metrics": {...}, "examples": {...}, "info": {...}}``; ``metrics`` holds the
    keys of :data:`CONVENTIONS`, ``examples`` the data behind the example figures.
    """

    if batch_size < 1 or representation_images < 2:
        raise ValueError(f"need batch_size ≥ 1 and representation_images ≥ 2, got {batch_size}, {representation_images}")
    images_uint8 = _chosen_images(images_uint8, num_images, seed)
    count = images_uint8.shape[0]
    grid, prefix = patch_grid(model), int(model.num_prefix_tokens)
    sums, per_depth_tokens, example = _record(model, images_uint8, mean, std, batch_size, torch.device(device),
                                              representation_images)

    curves = [diagonal_profile(m) for m in sums.mean("log_amplitude", count)]  # (L + 1) × (K,)
    metrics = {key: [_as_list(t) for t in sums.mean(key, count)] for key in sums.sums if key != "log_amplitude"}
    metrics["fourier_delta"] = [round(float(c[-1]), 6) for c in curves]
    metrics["fourier_curves"] = [_as_list(c) for c in curves]
    metrics["silhouette"] = [round(image_silhouette(t), 6) for t in per_depth_tokens]
    centre, maps = example
    examples = {"query_map": {"block": len(maps), "query_index": centre, "image_index": 0,
                              "maps": [[[_as_list(row) for row in head] for head in m] for m in maps]}}
    if tsne:
        examples["tsne"] = _tsne_example(per_depth_tokens[-1], seed, depth=len(curves) - 1)
    info = {
        "num_images": count,
        "representation_images": per_depth_tokens[0].shape[0],
        "grid": list(grid),
        "num_prefix": prefix,
        "num_blocks": len(metrics["nmi"]),
        "num_heads": len(metrics["nmi"][0]),
        "patch_size_px": float(model.patch_embed.patch_size[0]),
        "input_size": [int(s) for s in model.patch_embed.img_size],
        "fourier_bin": len(curves[0]) - 1,
        "seed": seed,
        "conventions": CONVENTIONS,
    }
    return {"metrics": metrics, "examples": examples, "info": info}


def _chosen_images(images_uint8: torch.Tensor, num_images: int | None, seed: int) -> torch.Tensor:
    """All images, or ``num_images`` of them drawn without replacement with ``seed`` (kept in order)."""
    if images_uint8.dtype != torch.uint8 or images_uint8.dim() != 4 or images_uint8.shape[1] != 3:
        raise ValueError(f"images_uint8 must be uint8 (N, 3, H, W), got {images_uint8.dtype} {tuple(images_uint8.shape)}")
    total = images_uint8.shape[0]
    if num_images is not None and num_images < 2:
        raise ValueError(f"num_images must be ≥ 2, got {num_images}")
    if num_images is not None and num_images < total:
        index = torch.randperm(total, generator=torch.Generator().manual_seed(seed))[:num_images].sort().values
        images_uint8 = images_uint8[index]
    if images_uint8.shape[0] < 2:
        raise ValueError(f"need at least 2 images, got {images_uint8.shape[0]}")
    return images_uint8


@torch.no_grad()
def _record(model: nn.Module, images_uint8: torch.Tensor, mean: Sequence[float], std: Sequence[float],
            batch_size: int, device: torch.device, representation_images: int):
    """One pass over the images with :func:`capture`: (the running sums of every metric, the patch tokens
    of the first ``representation_images`` images per depth ((L + 1) × (n, P, C)), and the example maps of
    the first image's centre query per block (query index, L × (H, R, C)))."""
    grid, prefix = patch_grid(model), int(model.num_prefix_tokens)
    patch_px = float(model.patch_embed.patch_size[0])
    was_training = model.training
    model.eval().to(device)
    sums, rep_tokens, example = _Sums(), [], None
    try:
        for start in range(0, images_uint8.shape[0], batch_size):
            x = model_input(model, images_uint8[start : start + batch_size].to(device), mean, std)  # (B, 3, H, W)
            with capture(model) as cap:
                model(x)
            _accumulate(sums, cap, prefix, grid, patch_px)
            if sum(part[0].shape[0] for part in rep_tokens) < representation_images:
                rep_tokens.append([z[:representation_images, prefix:].float().cpu() for z in cap.block_outputs])
            if example is None:  # first image, centre query, every block: (H, R, C) each
                centre = (grid[0] // 2) * grid[1] + grid[1] // 2
                example = (centre, [query_map(a[:1].float(), centre, grid, prefix)[0].cpu() for a in cap.attentions])
    finally:
        model.train(was_training)
    depths = len(rep_tokens[0])
    per_depth_tokens = [torch.cat([part[d] for part in rep_tokens])[:representation_images] for d in range(depths)]
    return sums, per_depth_tokens, example


def _tsne_example(tokens: torch.Tensor, seed: int, depth: int) -> dict:
    """The t-SNE of the patch tokens (n, P, C) at ``depth``, coloured by image."""
    points = token_tsne(tokens, perplexity=20, seed=seed)  # (n·P, 2)
    return {"depth": depth, "points": [[round(float(a), 4), round(float(b), 4)] for a, b in points],
            "image_ids": [i for i in range(tokens.shape[0]) for _ in range(tokens.shape[1])]}


# --------------------------------------------------------------------------- figures


def _mean(rows):
    return [sum(r) / len(r) if isinstance(r, list) else r for r in rows]


def plot_metrics(result: dict, out_dir: str | os.PathLike, caption: str = "") -> list[Path]:
    """Draw the per-depth figures of ``result`` (from :func:`compute_metrics` or metrics.json) as PNGs."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    m, info = result["metrics"], result["info"]
    written = []

    def save(fig, name):
        if caption:
            fig.text(0.5, 0.005, caption, ha="center", va="bottom", fontsize=8, wrap=True)
        fig.tight_layout(rect=(0, 0.04 if caption else 0, 1, 1))
        path = out / name
        fig.savefig(path, dpi=120)
        plt.close(fig)
        written.append(path)

    blocks = list(range(1, info["num_blocks"] + 1))
    depths = list(range(0, info["num_blocks"] + 1))
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    for ax, key, label in zip(axes, ("attention_distance", "nmi", "query_jsd"),
                              ("mean attention distance (px)", "NMI(query; key)", "query JSD (bits)")):
        for b, heads in zip(blocks, m[key]):
            ax.scatter([b] * len(heads), heads, s=10, color="tab:blue", alpha=0.5)
        ax.plot(blocks, _mean(m[key]), color="tab:blue", marker="o", label="mean over heads")
        ax.set(xlabel="block", ylabel=label, xticks=blocks)
        ax.legend(fontsize=8)
    save(fig, "attention_metrics.png")

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    cmap = plt.get_cmap("plasma")
    for d, curve in enumerate(m["fourier_curves"]):
        axes[0].plot(range(len(curve)), curve, color=cmap(d / max(1, len(depths) - 1)), label=f"depth {d}")
    axes[0].set(xlabel="diagonal frequency bin k", ylabel="Δ log amplitude")
    axes[0].legend(fontsize=8, ncol=2)
    axes[1].plot(depths, m["fourier_delta"], marker="o")
    axes[1].set(xlabel="depth (0 = embedding)", ylabel=f"Δ log amplitude at k = {info['fourier_bin']}")
    save(fig, "fourier.png")

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    axes[0].plot(depths, m["silhouette"], marker="o")
    axes[0].set(xlabel="depth", ylabel="image-ID silhouette (cosine)")
    axes[1].plot(blocks, m["unison"], marker="o")
    axes[1].set(xlabel="block", ylabel="unison ratio (attention)", ylim=(0, 1.05))
    axes[2].plot(depths, m["effective_rank"], marker="o")
    axes[2].set(xlabel="depth", ylabel="effective rank of patch tokens")
    save(fig, "representation_metrics.png")

    qm = result["examples"]["query_map"]
    heads = len(qm["maps"][0])
    fig, axes = plt.subplots(1, heads, figsize=(2.8 * heads, 3.4), squeeze=False)
    rows, cols = info["grid"]
    qr, qc = divmod(qm["query_index"], cols)
    for h, ax in enumerate(axes[0]):
        ax.imshow(qm["maps"][-1][h], cmap="plasma")
        ax.add_patch(matplotlib.patches.Rectangle((qc - 0.5, qr - 0.5), 1, 1, fill=False, color="red"))
        ax.set(title=f"block {qm['block']}, head {h}", xticks=[], yticks=[])
    save(fig, "attention_map.png")

    if "tsne" in result["examples"]:
        t = result["examples"]["tsne"]
        fig, ax = plt.subplots(figsize=(4.5, 4.5))
        xs, ys = zip(*t["points"])
        ax.scatter(xs, ys, c=t["image_ids"], cmap="plasma", s=2)
        ax.set(title=f"token t-SNE, depth {t['depth']} (colour = image)", xticks=[], yticks=[])
        save(fig, "tsne.png")
    return written


# --------------------------------------------------------------------------- CLI


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m sslvit_lite analyze", description=__doc__.splitlines()[0])
    p.add_argument("--checkpoint", required=True, help="checkpoint file, run folder, or torch.save(vit.state_dict()) file")
    p.add_argument("--dataset", default="cifar10")
    p.add_argument("--split", default="test")
    p.add_argument("--out", required=True, help="output folder for metrics.json and figures")
    p.add_argument("--arch", default=None, help="vit_tiny | vit_small | vit_base (default: from the checkpoint, else vit_tiny)")
    p.add_argument("--img-size", type=int, default=None, help="default: from the checkpoint, else 32")
    p.add_argument("--patch-size", type=int, default=None, help="default: from the checkpoint, else 4")
    p.add_argument("--depth", type=int, default=None, help="override the arch's number of blocks (plain state dicts)")
    p.add_argument("--embed-dim", type=int, default=None, help="override the arch's width (plain state dicts)")
    p.add_argument("--num-heads", type=int, default=None, help="override the arch's number of heads (plain state dicts)")
    p.add_argument("--num-images", type=int, default=256)
    p.add_argument("--representation-images", type=int, default=18)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--data-source", default="auto", help="auto | folder | torchvision | sample")
    p.add_argument("--data-root", default=None)
    p.add_argument("--device", default=None, help="cpu | cuda (default: cuda when available)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-figures", action="store_true")
    p.add_argument("--no-tsne", action="store_true")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry point; writes ``<out>/metrics.json`` and, unless ``--no-figures``, PNG figures."""


    parser = build_parser()
    args = parser.parse_args(argv)
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    sizes = {k: v for k, v in (("depth", args.depth), ("embed_dim", args.embed_dim), ("num_heads", args.num_heads))
             if v is not None}
    try:  # bad input: one line naming the file and what is wrong, exit status 2 (like `train`)
        model, ckpt = load_backbone(args.checkpoint, arch=args.arch, img_size=args.img_size,
                                    patch_size=args.patch_size, vit_kwargs=sizes)
        data = load_dataset(args.dataset, args.split, source=args.data_source, root=args.data_root)
    except (CheckpointError, DatasetUnavailableError, ValueError) as err:
        parser.exit(2, f"{parser.prog}: error: {' '.join(line.strip() for line in str(err).splitlines())}\n")
    mean, std = dataset_stats(args.dataset)
    result = compute_metrics(model, data.images, mean, std, batch_size=args.batch_size, device=device,
                             seed=args.seed, num_images=args.num_images,
                             representation_images=args.representation_images, tsne=not args.no_tsne)
    run = ckpt["config"] or {}
    prov = provenance(device, data=data.source, images=result["info"]["num_images"],
                      **{k: run[k] for k in ("preset", "objective", "epochs") if k in run})
    record = {
        "schema": SCHEMA,
        "checkpoint": {k: ckpt[k] for k in ("path", "kind", "arch", "img_size", "patch_size", "step")},
        "training_provenance": ckpt["provenance"],
        "dataset": {"name": args.dataset, "split": args.split, "source": data.source, "mean": list(mean), "std": list(std)},
        **result,
        "provenance": prov,
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "metrics.json").write_text(json.dumps(record, indent=1, allow_nan=False))
    if not args.no_figures:
        plot_metrics(record, out, caption=provenance_caption(prov))
    print(f"wrote {out / 'metrics.json'} ({result['info']['num_images']} images, {result['info']['num_blocks']} blocks)")
    return 0
