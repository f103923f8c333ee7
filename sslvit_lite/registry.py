"""The registry of the official checkpoints the book can load: where each is published, its digest,
architecture and key layout. :mod:`sslvit_lite.download` fetches them and :mod:`sslvit_lite.official`
converts them; both read this table, so neither imports the other's internals.
"""

from __future__ import annotations

from dataclasses import dataclass


FORMATS = ("mocov3", "simmim", "mae", "dino")


@dataclass(frozen=True)
class CheckpointInfo:
    """One official checkpoint.

    url: where upstream publishes it (for SimMIM, the Google Drive page of ``google_drive_id``).
    filename: its name in the cache directory (the upstream name, so a file fetched by hand fits).
    arch: the architecture in words. format: its key layout, one of :data:`FORMATS`.
    size_mb: approximate size, None when unknown. sha256: the published digest, None when upstream
    publishes none. md5_prefix: the leading hex digits of the MD5 that upstream publishes instead
    (MAE's README lists 6), None when it publishes none. timm_tag: a timm pretrained tag holding the same weights, if any.
    fixed_pos_embed: whether ``pos_embed`` is a fixed sin-cos table (then loaded and frozen).
    """

    name: str
    url: str
    filename: str
    arch: str
    format: str
    size_mb: float | None = None
    sha256: str | None = None
    md5_prefix: str | None = None
    timm_tag: str | None = None
    google_drive_id: str | None = None
    fixed_pos_embed: bool = False


_SIMMIM_DRIVE_ID = "1dJn6GYkwMIcoP3zqOEyW1_iQfpBi8UOw"

CHECKPOINTS: dict[str, CheckpointInfo] = {
    info.name: info
    for info in (
        CheckpointInfo(
            name="mocov3_vit_base",
            url="https://dl.fbaipublicfiles.com/moco-v3/vit-b-300ep/vit-b-300ep.pth.tar",
            filename="vit-b-300ep.pth.tar",
            arch="ViT-B/16: 768-d, 12 blocks, 12 heads, fixed 2-D sin-cos pos-embed (MoCo v3, 300 epochs)",
            format="mocov3",
            size_mb=863,
            fixed_pos_embed=True,
        ),
        CheckpointInfo(
            name="mocov3_vit_small",
            url="https://dl.fbaipublicfiles.com/moco-v3/vit-s-300ep/vit-s-300ep.pth.tar",
            filename="vit-s-300ep.pth.tar",
            arch="ViT-S/16: 384-d, 12 blocks, 12 heads (not timm's 6), fixed 2-D sin-cos pos-embed "
                 "(MoCo v3, 300 epochs)",
            format="mocov3",
            fixed_pos_embed=True,
        ),
        CheckpointInfo(
            name="simmim_vit_base",
            url=f"https://drive.google.com/file/d/{_SIMMIM_DRIVE_ID}/view",
            filename="simmim_pretrain__vit_base__img224__800ep.pth",
            arch="BEiT-style ViT-B/16: 768-d, 12 blocks, 12 heads, layer-scale, q/v biases, one shared "
                 "relative position bias, no absolute pos-embed (SimMIM, 800 epochs)",
            format="simmim",
            size_mb=345,
            google_drive_id=_SIMMIM_DRIVE_ID,
        ),
        CheckpointInfo(
            name="mae_vit_base",
            url="https://dl.fbaipublicfiles.com/mae/pretrain/mae_pretrain_vit_base.pth",
            filename="mae_pretrain_vit_base.pth",
            arch="ViT-B/16 encoder: 768-d, 12 blocks, 12 heads, fixed 2-D sin-cos pos-embed (MAE, 1600 epochs)",
            format="mae",
            md5_prefix="8cad7c",  # facebookresearch/mae README, pre-trained checkpoints table
            timm_tag="vit_base_patch16_224.mae",
            fixed_pos_embed=True,
        ),
        CheckpointInfo(
            name="dino_vit_base",
            url="https://dl.fbaipublicfiles.com/dino/dino_vitbase16_pretrain/dino_vitbase16_pretrain.pth",
            filename="dino_vitbase16_pretrain.pth",
            arch="ViT-B/16: 768-d, 12 blocks, 12 heads, learned pos-embed (DINO teacher backbone)",
            format="dino",
            timm_tag="vit_base_patch16_224.dino",
        ),
    )
}


def checkpoint_info(name: str) -> CheckpointInfo:
    """The :class:`CheckpointInfo` of ``name``; a ValueError names the valid ones."""
    if name not in CHECKPOINTS:
        raise ValueError(f"unknown checkpoint {name!r}; valid: {', '.join(CHECKPOINTS)}")
    return CHECKPOINTS[name]
