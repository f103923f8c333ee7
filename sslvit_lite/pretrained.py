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

Files are read with ``torch.load(..., weights_only=True)``. The SimMIM file also pickles a yacs
config object, which ``weights_only`` refuses; for such files a restricted unpickler rebuilds
the tensors and replaces every other pickled class or function by an inert
:class:`UnloadedObject`, so no code from the file runs (see :func:`read_checkpoint`).

Downloads go to ``$SSLVIT_CACHE/checkpoints`` (default ``~/.cache/sslvit_lite/checkpoints``),
resume from a ``.part`` file with HTTP Range requests, are checked against the digest upstream
publishes (a SHA-256 where there is one, none of these five has; the MD5 prefix of MAE's README),
and are renamed
into place atomically. SimMIM lives on Google Drive, whose virus-scan page for large files is
answered with urllib (no gdown).

Usage (the first line needs the internet once, ~863 MB)::

    model = load_pretrained("mocov3_vit_base")
    model = load_official("simmim_vit_base", "simmim_pretrain__vit_base__img224__800ep.pth")
    with capture(model) as cap:   # sslvit_lite.vit.capture
        model(images)             # (B, 3, 224, 224), ImageNet-normalised
    cap.attentions                # 12 × (B, 12, 197, 197)
"""

from __future__ import annotations

import _compat_pickle
import hashlib
import html
import http.client
import math
import os
import pickle
import re
import types
import urllib.error
import urllib.parse
import urllib.request
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import timm
import torch
from timm.models.beit import Beit, gen_relative_position_index
from timm.models.vision_transformer import VisionTransformer
from torch import nn
from tqdm.auto import tqdm

from sslvit_lite.checkpoint import CheckpointError
from sslvit_lite.data import IMAGENET_MEAN, IMAGENET_STD


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


class DownloadError(OSError):
    """A checkpoint that could not be downloaded (offline, HTTP error, interrupted, wrong digest)."""


def checkpoint_info(name: str) -> CheckpointInfo:
    """The :class:`CheckpointInfo` of ``name``; a ValueError names the valid ones."""
    if name not in CHECKPOINTS:
        raise ValueError(f"unknown checkpoint {name!r}; valid: {', '.join(CHECKPOINTS)}")
    return CHECKPOINTS[name]


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

def load_state_dict_strict(model: nn.Module, state: Mapping[str, torch.Tensor], source: str = "") -> None:
    """Load ``state`` into ``model`` or raise a CheckpointError naming the missing, unexpected
    and wrongly shaped keys (the first 12 of each, missing and mis-shaped ones in model order).

    A relative position index the model computes itself is taken from the model when the file has
    none: timm saves BEiT's ``relative_position_index`` as a persistent buffer up to 1.0.22 and as a
    non-persistent one since, and the official SimMIM file's index is checked against timm's on
    conversion (:func:`_check_relative_position_index`), so either layout loads.
    """
    not_tensors = sorted(k for k, v in state.items() if not isinstance(v, torch.Tensor))
    if not_tensors:
        raise CheckpointError(f"checkpoint {source} holds non-tensor entries where weights belong: "
                              f"{', '.join(not_tensors[:12])}")
    expected = model.state_dict()
    computed = {k: v for k, v in expected.items() if k.endswith("relative_position_index") and k not in state}
    state = {**state, **computed}
    missing = [k for k in expected if k not in state]
    unexpected = sorted(set(state) - set(expected))
    mismatched = [f"{k}: file {tuple(state[k].shape)} vs model {tuple(v.shape)}"
                  for k, v in expected.items() if k in state and tuple(state[k].shape) != tuple(v.shape)]
    problems = [(label, keys) for label, keys in
                (("missing", missing), ("unexpected", unexpected), ("wrong shape", mismatched)) if keys]
    if problems:
        lines = [f"  {label} ({len(keys)}): {', '.join(keys[:12])}{' ...' if len(keys) > 12 else ''}"
                 for label, keys in problems]
        raise CheckpointError(f"checkpoint {source} does not fit {type(model).__name__}:\n"
                              + "\n".join(lines))
    model.load_state_dict(state, strict=True)


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
) -> nn.Module:
    """The pretrained model ``name``, downloading its official file into the cache if needed.

    ``source="timm"`` (MAE and DINO only) uses timm's own pretrained weights for the same tag
    instead (from the Hugging Face hub; ``cache_dir`` is handed to timm).
    """
    info = checkpoint_info(name)
    if source == "official":
        return load_official(name, download(name, cache_dir=cache_dir, progress=progress))
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


# ----------------------------------------------------------------------------------------------
# Reading files without running code from them
# ----------------------------------------------------------------------------------------------

class UnloadedObject(dict):
    """Inert stand-in for a class or function that a checkpoint names but that is never imported.

    ``pickled_name`` is the name in the file ("yacs.config.CfgNode"); the pickled arguments,
    state and items are kept as plain data (dict items in the dict itself) for inspection.
    """

    pickled_name = ""
    args: tuple = ()
    state: Any = None
    listitems: tuple = ()

    def __init__(self, *args: Any):  # called instead of the named class or function
        super().__init__()
        self.args = args

    def __setstate__(self, state: Any) -> None:
        self.state = state

    def append(self, item: Any) -> None:
        self.listitems = self.listitems + (item,)

    def extend(self, items: Any) -> None:
        self.listitems = self.listitems + tuple(items)

    def __repr__(self) -> str:
        return f"<unloaded {self.pickled_name} {dict(self)!r}>"


_TENSOR_GLOBALS = {
    f"{fn.__module__}.{fn.__name__}": fn
    for fn in (torch._utils._rebuild_tensor, torch._utils._rebuild_tensor_v2, torch._utils._rebuild_tensor_v3,
               torch._utils._rebuild_parameter, torch._utils._rebuild_parameter_with_state)
} | {
    "collections.OrderedDict": OrderedDict, "torch.Size": torch.Size,
    "builtins.set": set, "builtins.frozenset": frozenset,
}


class _RestrictedUnpickler(pickle.Unpickler):
    """Resolves only tensor-rebuild functions and a few containers; everything else is inert."""

    def find_class(self, module: str, name: str) -> Any:
        # Protocol-2 pickles use Python 2 names (__builtin__.set): map them as pickle itself does.
        module, name = _compat_pickle.NAME_MAPPING.get(
            (module, name), (_compat_pickle.IMPORT_MAPPING.get(module, module), name))
        qualified = f"{module}.{name}"
        if qualified in _TENSOR_GLOBALS:
            return _TENSOR_GLOBALS[qualified]
        if module == "torch" and isinstance(getattr(torch, name, None), torch.dtype):
            return getattr(torch, name)
        return type(name, (UnloadedObject,), {"pickled_name": qualified})


def _restricted_load(file: Any, **kwargs: Any) -> Any:
    return _RestrictedUnpickler(file, **kwargs).load()


# A module-like namespace for torch.load(pickle_module=...): torch subclasses its Unpickler.
_RESTRICTED_PICKLE = types.ModuleType("sslvit_lite_restricted_pickle")
_RESTRICTED_PICKLE.Unpickler = _RestrictedUnpickler
_RESTRICTED_PICKLE.load = _restricted_load
_RESTRICTED_PICKLE.UnpicklingError = pickle.UnpicklingError


def read_checkpoint(path: str | os.PathLike) -> Any:
    """Everything stored in the checkpoint at ``path``, tensors on the CPU, without running its code.

    First ``torch.load(weights_only=True)``. When that refuses the file because it pickles
    other objects (SimMIM's yacs config), the file is read again with a restricted unpickler:
    tensors are rebuilt by torch's own functions and every other class or function named in
    the file becomes an inert :class:`UnloadedObject`. A truncated or foreign file raises a
    CheckpointError that says so.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint file at {path}")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as refused:
        first_error: Exception = refused
    except Exception as err:  # truncated zip, random bytes: torch raises RuntimeError & co.
        raise _unreadable(path, err) from err
    try:
        return torch.load(path, map_location="cpu", weights_only=False, pickle_module=_RESTRICTED_PICKLE)
    except Exception as err:
        raise _unreadable(path, err, first_error) from err


def _unreadable(path: Path, err: Exception, first: Exception | None = None) -> CheckpointError:
    detail = f"{type(err).__name__}: {str(err).strip()[:300]}"
    if first is not None:
        detail = f"{type(first).__name__}: {str(first).strip()[:200]}; then {detail}"
    return CheckpointError(
        f"cannot read {path} ({path.stat().st_size:,} bytes) as a PyTorch checkpoint: the file is "
        f"truncated, corrupt or not a torch.save file. Delete it and download it again. ({detail})")


# ----------------------------------------------------------------------------------------------
# Downloads
# ----------------------------------------------------------------------------------------------

_USER_AGENT = "Mozilla/5.0 (compatible; sslvit-lite checkpoint downloader; +python-urllib)"
_CHUNK = 1 << 20
_TIMEOUT_S = 60
_OPENER = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())  # Drive sets a cookie


def _urlopen(request: urllib.request.Request, timeout: float = _TIMEOUT_S):
    """The one place that touches the network (tests replace it)."""
    return _OPENER.open(request, timeout=timeout)


def default_cache_dir() -> Path:
    """``$SSLVIT_CACHE/checkpoints``, by default ``~/.cache/sslvit_lite/checkpoints``."""
    root = Path(os.environ.get("SSLVIT_CACHE") or Path.home() / ".cache" / "sslvit_lite")
    return root / "checkpoints"


def download(name: str, cache_dir: str | os.PathLike | None = None, progress: bool = True) -> Path:
    """Path of the official file of ``name`` in the cache, downloading it first if it is absent.

    The download is written to ``<file>.part`` and resumed from there with an HTTP Range request
    if a previous attempt was interrupted; it is checked (SHA-256 where published, and that it
    looks like a torch file rather than an HTML page) before an atomic rename. Raises a
    DownloadError that names the URL and says where to place the file by hand.
    """
    info = checkpoint_info(name)
    target = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    target = target / info.filename
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_name(target.name + ".part")
    url = info.url
    try:
        if info.google_drive_id:
            url = f"https://drive.google.com/uc?export=download&id={info.google_drive_id}"
            url = _resolve_google_drive(url)
        _fetch(url, part, progress=progress, label=name)
    except DownloadError as err:
        raise DownloadError(f"{name}: {err} " + _by_hand(info, target)) from err
    except urllib.error.HTTPError as err:
        raise DownloadError(f"{name}: {url} answered HTTP {err.code} {err.reason}. "
                            + _by_hand(info, target)) from err
    except (urllib.error.URLError, ConnectionError, TimeoutError, http.client.HTTPException) as err:
        kept = (f" The {part.stat().st_size:,} bytes received so far are kept in {part}; run again to resume."
                if part.is_file() else "")
        raise DownloadError(f"{name}: could not download {url} ({type(err).__name__}: {err}). This machine seems "
                            f"to be offline or cannot reach the host.{kept} {_by_hand(info, target)}") from err
    _check_payload(part, url, info, target)
    os.replace(part, target)
    return target


def _by_hand(info: CheckpointInfo, target: Path) -> str:
    return (f"To install it by hand, download {info.url} on a machine with internet access and place it at "
            f"{target} (or set SSLVIT_CACHE, or pass cache_dir=), or load it directly with "
            f"load_official({info.name!r}, path).")


def _request(url: str, offset: int = 0) -> urllib.request.Request:
    headers = {"User-Agent": _USER_AGENT}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    return urllib.request.Request(url, headers=headers)


def _fetch(url: str, part: Path, progress: bool, label: str) -> None:
    """Append the rest of ``url`` to ``part`` (Range request when ``part`` holds a prefix)."""
    offset = part.stat().st_size if part.is_file() else 0
    try:
        response = _urlopen(_request(url, offset))
    except urllib.error.HTTPError as err:
        if err.code != 416 or not offset:
            raise
        if ((err.headers or {}).get("Content-Range") or "").endswith(f"/{offset}"):
            return  # the .part already holds the whole file
        part.unlink()
        offset, response = 0, _urlopen(_request(url))
    with response:
        start, total = _served_range(response)
        if start not in (0, offset):
            raise http.client.HTTPException(f"asked for bytes {offset}- of {url}, got bytes {start}-")
        with open(part, "ab" if start else "wb") as out, tqdm(
            total=total, initial=start, unit="B", unit_scale=True, desc=label, disable=not progress
        ) as bar:
            while chunk := response.read(_CHUNK):
                out.write(chunk)
                bar.update(len(chunk))
    size = part.stat().st_size
    if total is not None and size != total:
        raise ConnectionError(f"connection closed after {size:,} of {total:,} bytes")


def _served_range(response: Any) -> tuple[int, int | None]:
    """(first byte served, total file size or None): a 206 continues the .part, a 200 restarts it."""
    if getattr(response, "status", 200) != 206:
        length = response.headers.get("Content-Length")
        return 0, int(length) if length is not None else None
    content_range = (response.headers.get("Content-Range") or "").strip()
    match = re.fullmatch(r"bytes (\d+)-\d+/(\d+|\*)", content_range)
    if not match:
        raise http.client.HTTPException(f"partial response with unusable Content-Range {content_range!r}")
    return int(match.group(1)), int(match.group(2)) if match.group(2) != "*" else None


def _check_payload(part: Path, url: str, info: CheckpointInfo, target: Path) -> None:
    """Refuse an HTML page or a file with the wrong digest before it reaches the cache."""
    with open(part, "rb") as f:
        head = f.read(4)
    if not (head.startswith(b"PK\x03\x04") or head[:1] == b"\x80"):  # torch zip, or legacy pickle
        part.unlink()
        raise DownloadError(f"{info.name}: {url} sent something that is not a torch checkpoint "
                            f"(it starts with {head!r}; an HTML page?). " + _by_hand(info, target))
    if info.sha256:
        digest = _digest(part)
        if digest != info.sha256.lower():
            part.unlink()
            raise DownloadError(f"{info.name}: SHA-256 of the file from {url} is {digest}, expected "
                                f"{info.sha256}; the download was corrupted or the file changed upstream. "
                                "It was deleted; run again.")
    if info.md5_prefix:
        digest = _digest(part, hashlib.md5)
        if not digest.startswith(info.md5_prefix.lower()):
            part.unlink()
            raise DownloadError(f"{info.name}: MD5 of the file from {url} is {digest}, but upstream publishes "
                                f"{info.md5_prefix}…; the download was corrupted or the file changed upstream. "
                                "It was deleted; run again.")


def _digest(path: Path, algorithm=hashlib.sha256) -> str:
    digest = algorithm()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _resolve_google_drive(url: str) -> str:
    """The direct download URL behind a Google Drive ``uc?export=download&id=...`` link.

    Small files come straight back. For large files Drive first answers with an HTML page
    ("can't scan this file for viruses") holding a form (``download-form``, its action plus
    hidden inputs such as ``confirm``) or, on older pages, a ``/uc?...confirm=...`` link; the
    confirm URL is built from the page (see :func:`drive_confirm_url`).
    """
    with _urlopen(_request(url)) as response:
        if not response.headers.get("Content-Type", "").startswith("text/html"):
            return response.geturl()
        page = response.read().decode("utf-8", errors="replace")
    return drive_confirm_url(page, base=url)


def drive_confirm_url(page: str, base: str = "https://drive.google.com/uc") -> str:
    """The "download anyway" URL of a Google Drive warning page; a DownloadError if it has none."""
    form = re.search(r'<form([^>]*\bid="download-form"[^>]*)>(.*?)</form>', page, re.S)
    if form:
        action = _attributes(form.group(1)).get("action")
        inputs = [_attributes(tag) for tag in re.findall(r"<input([^>]*)>", form.group(2))]
        fields = [(a["name"], a.get("value", "")) for a in inputs if a.get("type") == "hidden" and "name" in a]
        if action:
            return f"{urllib.parse.urljoin(base, action)}?{urllib.parse.urlencode(fields)}"
    link = re.search(r'href="(/uc\?export=download[^"]*confirm=[^"]+)"', page)
    if link:
        return urllib.parse.urljoin(base, html.unescape(link.group(1)))
    error = re.search(r'class="uc-error-subcaption">(.*?)<', page, re.S)
    reason = html.unescape(error.group(1)).strip() if error else "the page has no download link"
    raise DownloadError(f"Google Drive did not serve the file: {reason}. (Drive limits downloads of "
                        "popular files per day; try later, or download it in a browser.)")


def _attributes(tag: str) -> dict[str, str]:
    """name="value" attributes of an HTML tag body, unescaped."""
    return {k: html.unescape(v) for k, v in re.findall(r'([\w-]+)="([^"]*)"', tag)}
