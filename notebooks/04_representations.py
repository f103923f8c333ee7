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
# # How are representations transformed?
#
# Chapter 3 looked at *where* the attention goes. This chapter looks at *what comes out*: the token
# representations between blocks. Park et al. {cite}`park2023what` make three observations on
# ViT-B/16 trained on ImageNet:
#
# * **CL uses low frequencies, MIM high frequencies.** Read each channel of the patch tokens as a
#   small image and take its Fourier transform: MoCo v3's {cite}`chen2021mocov3` token maps carry
#   much less high-frequency amplitude than SimMIM's {cite}`xie2022simmim`, at every depth. The
#   method is the authors' own from "How Do Vision Transformers Work?" {cite}`park2022how`.
# * **CL is image-level, MIM token-level.** In a t-SNE {cite}`vandermaaten2008tsne` of the tokens of
#   18 images, MoCo v3's tokens form one tight cluster per image; SimMIM's intermingle.
# * **CL moves the tokens in unison.** A CL attention layer shifts all tokens of an image together;
#   MIM moves each token its own way. The paper shows it with an SVD projection; its exact procedure
#   is not public, so we use our own (described below) and say so.
#
# :::{important}
# **Which models?** As in {doc}`chapter 3 <03_self_attention>`: the committed laptop runs of
# `results/laptop/` (6-block ViTs trained for 1,200 steps on CIFAR-10 on 2 CPU cores); with
# `prefer_saved=False`, runs trained now at `preset` (at `smoke`, near random: the curves then show
# only that the code runs). Captions say which. The paper's numbers are ViT-B/16 on ImageNet (14×14
# tokens); ours are small ViTs on CIFAR-10 {cite}`krizhevsky2009cifar` (8×8 tokens, or 4×4 at
# `smoke`), so only shapes and orderings compare.
# :::

# %% tags=["hide-cell"]
# Colab only: install sslvit_lite from the repository. Colab's own torch is kept (pip sees it installed).
import sys

if "google.colab" in sys.modules:
    import subprocess

    subprocess.run([sys.executable, "-m", "pip", "install", "-q",
                    "sslvit-lite[notebooks] @ git+https://github.com/sslvit-lite/sslvit-lite"], check=True)

# %% tags=["parameters"]
data_source = "auto+sample"  # real CIFAR-10 ($SSLVIT_DATA or a download), else the embedded 2,000-image sample
preset = "auto"  # training preset when no saved run is used; "auto": GPU preset with CUDA, else "smoke"
prefer_saved = True  # use the committed laptop runs (results/laptop/) when CL and MIM both have one
results_dir = None  # None: the committed laptop runs, results/laptop/; saved runs are <results_dir>/checkpoints/<objective>-cifar10.pt
include_mae = True  # add MAE's encoder to the Fourier analysis (when it exists at the same scale)
num_images = 32  # test images for the Fourier and SVD analyses (the official notebook: one batch of 16)
tsne_classes = [0, 1, 2]  # CIFAR-10 class indices of the t-SNE images (the paper: 18 images from 3 classes)
tsne_per_class = 6  # images per class in the t-SNE
tsne_depth = None  # depth of the t-SNE tokens (0 = embedding, d = output of block d); None: the last block
tsne_iterations = None  # t-SNE steps; None: 250 for smoke-trained models, else 500 (the official notebook: 1000)
svd_block = None  # block whose attention step the 3-D SVD view shows (1-based); None: the last block
svd_image = 0  # which of the num_images images the 3-D SVD view shows
seed = 0

# %% tags=["hide-cell"]
import math
import functools
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch

from sslvit_lite.analysis.fourier import fourier_by_depth
from sslvit_lite.analysis.reference import reference
from sslvit_lite.claims import late_blocks
from sslvit_lite.analysis.representation import (effective_rank, image_silhouette, svd_projection_3d, token_tsne,
                                                 unison_ratio)
