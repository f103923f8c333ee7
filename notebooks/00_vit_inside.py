# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # A ViT you can look inside
#
# Every analysis in *What Do Self-Supervised Vision Transformers Learn?* {cite}`park2023what`
# reads two things out of a Vision Transformer {cite}`dosovitskiy2021vit`: the **attention
# probabilities** of every head in every block, and the **token states** between blocks. This
# chapter builds the ViT we use throughout the book with timm {cite}`wightman2019timm`, runs real
# CIFAR-10 images {cite}`krizhevsky2009cifar` through it and records both, so that later chapters can
# ask how contrastive learning and masked image modeling shape them.
#
# The model here is **untrained**: we look at the machinery, not at what it learned. Training comes
# in the next chapters.

# %% tags=["hide-cell"]
# Colab only: install sslvit_lite from the repository. Colab's own torch is kept (pip sees it installed).
import sys

if "google.colab" in sys.modules:
    import subprocess

    subprocess.run([sys.executable, "-m", "pip", "install", "-q",
                    "sslvit-lite[notebooks] @ git+https://github.com/sslvit-lite/sslvit-lite"], check=True)

# %% tags=["parameters"]
data_source = "auto+sample"  # real CIFAR-10 ($SSLVIT_DATA or a download), else the embedded 2,000-image sample
preset = "auto"  # unused here (no training); kept so every chapter takes the same parameters
num_images = 8  # images pushed through the model
image_index = 3  # which of them to show
query_row, query_col = 3, 4  # query patch on the 8×8 grid
seed = 0

# %% tags=["hide-cell"]
import matplotlib.pyplot as plt
import torch

from sslvit_lite.data import CIFAR10_MEAN, CIFAR10_STD, load_dataset, normalize
from sslvit_lite.display import ProvenanceNote, use_book_style
from sslvit_lite.provenance import provenance, provenance_caption
from sslvit_lite.vit import build_vit, capture, count_hooks, patch_grid
use_book_style()  # figure fonts readable at the column width

torch.manual_seed(seed)
test_set = load_dataset("cifar10", "test", source=data_source)
batch = test_set.subset(num_images, seed=seed)
images = batch.images  # (B, 3, 32, 32) uint8
record = provenance(device="cpu", data=test_set.source, images=num_images)
note = ProvenanceNote()  # where the figures come from, shown folded at the end of the page
note.add(f"untrained ViT-Tiny/4 on the test images: {provenance_caption(record)}", "every figure")
print(test_set.source, tuple(images.shape))
assert images.dtype == torch.uint8 and images.shape[1:] == (3, 32, 32)

# %% [markdown]
# ## The model: ViT-Tiny with 4-pixel patches
#
# ImageNet ViTs cut a 224-px image into 16-px patches, a 14×14 grid. CIFAR images are 32 px, so we
# keep the *number* of tokens in a useful range by using 4-px patches: an 8×8 grid of 64 patch
# tokens, plus one [CLS] token in front. ViT-Tiny has 12 blocks of width 192 with 3 heads each.
# `build_vit` asks timm for exactly that; we never copy ViT code.

# %%
vit = build_vit("vit_tiny", img_size=32, patch_size=4).eval()
rows, cols = patch_grid(vit)
num_tokens = vit.num_prefix_tokens + rows * cols
print(f"{len(vit.blocks)} blocks, width {vit.embed_dim}, {vit.blocks[0].attn.num_heads} heads, "
      f"{rows}×{cols} patches + {vit.num_prefix_tokens} CLS = {num_tokens} tokens")
assert (rows, cols) == (8, 8) and num_tokens == 65

# %% [markdown]
# ## Recording attention and tokens
#
# timm computes attention with a fused kernel that never writes the probability matrix out. The
# `capture` context switches every block to its explicit softmax path and hooks it, and records the
# token states in the layout of the paper's code (`zs`): the embedding, then for each block the state
# after attention and the block's output. On exit the hooks go and the fused path comes back, so
# training is unaffected. Every later chapter records attention with it:
#
# ```{literalinclude} ../sslvit_lite/vit.py
# :pyobject: capture
# ```

# %%
x = normalize(images, CIFAR10_MEAN, CIFAR10_STD)  # (B, 3, 32, 32) float
with torch.no_grad():
    plain = vit(x)
    with capture(vit) as cap:
        recorded = vit(x)
attentions, tokens = cap.attentions, cap.tokens
print(f"{len(attentions)} attention tensors of shape {tuple(attentions[0].shape)}; "
      f"{len(tokens)} token states of shape {tuple(tokens[0].shape)}")
assert torch.allclose(plain, recorded, atol=1e-5), "capturing must not change the model's output"
assert count_hooks(vit) == 0, "all hooks are removed afterwards"
assert all(torch.allclose(a.sum(-1), torch.ones(())) for a in attentions), "each row is a distribution"

# %% [markdown]
# ## One query's attention at several depths
#
# Following the paper, we drop the [CLS] row and column, renormalise each row, and show the row of
# one query patch as an 8×8 map. For a randomly initialised ViT the maps are close to uniform: the
# query tokens are nearly indistinguishable before training. Keep this picture in mind as the
# baseline that contrastive and masked training move away from in different directions.

# %%
depths = [1, 4, 8, 12]
query = query_row * cols + query_col
maps = []
for depth in depths:
    patch_attn = attentions[depth - 1][image_index, :, 1:, 1:]  # (H, 64, 64), CLS dropped
    patch_attn = patch_attn / patch_attn.sum(-1, keepdim=True)
    maps.append(patch_attn[:, query].mean(0).reshape(rows, cols))  # (8, 8), mean over heads
