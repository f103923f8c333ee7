"""The paper's own checkpoints (and MAE, DINO) as timm models.

Park et al. (ICLR 2023) analyse two public ViT-B/16 checkpoints trained on ImageNet-1K:
MoCo v3 (contrastive learning, CL) and SimMIM (masked image modelling, MIM); the paper also
checks MAE and DINO. This module maps each official file onto a timm model built with
``pretrained=False`` (as the paper's analysis code does), so that :func:`sslvit_lite.vit.capture` records the same
attention probabilities and token states as the official code's forward (the official code):

=================  ==========================  =============================================
name               timm model                  official key layout
=================  ==========================  =============================================
mocov3_vit_base    VisionTransformer, ViT-B    ``state_dict`` → ``module.base_encoder.*``
mocov3_vit_small   VisionTransformer, ViT-S    same; ViT-S here has **12** heads (384-d)
simmim_vit_base    Beit, shared rel. pos bias  ``model`` → ``encoder.*``
mae_vit_base       ``vit_base_patch16_224.mae``  ``model`` → timm names
dino_vit_base      ``vit_base_patch16_224.dino`` a flat state dict with timm names
=================  ==========================  =============================================

What the conversion drops: the MoCo v3 projector (``head.*``), momentum encoder and predictor;
SimMIM's ``mask_token``, its decoder (a 1×1 conv) and the ``relative_position_index`` buffer
(checked against timm's, then rebuilt by timm); MAE's ``mask_token`` and ``decoder_*``.
MoCo v3 and MAE keep their fixed 2-D sin-cos ``pos_embed`` from the file, frozen
(``requires_grad=False``). SimMIM has no absolute position embedding: its shared relative
position bias (a ((2·14−1)²+3) × 12 table) is added to QKᵀ/√d inside every block's attention,
so it is part of the probabilities that ``capture`` records, as in the official ``attns``.

This module converts each key layout of the registry (:data:`sslvit_lite.registry.CHECKPOINTS`) and
loads strictly. Files are read without running code from them by
:func:`sslvit_lite.safe_unpickle.read_checkpoint` (the SimMIM file pickles a yacs config) and
downloaded, resumably and checked against the published digests, by
:func:`sslvit_lite.download.download`.

Usage (the first line needs the internet once, ~863 MB)::

    model = load_pretrained("mocov3_vit_base")
    model = load_official("simmim_vit_base", "simmim_pretrain__vit_base__img224__800ep.pth")
    with capture(model) as cap:   # sslvit_lite.vit.capture
        model(images)             # (B, 3, 224, 224), ImageNet-normalised
    cap.attentions                # 12 × (B, 12, 197, 197)
"""

from __future__ import annotations

import math
import os
from typing import Any, Mapping

import timm
import torch
from timm.models.beit import Beit, gen_relative_position_index
from timm.models.vision_transformer import VisionTransformer
from torch import nn

from sslvit_lite.checkpoint import CheckpointError, load_state_dict_strict
from sslvit_lite.data import IMAGENET_MEAN, IMAGENET_STD
from sslvit_lite.download import download
from sslvit_lite.registry import CHECKPOINTS, CheckpointInfo, checkpoint_info
from sslvit_lite.safe_unpickle import read_checkpoint


# ----------------------------------------------------------------------------------------------
# Architectures
# ----------------------------------------------------------------------------------------------

ARCH_OVERRIDES = ("img_size", "patch_size", "embed_dim", "depth", "num_heads")

_VIT_B = dict(img_size=224, patch_size=16, embed_dim=768, depth=12, num_heads=12)
_VIT_S_MOCO = dict(img_size=224, patch_size=16, embed_dim=384, depth=12, num_heads=12)