from sslvit_lite.data import CIFAR10_MEAN, CIFAR10_STD, load_dataset
from sslvit_lite.display import Captions, cpu_threads_for_small_models, html_table, model_styles, use_book_style
from sslvit_lite.presets import get_preset
from sslvit_lite.provenance import provenance
from sslvit_lite.vit import capture, model_input, patch_grid
from sslvit_lite.results import verdict_table
from sslvit_lite.saved_runs import saved_checkpoint_path, trained_backbone
use_book_style()  # figure fonts readable at the column width

TITLES, COLORS = model_styles("mocov3", "simmim", "mae")
preset_name = get_preset(preset).name  # validates the preset; "auto" → smoke without CUDA
cpu_threads_for_small_models()  # tiny models on a CPU: one thread beats several
torch.manual_seed(seed)
print(f"preset {preset_name}, data {data_source!r}, {num_images} images")
assert num_images >= 2 and tsne_per_class >= 2 and len(tsne_classes) >= 1

# %% [markdown]
# ## The models
#
# Saved runs are used only when CL and MIM both have one (so that they compare at one scale); MAE
# joins when it has a run at that same scale.

# %%
saved = {o: saved_checkpoint_path(o, results_dir=results_dir).is_file() for o in TITLES}
use_saved = prefer_saved and saved["mocov3"] and saved["simmim"]
names = ["mocov3", "simmim"] + (["mae"] if include_mae and (saved["mae"] or not use_saved) else [])
models, infos = {}, {}
for objective in names:
    models[objective], infos[objective] = trained_backbone(
        objective, preset_name, data_source=data_source, prefer_saved=use_saved,
        results_dir=results_dir, runs_dir=Path("runs") / data_source)


captions = Captions(TITLES, infos)  # gathers where each model and analysis came from into captions.note
note, describe = captions.note, captions.describe  # the note is shown, folded, at the end of the page
for name in names:
    print(f"{TITLES[name]}: {infos[name]['origin'].split(' (')[0]}, {infos[name]['step']:,} steps")
vit = models["mocov3"]
grid, prefix = patch_grid(vit), vit.num_prefix_tokens
depth = len(vit.blocks)
assert all((patch_grid(m), len(m.blocks)) == (grid, depth) for m in models.values()), "compare like with like"

# %% [markdown]
# ## Token states
#
# `capture` records the paper's `zs` list: the embedding, then for each block the state right after
# the attention sub-layer (mid-block) and the block's output; `2L + 1` tensors of shape `(B, N, C)`.

# %%
test_set = load_dataset("cifar10", "test", source=data_source)
batch = test_set.subset(num_images, seed=seed)
analysis = provenance(device="cpu", data=batch.source, images=num_images)


@torch.no_grad()
def token_states(model, images_uint8):
    """The zs list of ``model`` on uint8 images: (2L + 1) × (B, N, C), float32 on the CPU."""
    with capture(model) as cap:
        model(model_input(model, images_uint8, CIFAR10_MEAN, CIFAR10_STD))
    return [z.float().cpu() for z in cap.tokens]


caption = functools.partial(captions.figure, analysis=analysis)  # caption(fig, *models, label=..., notes=...)


zs = {name: token_states(m, batch.images) for name, m in models.items()}
tokens = prefix + grid[0] * grid[1]
print(f"{len(zs['mocov3'])} states of shape {tuple(zs['mocov3'][0].shape)} per model")
assert all(len(z) == 2 * depth + 1 and z[0].shape[:2] == (num_images, tokens) for z in zs.values())