uniform = 1.0 / (rows * cols)
fig, axes = plt.subplots(1, len(depths) + 1, figsize=(min(9.3, 2.5 * (len(depths) + 1)), 3.0))
axes[0].imshow(images[image_index].permute(1, 2, 0).numpy())
axes[0].add_patch(plt.Rectangle((query_col * 4 - 0.5, query_row * 4 - 0.5), 4, 4, fill=False, color="red", lw=2))
axes[0].set_title(test_set.classes[int(batch.labels[image_index])])
for ax, depth, query_map in zip(axes[1:], depths, maps):
    # one colour scale for every panel, from 0 to 4× uniform: near-uniform maps look flat, as they are
    shown = ax.imshow(query_map, cmap="plasma", vmin=0, vmax=4 * uniform)
    ax.set_title(f"block {depth}")
for ax in axes:
    ax.axis("off")
fig.colorbar(shown, ax=axes[1:], shrink=0.8, label=f"attention (uniform = 1/{rows * cols})")
fig.suptitle(f"Untrained ViT-Tiny/4, query patch ({query_row}, {query_col})")
plt.show()
print(f"largest attention in the maps: {max(float(m.max()) for m in maps) / uniform:.2f}× uniform")
assert all(torch.isclose(m.sum(), torch.ones(())) for m in maps)

# %% [markdown]
# ## Token grids per block
#
# Each token state is a 64×192 matrix per image. To see it as a picture we project the 192 channels
# of every block's output onto their first three principal components (computed per block over all
# images) and show them as RGB on the 8×8 grid. Depth 0 is the patch embedding plus the position
# embedding; depth *d* is the output of block *d* (the paper's Fourier convention). The components are
# computed anew at every depth, so a colour means nothing across panels: read each panel on its own,
# for which patches share a colour (similar tokens) and how smoothly colour varies over the grid.

# %%
block_outputs = cap.block_outputs  # 13 × (B, 65, 192)
shown = [0, 1, 2, 4, 6, 8, 10, 12]
fig, axes = plt.subplots(2, len(shown) // 2, figsize=(min(9.3, 2.2 * len(shown) // 2), 5.0))  # two rows of panels
for ax, depth in zip(axes.flat, shown):
    patches = block_outputs[depth][:, vit.num_prefix_tokens:]  # (B, 64, 192)
    flat = patches.reshape(-1, patches.shape[-1])
    flat = flat - flat.mean(0)
    _, _, v = torch.linalg.svd(flat, full_matrices=False)
    rgb = (patches[image_index] - patches.reshape(-1, patches.shape[-1]).mean(0)) @ v[:3].T  # (64, 3)
    rgb = (rgb - rgb.min(0).values) / (rgb.max(0).values - rgb.min(0).values + 1e-8)
    ax.imshow(rgb.reshape(rows, cols, 3).numpy())
    ax.set_title(f"depth {depth}")
    ax.axis("off")
fig.suptitle("First 3 principal components of the patch tokens")
plt.tight_layout()
plt.show()
assert len(block_outputs) == len(vit.blocks) + 1

# %% [markdown]
# ## What to take away
#
# * `build_vit` gives a timm ViT for small images; `capture` returns `(B, H, N, N)` attention
#   probabilities and the `zs` token states without changing the model's output.
# * An untrained ViT attends almost uniformly. The chapters that follow train it with MoCo v3
#   {cite}`chen2021mocov3`, SimMIM {cite}`xie2022simmim` and MAE {cite}`he2022mae`, and measure how
#   each objective reshapes these two objects.


# %% [markdown]
# ## Exercises
#
# 1. **Uniform attention on our grid.** An untrained ViT attends almost uniformly. Before running
#    anything, estimate the mean attention distance of perfectly uniform attention on our 8×8 grid of
#    4-px patches, and compare it with ViT-B/16's 116.5 px on a 14×14 grid of 16-px patches.
#
#    :::{admonition} Answer
#    :class: dropdown
#    The distance scales with the patch size and the grid. On an 8×8 grid of 4-px patches the mean
#    distance between two patch centres is about **16.5 px**, seven times less than ViT-B/16's 116.5 px.
#    That is why the book divides every distance by the uniform value of its own grid before laying
#    our curves next to the paper's (chapter 3).
#    :::
#
# 2. **A corner query.** Set `query_row, query_col = 0, 0`. Will the untrained map look different, and
#    will the query's mean attention distance change?
#
#    :::{admonition} Answer
#    :class: dropdown
#    The map stays almost flat: at initialisation the attention logits are small, so every query
#    spreads its attention nearly evenly. The *distance* grows all the same: under uniform attention a
#    corner patch is on average about 21.9 px from the others on our grid, against 16.5 px averaged over
#    all queries. A distance alone does not say whether a model learned anything; the later chapters
#    always compare it with a random initialisation of the same ViT.
#    :::
#
# 3. **Does looking change the model?** Run the model on a batch with and without `capture` and compare
#    the outputs.
#
#    :::{admonition} Answer
#    :class: dropdown
#    They are equal: `capture` switches timm's attention to the explicit path only while it records,
#    and removes its hooks afterwards (`count_hooks` is 0 again), so every later chapter measures the
#    same function it trained.
#    :::

# %% tags=["remove-input"]
note.html()  # where this chapter's figures and numbers come from, folded