def build_model(name: str, **overrides: int) -> nn.Module:
    """The timm model for checkpoint ``name``, randomly initialised (nothing is downloaded).

    ``overrides`` (any of :data:`ARCH_OVERRIDES`) change the size within the same family, for
    small stand-ins in tests, e.g. ``build_model("simmim_vit_base", img_size=32, patch_size=8,
    embed_dim=32, depth=2, num_heads=4)``. The model maps (B, 3, H, W) images to the final-norm
    CLS feature (B, C) (``num_classes=0``); ``model.pretrained_cfg`` carries the ImageNet
    normalisation. Fixed sin-cos position embeddings are frozen.
    """
    info = checkpoint_info(name)
    bad = sorted(set(overrides) - set(ARCH_OVERRIDES))
    if bad:
        raise ValueError(f"cannot override {bad} of {name}; valid overrides: {', '.join(ARCH_OVERRIDES)}")
    if info.format == "mocov3":
        size = {**(_VIT_S_MOCO if name == "mocov3_vit_small" else _VIT_B), **overrides}
        model = VisionTransformer(**size, mlp_ratio=4.0, qkv_bias=True, num_classes=0, global_pool="token")
        model.pretrained_cfg = _pretrained_cfg(info, size["img_size"])
    elif info.format == "simmim":
        size = {**_VIT_B, **overrides}
        model = Beit(
            **size, mlp_ratio=4.0, qkv_bias=True, num_classes=0, global_pool="token",  # final LN, CLS
            use_abs_pos_emb=False, use_rel_pos_bias=False, use_shared_rel_pos_bias=True, init_values=0.1,
        )
        model.pretrained_cfg = _pretrained_cfg(info, size["img_size"])
    else:
        model = timm.create_model(info.timm_tag, pretrained=False, num_classes=0, **overrides)
    if info.fixed_pos_embed:
        model.pos_embed.requires_grad_(False)
    return model


def _pretrained_cfg(info: CheckpointInfo, img_size: int) -> dict:
    """timm data config of the official analysis notebooks: resize 256, crop 224, ImageNet stats."""
    return dict(
        url=info.url, num_classes=0, input_size=(3, img_size, img_size), crop_pct=0.875,
        interpolation="bilinear", mean=IMAGENET_MEAN, std=IMAGENET_STD,
        first_conv="patch_embed.proj", classifier="head",
    )


# ----------------------------------------------------------------------------------------------
# Key layouts
# ----------------------------------------------------------------------------------------------

def convert_state_dict(name: str, raw: Any) -> dict[str, torch.Tensor]:
    """Map the object stored in the official file of ``name`` onto timm's key names.

    ``raw`` is what :func:`read_checkpoint` returns (the whole file, not just its weights).
    Keys that belong to other networks (projector, momentum encoder, predictor, decoders, mask
    tokens) are dropped; any key the conversion does not recognise is kept as-is, so that
    :func:`load_state_dict_strict` reports it by name.
    """
    info = checkpoint_info(name)
    if info.format == "mocov3":
        return _convert_mocov3(_entry(raw, "state_dict", name))
    if info.format == "simmim":
        return _convert_simmim(_entry(raw, "model", name))
    if info.format == "mae":
        return _convert_mae(_entry(raw, "model", name))
    return _convert_dino(raw, name)


def _entry(raw: Any, key: str, name: str) -> Mapping[str, torch.Tensor]:
    if not isinstance(raw, Mapping) or key not in raw:
        found = sorted(map(str, raw))[:12] if isinstance(raw, Mapping) else type(raw).__name__
        raise CheckpointError(
            f"{name}: the official file stores its weights under {key!r}, but this file has {found}; "
            f"is it the right file for {name}? (expected {checkpoint_info(name).filename})")
    return raw[key]