# %% [markdown]
# ## Fourier analysis of the token maps
#
# For each state, drop [CLS], fold the patch tokens back onto the grid (one `R × R` map per channel),
# take the 2-D FFT of every map, and average the **log amplitude** over images and channels. Along
# the diagonal of the centred spectrum this gives a profile over frequency; subtracting the value at
# frequency 0 (the map's mean) gives the **relative log amplitude Δ(k)**. A more negative Δ at high
# frequency means smoother token maps: the representation is low-pass.
#
# The paper plots Δ at the highest bin on the diagonal, (6, 6) of 14×14 (≈0.86π), for depths 0 (the
# embedding) to 12 (block outputs). On our `R × R` grid the highest bin is `k = R//2 − 1`,
# (2k/R)·π: 0.75π on 8×8 and 0.5π on 4×4. We also compute the mid-block states, which the official
# notebook computes but does not plot.
#
# The measure in the package (`sslvit_lite/analysis/fourier.py`):
#
# ```{literalinclude} ../sslvit_lite/analysis/fourier.py
# :pyobject: fourier_log_amplitude
# ```
# ```{literalinclude} ../sslvit_lite/analysis/fourier.py
# :pyobject: diagonal_profile
# ```

# %%
curves = {name: fourier_by_depth(z[0::2], prefix, grid) for name, z in zs.items()}  # (L + 1, K): depths 0..L
mid_curves = {name: fourier_by_depth(z[1::2], prefix, grid) for name, z in zs.items()}  # (L, K): mid-blocks 1..L
num_bins = curves["mocov3"].shape[1]
freq = 2 * np.arange(num_bins) / grid[0]  # diagonal frequency in units of π rad per token
print(f"{num_bins} bins on the half diagonal, up to {freq[-1]:.2f}π; Δ at that bin per depth (CL): "
      + ", ".join(f"{v:.2f}" for v in curves['mocov3'][:, -1].tolist()))
assert all(torch.allclose(c[:, 0], torch.zeros(())) for c in curves.values()), "Δ(0) = 0 by construction"

# %%
fig, axes = plt.subplots(1, len(names), figsize=(min(9.3, 3.6 * len(names)), 3.2), sharey=True, squeeze=False)
cmap = plt.get_cmap("plasma")
for ax, name in zip(axes[0], names):
    for d, curve in enumerate(curves[name].numpy()):
        ax.plot(freq, curve, color=cmap(d / max(1, depth)), marker=".", label=f"depth {d}" if d in (0, depth) else None)
    ax.set(title=f"ours: {TITLES[name]}", xlabel="diagonal frequency (×π rad/token)", xticks=freq)
    ax.legend()
axes[0, 0].set_ylabel("Δ log amplitude")
fig.tight_layout()
caption(fig, *names, label="Fourier profiles", notes=["colour = depth, from the embedding (dark) to the last block (light), as in the paper's figure"])
plt.show()
assert all(c.shape == (depth + 1, num_bins) for c in curves.values())

# %%
depths = np.arange(depth + 1)
refs = [reference(k) for k in ("fourier_delta/mocov3/fig", "fourier_delta/simmim/fig", "fourier_delta/mae_encoder/fig",
                               "fourier_delta/mocov3/nb")]
ref_colors = ["tab:blue", "tab:red", "tab:orange", "tab:cyan"]
fig, axes = plt.subplots(1, 2, figsize=(9.3, 5.0))
for name in names:
    axes[0].plot(depths, curves[name][:, -1].numpy(), marker="o", color=COLORS[name], label=f"{TITLES[name]}, block outputs")
    axes[0].plot(depths[1:] - 0.5, mid_curves[name][:, -1].numpy(), marker="o", mfc="none", ls=":", color=COLORS[name],
                 label=f"{TITLES[name]}, mid-block")
axes[0].set(title=f"ours: Δ at k = {num_bins - 1} ({freq[-1]:.2f}π)", xlabel="depth (0 = embedding; x.5 = after attention)",
            ylabel="Δ log amplitude", xticks=depths)
for r, color in zip(refs, ref_colors):
    axes[1].plot(r.x, r.y, marker="s", ls="--", color=color, label=f"{r.model} {r.tag}" + (" (Imagenette, 16 imgs)" if r.tag == "[NB]" else ""))
