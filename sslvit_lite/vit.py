"""Build timm ViTs for small images and look inside them.

The paper's analyses (Park et al., ICLR 2023) need, for every block, the
post-softmax attention probabilities and the token states. The official code re-implements
the ViT to return them; we keep timm's model untouched and record them with hooks instead:

- attention: timm computes attention with fused SDPA, which never materialises the
  probabilities. While capturing we switch each attention module to its explicit path
  (``fused_attn = False``) and read the input of its ``attn_drop`` (softmax output, before
  dropout). Afterwards the fused path is restored.
- tokens: the official ``zs`` layout ``[embedding, block1 mid, block1 out, block2 mid, ...]``.
  The embedding is the input of block 1; the mid-block state x + Attn(LN1(x)) is the input of
  each block's ``norm2``; the block output is the block's output.
"""

from __future__ import annotations

import math
from contextlib import contextmanager
from typing import Iterator

import timm
import torch
import torch.nn.functional as F
from torch import nn

from sslvit_lite.data import normalize

ARCHS: dict[str, str] = {
    "vit_tiny": "vit_tiny_patch16_224",  # 192-d, 12 blocks, 3 heads
    "vit_small": "vit_small_patch16_224",  # 384-d, 12 blocks, 6 heads
    "vit_base": "vit_base_patch16_224",  # 768-d, 12 blocks, 12 heads
}


POS_EMBEDS = ("learn", "sincos")
# How the encoder's weights start: timm's default (truncated normal, std 0.02: SimMIM's code uses it),
# or the official initialisation of MoCo v3 (moco-v3 ``vits.py``) or of MAE (mae ``models_mae.py``).
INITS = ("timm", "mocov3", "mae")


def build_vit(
    arch: str = "vit_tiny",
    img_size: int = 32,
    patch_size: int = 4,
    num_classes: int = 0,
    pos_embed: str = "learn",
    init: str = "timm",
    **timm_kwargs,
) -> nn.Module:
    """A randomly initialised timm ViT for ``img_size`` px images cut into ``patch_size`` px patches.

    ``arch`` is one of :data:`ARCHS`; extra keyword arguments go to ``timm.create_model``
    (e.g. ``depth=2, embed_dim=32, num_heads=2`` for a tiny test model). Nothing is downloaded.
    ``pos_embed="sincos"`` replaces timm's learned position embedding by the fixed 2-D sin-cos one
    of MoCo v3 and MAE (CLS position zero, not trained). ``init`` is one of :data:`INITS`
    (see :func:`official_init_`).
    """
    if arch not in ARCHS:
        raise ValueError(f"unknown arch {arch!r}; valid: {', '.join(ARCHS)}")
    if img_size <= 0 or patch_size <= 0 or img_size % patch_size:
        raise ValueError(f"img_size ({img_size}) must be a positive multiple of patch_size ({patch_size})")
    if pos_embed not in POS_EMBEDS:
        raise ValueError(f"unknown pos_embed {pos_embed!r}; valid: {', '.join(POS_EMBEDS)}")
    if init not in INITS:
        raise ValueError(f"unknown init {init!r}; valid: {', '.join(INITS)}")
    vit = timm.create_model(
        ARCHS[arch],
        pretrained=False,
        img_size=img_size,
        patch_size=patch_size,
        num_classes=num_classes,
        **timm_kwargs,
    )
    official_init_(vit, init)
    if pos_embed == "sincos":
        fixed = sincos_pos_embed_2d(vit.embed_dim, patch_grid(vit), vit.num_prefix_tokens)  # (1, P + N, C)
        vit.pos_embed.data.copy_(fixed)
        vit.pos_embed.requires_grad_(False)
    return vit