def _strip(state: Mapping[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """Remove ``prefix`` from keys that carry it; other keys are kept unchanged."""
    return {(k[len(prefix):] if k.startswith(prefix) else k): v for k, v in state.items()}


def _convert_mocov3(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """MoCo v3 (``moco/builder.py``): keep ``module.base_encoder.*`` minus its projector ``head.*``."""
    drop = ("module.base_encoder.head.", "module.momentum_encoder.", "module.predictor.")
    return _strip({k: v for k, v in state.items() if not k.startswith(drop)}, "module.base_encoder.")


def _convert_simmim(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """SimMIM (``models/simmim.py``): keep ``encoder.*`` minus ``mask_token``; check the RPB index."""
    out = _strip({k: v for k, v in state.items() if not k.startswith("decoder.") and k != "encoder.mask_token"},
                 "encoder.")
    index = out.pop("rel_pos_bias.relative_position_index", None)
    if index is not None:
        _check_relative_position_index(index)
    return out


def _check_relative_position_index(index: torch.Tensor) -> None:
    """The file's (N+1, N+1) index must equal timm's, else the bias table would be read wrongly."""
    tokens = index.shape[0] - 1 if index.ndim == 2 else -1
    side = math.isqrt(max(tokens, 0))
    if tokens < 1 or index.shape[0] != index.shape[1] or side * side != tokens:
        raise CheckpointError(f"rel_pos_bias.relative_position_index has shape {tuple(index.shape)}; "
                              "expected (g·g+1, g·g+1) for a g×g patch grid")
    expected = gen_relative_position_index((side, side))  # (N+1, N+1)
    if not torch.equal(index.to(expected.dtype), expected):
        raise CheckpointError("rel_pos_bias.relative_position_index of the file differs from timm's "
                              f"BEiT index for a {side}×{side} grid: the bias table would be misread")


def _convert_mae(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """MAE (``models_mae.py``): timm names already; drop ``mask_token`` and the ``decoder_*`` network."""
    return {k: v for k, v in state.items() if k != "mask_token" and not k.startswith("decoder_")}


def _convert_dino(raw: Any, name: str) -> dict[str, torch.Tensor]:
    """DINO backbone file: already a flat state dict with timm names."""
    if not isinstance(raw, Mapping):
        raise CheckpointError(f"{name}: expected a flat state dict, got {type(raw).__name__}")
    not_tensors = [k for k, v in raw.items() if not isinstance(v, torch.Tensor)]
    if not_tensors:
        raise CheckpointError(
            f"{name}: expected a flat state dict of tensors (the DINO backbone file), but entries "
            f"{sorted(map(str, not_tensors))[:12]} are not tensors; is it the right file for {name}?")
    return dict(raw)


# ----------------------------------------------------------------------------------------------
# Loading
# ----------------------------------------------------------------------------------------------

def load_official(name: str, path: str | os.PathLike, **overrides: int) -> nn.Module:
    """The timm model of ``name`` with the weights of the official file at ``path``, in eval mode.

    ``overrides`` are passed to :func:`build_model` (small stand-ins in tests). Raises
    FileNotFoundError for a missing file, CheckpointError for an unreadable one or one that does
    not fit (missing, unexpected or mis-shaped keys, by name).
    """
    raw = read_checkpoint(path)
    state = convert_state_dict(name, raw)
    model = build_model(name, **overrides)
    load_state_dict_strict(model, state, source=f"{path} ({name})")
    return model.eval()


def load_pretrained(
    name: str,
    cache_dir: str | os.PathLike | None = None,
    progress: bool = True,
    source: str = "official",
    **overrides: int,
) -> nn.Module:
    """The pretrained model ``name``, downloading its official file into the cache if needed.

    ``source="timm"`` (MAE and DINO only) uses timm's own pretrained weights for the same tag
    instead (from the Hugging Face hub; ``cache_dir`` is handed to timm). ``overrides`` (official
    files only) size the model as :func:`build_model` does, for small stand-in files.
    """

    info = checkpoint_info(name)
    if source == "official":
        return load_official(name, download(name, cache_dir=cache_dir, progress=progress), **overrides)
    if overrides:
        raise ValueError(f"overrides {sorted(overrides)} apply to official files only, not source={source!r}")
    if source != "timm":
        raise ValueError(f"unknown source {source!r}; valid: official, timm")
    if info.timm_tag is None:
        with_tag = [n for n, i in CHECKPOINTS.items() if i.timm_tag]
        raise ValueError(f"{name} has no timm pretrained tag; source='timm' works for: {', '.join(with_tag)}")
    where = {"cache_dir": cache_dir} if cache_dir is not None else {}
    model = timm.create_model(info.timm_tag, pretrained=True, num_classes=0, **where)
    if info.fixed_pos_embed:
        model.pos_embed.requires_grad_(False)
    return model.eval()