axes[1].set(title="paper: ViT-B/16 on ImageNet, Δ at (6, 6) ≈ 0.86π", xlabel="depth (0 = embedding)",
            ylabel="Δ log amplitude", xticks=range(13))
for ax in axes:  # legends under the panels, off the curves
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncols=1, frameon=False)
fig.tight_layout()
caption(fig, *names, label="Fourier", sources=[f"paper values {refs[0].tag}: {refs[0].source}; {refs[3].tag}: {refs[3].source}; "
                                                 "read by eye (±0.05) on other grids and images: compare shapes, not levels"])
plt.show()
assert all(torch.isfinite(c).all() for c in list(curves.values()) + list(mid_curves.values()))

# %% [markdown]
# In the paper, MoCo v3 sits about one log unit below SimMIM in the early blocks, and SimMIM's last
# blocks drop (they act "like a decoder", claim 7). MAE's encoder resembles SimMIM's except at depth
# 0: the paper's MAE and MoCo v3 add a fixed sin-cos position embedding to the patch embedding,
# SimMIM adds none, so depth 0 reflects architecture, not learning. The cell below says which
# position embedding each of our models has.

# %%
pos_embeds = {name: dict(infos[name]["config"].get("vit_kwargs") or {}).get("pos_embed", "learn") for name in names}
print("position embedding: " + ", ".join(f"{TITLES[n]} {p}" for n, p in pos_embeds.items())
      + "; Δ at depth 0: " + ", ".join(f"{TITLES[n]} {float(curves[n][0, -1]):.2f}" for n in names))
assert set(pos_embeds.values()) <= {"learn", "sincos"}

# %% [markdown]
# ## Token t-SNE: image-level or token-level?
#
# The paper embeds all 196 patch tokens of 18 images (6 from each of 3 classes) in 2-D with t-SNE.
# We do the same on our grid, colouring tokens by image: shades of one colour are the images of one
# class. "Image-level" (CL) means one tight island per image; "token-level" (MIM) means the images'
# tokens mix. The **image-ID silhouette** turns the picture into a number (our measure, not the
# paper's): for each token, how much closer it is (cosine) to the tokens of its own image than to those
# of the nearest other image; 1 is perfect clustering by image, 0 none.
#
# ```{literalinclude} ../sslvit_lite/analysis/representation.py
# :pyobject: token_tsne
# ```
# ```{literalinclude} ../sslvit_lite/analysis/representation.py
# :pyobject: image_silhouette
# ```

# %%
order = torch.randperm(len(test_set), generator=torch.Generator().manual_seed(seed))
chosen = torch.cat([order[test_set.labels[order] == c][:tsne_per_class] for c in tsne_classes])  # class-major
tsne_images = test_set.images[chosen]  # (n, 3, 32, 32)
tsne_labels = test_set.labels[chosen]
tsne_states = {name: token_states(models[name], tsne_images)[0::2] for name in ("mocov3", "simmim")}  # depths 0..L
t_depth = depth if tsne_depth is None else tsne_depth
smoke_models = all(info["config"]["preset"] == "smoke" for info in infos.values())
tsne_iterations = tsne_iterations or (250 if smoke_models else 500)
points = {name: token_tsne(s[t_depth][:, prefix:], perplexity=20, seed=seed, max_iter=tsne_iterations)
          for name, s in tsne_states.items()}  # (n·P, 2)
silhouette = {name: [image_silhouette(z[:, prefix:]) for z in s] for name, s in tsne_states.items()}  # per depth 0..L
print("classes:", [test_set.classes[c] for c in tsne_classes], f"· {len(chosen)} images · t-SNE of depth {t_depth}")
assert len(chosen) == tsne_per_class * len(tsne_classes) and all(p.shape == (len(chosen) * grid[0] * grid[1], 2) for p in points.values())