def official_init_(vit: nn.Module, init: str) -> nn.Module:
    """Re-initialise a timm ViT in place as the official code of ``init`` does; "timm" leaves it as built.

    - "mocov3" (moco-v3 ``vits.py``): every linear xavier-uniform with zero bias, where the fused qkv
      matrix counts as three (C → C) matrices (bound √(6 / (C + C))); the patch projection uniform in
      ±√(6 / (3·p² + C)), as if it were a linear layer; [CLS] ~ N(0, 1e-6). timm's ``"moco"`` weight
      init does the linears; the patch projection is ours.
    - "mae" (mae ``models_mae.py``): every linear xavier-uniform (the fused qkv as one matrix) with zero
      bias, LayerNorms (1, 0), the patch projection xavier-uniform over its flattened (C, 3·p²) view,
      [CLS] ~ N(0, 0.02).

    At width 96 both give weights 3–5× larger than timm's N(0, 0.02), so attention does not start as
    close to uniform.
    """
    if init == "timm":
        return vit
    proj = vit.patch_embed.proj  # Conv2d(3, C, p, p)
    with torch.no_grad():
        if init == "mocov3":
            vit.init_weights("moco")  # timm: the linears of moco-v3 and [CLS] ~ N(0, 1e-6)
            bound = math.sqrt(6.0 / (proj.weight[0].numel() + proj.weight.shape[0]))
            nn.init.uniform_(proj.weight, -bound, bound)
            nn.init.zeros_(proj.bias)
        elif init == "mae":
            for module in vit.modules():
                mae_module_init_(module)
            nn.init.xavier_uniform_(proj.weight.view(proj.weight.shape[0], -1))  # as a (C, 3·p²) linear
            nn.init.zeros_(proj.bias)
            nn.init.normal_(vit.cls_token, std=0.02)
        else:
            raise ValueError(f"unknown init {init!r}; valid: {', '.join(INITS)}")
    return vit


def mae_module_init_(module: nn.Module) -> None:
    """MAE's ``_init_weights`` for one module: a linear xavier-uniform with zero bias, a LayerNorm (1, 0)."""
    if isinstance(module, nn.Linear):
        nn.init.xavier_uniform_(module.weight)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)