# %%
shades = [plt.get_cmap(c) for c in ("Blues", "Reds", "Greens", "Purples", "Oranges", "Greys")]
per_image_color = [shades[i // tsne_per_class % len(shades)](0.4 + 0.6 * (i % tsne_per_class) / max(1, tsne_per_class - 1))
                   for i in range(len(chosen))]
token_colors = np.repeat(np.array(per_image_color), grid[0] * grid[1], axis=0)
fig, axes = plt.subplots(1, 3, figsize=(9.3, 3.9))
for ax, name in zip(axes[:2], tsne_states):
    ax.scatter(points[name][:, 0], points[name][:, 1], c=token_colors, s=4)
    ax.set(title=f"ours: {TITLES[name]}, depth {t_depth}\nsilhouette (image ID) {silhouette[name][t_depth]:.2f}",
           xticks=[], yticks=[])
for name in tsne_states:
    axes[2].plot(range(depth + 1), silhouette[name], marker="o", color=COLORS[name], label=TITLES[name])
axes[2].axhline(0, color="gray", ls=":")
axes[2].set(title="image-ID silhouette of the tokens (cosine)", xlabel="depth (0 = embedding)", ylabel="silhouette",
            xticks=range(depth + 1))
axes[2].legend()
fig.tight_layout()
classes = ", ".join(test_set.classes[c] for c in tsne_classes)
caption(fig, "mocov3", "simmim", label="t-SNE", sources=[f"t-SNE images: {tsne_per_class} per class from {classes} (blue, red, green shades); "
                                        f"perplexity 20, {tsne_iterations} iterations, seed {seed}. "
                                        "Silhouette: our measure, not the paper's."])
plt.show()
assert all(-1 <= v <= 1 for s in silhouette.values() for v in s)

# %% [markdown]
# In the committed laptop runs MoCo v3's tokens do gather by image: measured on the 512 analysis
# images of `reproduce` (the figure above uses this page's few images), its silhouette climbs with
# depth to about 0.5 in the last block (0.47 and 0.60 for its two seeds), while SimMIM's stays just below 0
# at every depth, its tokens as close to other images' tokens as to their own. A random-init ViT of
# the same architecture already reaches 0.19, so part of the climb is the architecture's (every token
# of an image mixes with the others through near-uniform attention); MoCo v3 goes well beyond it. This
# is claim 8, the one claim that holds for every pairing of seeds in {doc}`chapter 9 <09_claims>`.

# %% [markdown]
# ## How an attention layer moves the tokens: SVD and unison
#
# Take one image and one block. Before the attention sub-layer the patch tokens are the block's
# input; after it, the mid-block state. Stack both sets, centre them, and project them on their top
# three singular directions: arrows from "before" to "after" show how attention moves each token.
# The **unison ratio** U = ‖mean of the moves‖ / mean of ‖move‖ is 1 when all tokens move by the same
# vector and about 1/√P for independent moves. Park et al. describe CL as moving the tokens "in
# unison" and MIM as moving them individually; the 3-D view and U follow our own
# procedure (the paper's is not public). The effective rank exp(H(σ/Σσ)) of the tokens' singular
# values says how many directions they span.
#
# ```{literalinclude} ../sslvit_lite/analysis/representation.py
# :pyobject: unison_ratio
# ```
# ```{literalinclude} ../sslvit_lite/analysis/representation.py
# :pyobject: effective_rank
# ```
#
# One caution when reading U: attention that is the same for every query (uniform, as in an untrained
# ViT, or collapsed, as in CL's later blocks) hands every token the *same* update, so U = 1 follows
# from homogeneous attention alone. U is therefore a consequence of the attention collapse of
# chapter 3 as much as a separate finding.

# %%
svd_b = depth if svd_block is None else svd_block
projections = {name: svd_projection_3d(zs[name][2 * svd_b - 2][svd_image, prefix:], zs[name][2 * svd_b - 1][svd_image, prefix:])
               for name in ("mocov3", "simmim")}
unison = {name: torch.stack([unison_ratio(z[2 * b - 2][:, prefix:], z[2 * b - 1][:, prefix:]).mean()
                             for b in range(1, depth + 1)]) for name, z in zs.items()}  # (L,) mean over images
rank = {name: torch.stack([effective_rank(z[:, prefix:].double()).mean() for z in zs[name][0::2]])
        for name in zs}  # (L + 1,); float64: batched float32 SVD is slow on multi-threaded CPUs
fig = plt.figure(figsize=(9.3, 8.4))  # the two 3-D views on top, unison and rank below
for i, name in enumerate(projections):
    ax = fig.add_subplot(2, 2, i + 1, projection="3d")
    pr = projections[name]
    b, a = pr.before.numpy(), pr.after.numpy()
    ax.scatter(*b.T, s=6, color="gray", label="before attention")
    ax.scatter(*a.T, s=6, color=COLORS[name], label="after attention")
    ax.quiver(*b.T, *(a - b).T, color=COLORS[name], alpha=0.35, arrow_length_ratio=0.1, linewidth=0.6)
    u = float(unison_ratio(zs[name][2 * svd_b - 2][svd_image, prefix:], zs[name][2 * svd_b - 1][svd_image, prefix:]))
    ax.set_title(f"ours: {TITLES[name]}, block {svd_b}, image {svd_image}\nU = {u:.2f}; top-3 SVD explain "
                 f"{100 * float(pr.explained.sum()):.0f}%")
    ax.set(xticklabels=[], yticklabels=[], zticklabels=[])  # the directions matter, not the coordinates
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, 0.05), ncols=2, frameon=False)  # under the cube
ax = fig.add_subplot(2, 2, 3)
for name in zs:
    ax.plot(range(1, depth + 1), unison[name].numpy(), marker="o", color=COLORS[name], label=TITLES[name])
ax.axhline(1 / math.sqrt(grid[0] * grid[1]), color="gray", ls=":", label="independent moves (1/√P)")
ax.set(title="unison ratio, mean over images", xlabel="block", ylabel="U", ylim=(0, 1.05), xticks=range(1, depth + 1))
ax.legend()
ax = fig.add_subplot(2, 2, 4)
for name in zs:
    ax.plot(range(depth + 1), rank[name].numpy(), marker="o", color=COLORS[name], label=TITLES[name])
ax.set(title="effective rank per image (mean)", xlabel="depth (0 = embedding)", ylabel="exp(entropy of σ/Σσ)",
       xticks=range(depth + 1))
ax.legend()
fig.tight_layout()
caption(fig, *names, label="unison, rank", sources=["U, the 3-D SVD view and the effective rank are our operationalisations, not "
                            "the paper's code; the paper expects U(CL) > U(MIM) and, as a hypothesis, lower-rank CL tokens late."])
plt.show()
assert all(bool(((u >= 0) & (u <= 1 + 1e-6)).all()) for u in unison.values())
assert all(float(pr.explained.sum()) <= 1 + 1e-6 for pr in projections.values())

# %% [markdown]
# ## What our models show
#
# The numbers of this page's models, where the paper expects CL below MIM in Fourier Δ, a negative
# last step for MIM, and CL above MIM in silhouette and unison:

# %%
late = late_blocks(depth, 9)  # the paper's blocks 9–12 scaled to our depth, as the scoreboard
measures = {
    "Δ at the top bin, mean over depths 1..L": {n: float(curves[n][1:, -1].mean()) for n in ("mocov3", "simmim")},
    "last step Δ(L) − Δ(L−1)": {n: float(curves[n][-1, -1] - curves[n][-2, -1]) for n in ("mocov3", "simmim")},
    f"image-ID silhouette, depths {late[0]}–{depth}": {
        n: float(np.mean([silhouette[n][d] for d in late])) for n in ("mocov3", "simmim")},
    f"unison ratio, blocks {late[0]}–{depth}": {
        n: float(unison[n][[d - 1 for d in late]].mean()) for n in ("mocov3", "simmim")},
}
display(html_table(["measure", TITLES["mocov3"], TITLES["simmim"]],
                   [[label, f"{v['mocov3']:.3f}", f"{v['simmim']:.3f}"] for label, v in measures.items()],
                   f"Measured on this page's {num_images} test images. The verdicts below are the scoreboard's: the "
                   "same committed models measured on its own, larger image set, so its numbers differ a little."))