def sincos_pos_embed_2d(dim: int, grid: tuple[int, int], num_prefix_tokens: int = 0) -> torch.Tensor:
    """Fixed 2-D sin-cos position embedding as in MAE: (1, P + rows·cols, dim), prefix positions zero.

    The first half of the channels encodes the column, the second half the row; each half is
    [sin(pos·ω), cos(pos·ω)] with ω_i = 10000^(−i/(dim/4)), i = 0 … dim/4 − 1.
    """
    if dim % 4:
        raise ValueError(f"sin-cos position embedding needs dim divisible by 4, got {dim}")
    rows, cols = grid
    omega = 1.0 / 10000 ** (torch.arange(dim // 4, dtype=torch.float64) / (dim / 4))  # (dim/4,)
    row, col = torch.meshgrid(torch.arange(rows, dtype=torch.float64), torch.arange(cols, dtype=torch.float64), indexing="ij")

    def encode(pos: torch.Tensor) -> torch.Tensor:
        angles = pos.reshape(-1, 1) * omega  # (N, dim/4)
        return torch.cat([angles.sin(), angles.cos()], dim=1)  # (N, dim/2)

    grid_embed = torch.cat([encode(col), encode(row)], dim=1)  # (N, dim)
    prefix = torch.zeros(num_prefix_tokens, dim, dtype=torch.float64)  # (P, dim)
    return torch.cat([prefix, grid_embed]).float().unsqueeze(0)  # (1, P + N, dim)


def patch_grid(model: nn.Module) -> tuple[int, int]:
    """(rows, cols) of the patch-token grid of a timm ViT."""
    grid = model.patch_embed.grid_size
    return int(grid[0]), int(grid[1])


class Capture:
    """What the latest forward pass inside :func:`capture` recorded (readable inside and after the block).

    attentions: one (B, H, N, N) tensor per block, post-softmax, prefix (CLS) tokens included.
    tokens: the ``zs`` layout, 2·depth + 1 tensors of shape (B, N, C).
    """

    def __init__(self, depth: int):
        self._attentions: list[torch.Tensor | None] = [None] * depth
        self._tokens: list[torch.Tensor | None] = [None] * (2 * depth + 1)

    @property
    def attentions(self) -> list[torch.Tensor]:
        return _recorded(self._attentions, "attention")

    @property
    def tokens(self) -> list[torch.Tensor]:
        return _recorded(self._tokens, "token state")

    @property
    def block_outputs(self) -> list[torch.Tensor]:
        """Depth 0..L: the embedding, then the output of each block (the Fourier convention)."""
        return self.tokens[0::2]

    @property
    def mid_block(self) -> list[torch.Tensor]:
        """Depth 1..L: the residual stream right after each block's attention."""
        return self.tokens[1::2]


def _recorded(slots: list[torch.Tensor | None], what: str) -> list[torch.Tensor]:
    if all(s is None for s in slots):
        raise RuntimeError(f"no {what} recorded yet: run a forward pass inside `with capture(model)`")
    missing = [i for i, s in enumerate(slots) if s is None]
    if missing:
        raise RuntimeError(f"{what} missing at positions {missing}: did the forward pass skip blocks?")
    return list(slots)


@contextmanager
def capture(model: nn.Module, detach: bool = True) -> Iterator[Capture]:
    """Record attention probabilities and per-block tokens of the forward passes run inside.

    Only the latest forward pass is kept. Hooks are removed and fused attention restored
    on exit, even if the body raises.

    >>> with capture(vit) as cap:
    ...     vit(images)
    >>> cap.attentions[0].shape  # (B, H, N, N)
    """
    blocks = list(model.blocks)
    if not blocks:
        raise ValueError("model has no blocks to capture")
    result = Capture(len(blocks))
    handles = []
    fused_before = {}

    def keep(t: torch.Tensor) -> torch.Tensor:
        return t.detach() if detach else t

    def on_attention(i: int):
        def hook(_module, args):
            result._attentions[i] = keep(args[0])  # (B, H, N, N)

        return hook

    def on_mid(i: int):
        def hook(_module, args):
            result._tokens[2 * i + 1] = keep(args[0])  # (B, N, C)

        return hook

    def on_out(i: int):
        def hook(_module, _args, output):
            result._tokens[2 * i + 2] = keep(output)  # (B, N, C)

        return hook

    def on_embedding(_module, args):
        result._tokens[0] = keep(args[0])  # (B, N, C)

    try:
        handles.append(blocks[0].register_forward_pre_hook(on_embedding))
        for i, block in enumerate(blocks):
            attn = block.attn
            if not hasattr(attn, "attn_drop"):
                raise TypeError(f"block {i}: attention module {type(attn).__name__} has no attn_drop to hook")
            if hasattr(attn, "fused_attn"):
                fused_before[attn] = attn.fused_attn
                attn.fused_attn = False
            handles.append(attn.attn_drop.register_forward_pre_hook(on_attention(i)))
            handles.append(block.norm2.register_forward_pre_hook(on_mid(i)))
            handles.append(block.register_forward_hook(on_out(i)))
        yield result
    finally:
        for handle in handles:
            handle.remove()
        for attn, fused in fused_before.items():
            attn.fused_attn = fused


def count_hooks(model: nn.Module) -> int:
    """Number of forward hooks and pre-hooks registered anywhere in ``model`` (for tests)."""
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())


def model_input(model: nn.Module, images_uint8: torch.Tensor, mean, std) -> torch.Tensor:
    """Normalised float images at the model's input size: uint8 (B, 3, H, W) → (B, 3, h, w).

    Resized (bilinear, antialiased) when the images' size differs from ``model.patch_embed.img_size``.
    """

    if images_uint8.dtype != torch.uint8 or images_uint8.dim() != 4 or images_uint8.shape[1] != 3:
        raise ValueError(f"images must be uint8 (B, 3, H, W), got {images_uint8.dtype} {tuple(images_uint8.shape)}")
    size = tuple(int(s) for s in model.patch_embed.img_size)
    x = normalize(images_uint8, mean, std)  # (B, 3, H, W)
    if tuple(x.shape[-2:]) != size:
        x = F.interpolate(x, size=size, mode="bilinear", antialias=True, align_corners=False)  # (B, 3, h, w)
    return x