assert all(math.isfinite(x) for v in measures.values() for x in v.values())

# %% [markdown]
# The scoreboard's verdicts ({doc}`chapter 9 <09_claims>`: every pairing of seeds, measured margins,
# each model told apart from random-init encoders on the quantity compared). Claim 19 is not
# independent of claim 3: attention that ignores the query moves every token by the same vector.

# %%
display(verdict_table([6, 7, 8, 19], results_dir))

# %% [markdown]
# ## What to take away
#
# * `fourier_by_depth`, `token_tsne` / `image_silhouette`, and `unison_ratio` / `svd_projection_3d` /
#   `effective_rank` (in `sslvit_lite.analysis`) turn the paper's representation figures into
#   numbers per depth.
# * The paper's reading: CL builds smooth (low-frequency), image-level representations whose tokens
#   move together, which is why a linear probe on one image vector works well for CL; MIM keeps
#   high-frequency, token-level detail, which dense tasks and fine-tuning exploit.
# * **Our laptop runs agree in part.** MoCo v3's tokens cluster by image far more than SimMIM's
#   (claim 8 holds for every pairing of seeds). Its token maps also lose their high frequencies with
#   depth faster than SimMIM's, as in the paper, but by a margin that only half the pairings of
#   seeds clear (claim 6 is seed-dependent): random initialisations of this ViT already differ by
#   0.18 in Δ. Its tokens move in unison, but so do a random ViT's, whose attention is near uniform
#   (claim 19 is inconclusive, and not independent of claim 3). {doc}`Chapter 6 <06_shape_texture>`
#   tests the shape-vs-texture consequence with our own experiments, and {doc}`chapter 9 <09_claims>`
#   scores each claim.


# %% [markdown]
# ## Exercises
#
# 1. **Flat and noisy maps.** What Δ log amplitude does the Fourier analysis give for a token map that is
#    constant over the patches, and for white noise?
#
#    :::{admonition} Answer
#    :class: dropdown
#    A constant map has all its energy at frequency 0, so its high-frequency amplitude is zero and Δ is
#    **far below zero** (only the small ε added before the logarithm keeps it finite). White noise has a
#    flat spectrum, so Δ is close to **0**. Low-pass representations (the paper's CL) sit towards the
#    first case, high-pass ones (MIM) towards the second.
#    :::
#
# 2. **Moving in unison.** A block adds the same vector to every token. What is its unison ratio U? And
#    what is U for independent random moves of our 64 patch tokens?
#
#    :::{admonition} Answer
#    :class: dropdown
#    U = **1** when every token moves by the same vector. Independent moves of P tokens give about
#    $1/\sqrt{P} = 1/8$ for P = 64: the dotted line of the figure. The paper describes CL's later
#    blocks as moving the tokens together, which would push U towards 1.
#    :::
#
# 3. **Rank of a collapsed image.** All patch tokens of an image are the same vector. What is the
#    effective rank? And at most, for 64 tokens of width 96?
#
#    :::{admonition} Answer
#    :class: dropdown
#    **1**: one non-zero singular value, so the entropy of $\sigma / \sum \sigma$ is 0 and its
#    exponential is 1. At most **64**, the number of tokens, when all 64 singular values are equal.
#    :::

# %% tags=["remove-input"]
note.html()  # where this chapter's figures and numbers come from, folded
