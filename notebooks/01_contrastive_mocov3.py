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
# # Contrastive learning: MoCo v3
#
# Park et al. {cite}`park2023what` take MoCo v3 {cite}`chen2021mocov3` as *the* contrastive-learning
# (CL) model. CL learns by comparison: two randomly augmented views of one image should land close
# together in feature space, views of different images far apart. Nothing asks the network to
# describe pixels; it only has to tell images apart, *instance discrimination* {cite}`wu2018instdisc`.
# The paper traces CL's behaviour to this image-level objective. Its attention collapses onto a few
# object-level tokens, its representations capture global shape, and it does well in linear
# probing.
#
# This chapter builds MoCo v3 piece by piece and says why each piece is there. The pieces are the
# two asymmetric views, the projector and the predictor, the momentum encoder and its schedule, the
# InfoNCE loss, and the frozen patch projection. Then we train the model with the book's engine
# and measure what it learned with a kNN classifier and a linear probe, against a randomly
# initialised ViT. The code we call is `sslvit_lite.objectives.mocov3`, which follows the official
# `moco/builder.py`.

# %% tags=["hide-cell"]
# Colab only: install sslvit_lite from the repository. Colab's own torch is kept (pip sees it installed).
import sys

if "google.colab" in sys.modules:
    import subprocess

    subprocess.run([sys.executable, "-m", "pip", "install", "-q",
                    "sslvit-lite[notebooks] @ git+https://github.com/sslvit-lite/sslvit-lite"], check=True)

# %% tags=["parameters"]
data_source = "auto+sample"  # real CIFAR-10 ($SSLVIT_DATA or a download), else the embedded 2,000-image sample
preset = "auto"  # runs trained now: "auto" = a GPU preset with CUDA, else "smoke"; a committed run brings its own
prefer_saved = True  # use the committed laptop run results/laptop/checkpoints/mocov3-cifar10.pt
results_dir = None  # None: the committed laptop runs, results/laptop/; a saved run is <results_dir>/checkpoints/mocov3-cifar10.pt
epochs = None  # None: the preset's schedule; a number changes the length of a run trained now (not of a saved run)
num_images = 6  # images shown as view pairs
view_size = 32  # px of the views in the figure (the preset may train at another size)
knn_k = 20  # neighbours of the kNN classifier
probe_train = None  # kNN bank / probe training images; None: 50,000 on a GPU, 1,000 on the CPU
probe_test = None  # probe test images; None: 10,000 on a GPU, 500 on the CPU
seed = 0

# %% tags=["hide-cell"]
import copy
import json
import math
import time
from pathlib import Path

import matplotlib.pyplot as plt
import torch
from IPython.display import display
from torch import nn

from sslvit_lite.augment import RECIPE_VIEWS, build_recipe
from sslvit_lite.checkpoint import build_backbone, load_checkpoint, training_log
from sslvit_lite.data import CIFAR10_MEAN, CIFAR10_STD, load_dataset
from sslvit_lite.diagrams import mocov3_diagram
from sslvit_lite.display import ProvenanceNote, to_rgb, use_book_style
from sslvit_lite.objectives.mocov3 import MoCoV3, infonce, momentum_at
from sslvit_lite.presets import get_preset, lr_at, resolve, steps_for
from sslvit_lite.probing import evaluation_split
from sslvit_lite.provenance import provenance, provenance_caption
from sslvit_lite.results import models_probe_table, probe_models, probe_summary, probe_table
from sslvit_lite.saved_runs import RESULTS_DIR, saved_checkpoint_path, trained_backbone
use_book_style()  # figure fonts readable at the column width

torch.manual_seed(seed)
device = "cuda" if torch.cuda.is_available() else "cpu"
preset_name = get_preset(preset).name  # "auto" resolved, so the run folder names the real preset
saved = saved_checkpoint_path("mocov3", results_dir=results_dir)
if prefer_saved and saved.is_file() and epochs is None:  # show the recipe the committed run trained with
    preset_name = load_checkpoint(saved)["config"]["preset"]
length = {} if epochs is None else {"epochs": epochs}
config = resolve("mocov3", preset_name, data_source=data_source, seed=seed, **length)
test_set = load_dataset("cifar10", "test", source=data_source)
batch = test_set.subset(num_images, seed=seed)
record = provenance(device=device, data=test_set.source)
note = ProvenanceNote()  # where the figures come from, shown folded at the end of the page
print(f"preset {preset_name} on {device}; {test_set.source}")
assert batch.images.shape == (num_images, 3, 32, 32) and config.objective == "mocov3"

# %% [markdown]
# ## Two views of one image
#
# Without labels, CL has to make its own positive pairs. It draws two random augmentations of the
# same image. The augmentations decide what the representation must *ignore*. Random resized crops
# (down to 8 % of the image) make a part stand for the whole. Colour jitter and grayscale remove
# the shortcut of matching colour histograms. Blur and solarisation change the texture.
#
# MoCo v3 uses BYOL's *asymmetric* pair {cite}`grill2020byol`. View 1 is always blurred and never
# solarised. View 2 is rarely blurred and sometimes solarised. The two views of a pair therefore
# differ more than two draws from one recipe would. `sslvit_lite.augment` runs the whole recipe
# on the training device, with new random parameters for every image. The blur σ is given in
# pixels at 224 px and scaled to the image size, so a 32-px image loses the same share of its
# spectrum as an ImageNet image would.

# %%
view_1, view_2 = RECIPE_VIEWS["mocov3"]
for name, spec in (("view 1", view_1), ("view 2", view_2)):
    print(f"{name}: crop scale {spec.crop_scale}, jitter {spec.jitter} with p {spec.jitter_p}, "
          f"grayscale p {spec.gray_p}, blur p {spec.blur_p} (σ {spec.blur_sigma} px at 224 px), "
          f"solarize p {spec.solarize_p}")
assert (view_1.blur_p, view_2.blur_p) == (1.0, 0.1) and (view_1.solarize_p, view_2.solarize_p) == (0.0, 0.2)
assert view_1.crop_scale == view_2.crop_scale == (0.08, 1.0)

# %%
view_recipe = build_recipe("mocov3", view_size, CIFAR10_MEAN, CIFAR10_STD)
views = view_recipe(batch.images, generator=torch.Generator().manual_seed(seed))  # 2 × (B, 3, S, S)
rows = [("original", batch.images.permute(0, 2, 3, 1))]  # to_rgb: normalised views back to (B, S, S, 3) pictures
rows += [(f"view {i + 1}", to_rgb(v, CIFAR10_MEAN, CIFAR10_STD)) for i, v in enumerate(views)]
fig, axes = plt.subplots(3, num_images, figsize=(min(9.3, 1.5 * num_images), 4.9))
for r, (label, pictures) in enumerate(rows):
    for c in range(num_images):
        axes[r, c].imshow(pictures[c])
        axes[r, c].set_xticks([]), axes[r, c].set_yticks([])
    axes[r, 0].set_ylabel(label)
fig.suptitle(f"MoCo v3 view pairs at {view_size} px (build_recipe('mocov3'))")
note.add(f"views and test images: {provenance_caption(record)}", "view pairs")
plt.tight_layout()
plt.show()
assert len(views) == 2 and views[0].shape == (num_images, 3, view_size, view_size)
assert not torch.allclose(views[0], views[1]), "the two views of a pair differ"

# %% [markdown]
# The whole method on one picture: the base branch (blue, trained by the loss) and the momentum
# branch (grey, an exponential moving average of it), fed two views of each image; both views go
# through both branches and the loss compares every query with every key of the batch.

# %% tags=["remove-input"]
fig = mocov3_diagram()
plt.show()

# %% [markdown]
# ## The model the engine trains
#
# We now build exactly what the training engine builds for this preset: a timm ViT (the *base
# encoder*, whose weights we keep at the end) wrapped by `MoCoV3`. The preset decides the size:
# `smoke` is a 2-block, 32-wide ViT at 16 px (seconds on a CPU), `cpu` (the committed laptop runs) a
# 6-block, 96-wide ViT at 32 px, and the GPU presets ViT-Tiny/4 at 32 px, 12 blocks of width 192. The
# output below says which one this page built.

# %%
torch.manual_seed(config.seed)
backbone = build_backbone(config.to_dict())  # the ViT the config describes, initialised as MoCo v3's code does
moco = MoCoV3(backbone, **config.hparams)


def count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


momentum_encoder = nn.ModuleList([moco.cl.momentum_backbone, moco.cl.momentum_projector])
for name, part in (("base encoder (ViT)", moco.backbone), ("projector", moco.cl.projector),
                   ("predictor", moco.cl.predictor), ("momentum encoder (ViT + projector)", momentum_encoder)):
    print(f"{name:36s} {count(part):>10,} parameters")
size = config.vit_kwargs
print(f"preset {config.preset}: {config.arch}, {size.get('depth')} blocks of width {size.get('embed_dim')}, "
      f"{config.img_size} px, τ = {moco.cl.tau}")
assert count(moco.cl.momentum_backbone) == count(moco.backbone)

# %% [markdown]
# ### Projector and predictor
#
# The loss is not computed on the ViT's output. A 3-layer MLP **projector** maps the [CLS] feature
# to a small embedding first. The loss asks that embedding to forget everything the augmentations
# change, and the projector can absorb much of that forgetting. The backbone's features below it
# then stay more general, which is why probes and later chapters read the backbone, not the
# projector. A 2-layer **predictor** sits on the query branch only. This asymmetry comes from
# BYOL: the query network must predict the key network's embedding and cannot simply copy it.
#
# Both MLPs follow the official `_build_mlp`. Linear layers have no bias, because each one is
# followed by a BatchNorm whose mean subtraction would cancel it. The hidden layers use BN +
# ReLU. The **output BN has no affine parameters**: it standardises every output dimension over
# the batch, and the network cannot learn to undo that. No dimension can then dominate or shrink
# to a constant before the vectors are L2-normalised in the loss.

# %%
for part in ("projector", "predictor"):  # the layers, one line each
    print(f"{part}: " + " → ".join(type(m).__name__ for m in getattr(moco.cl, part)))
train_recipe = build_recipe(moco.recipe, config.img_size, CIFAR10_MEAN, CIFAR10_STD)
x1, x2 = train_recipe(test_set.subset(64, seed=seed).images)  # 2 × (64, 3, S, S) at the training size
moco.train()
with torch.no_grad():
    z = moco.cl.projector(moco.backbone(x1))  # (64, proj_dim)
print(f"projector output {tuple(z.shape)}: per-dimension mean within ±{z.mean(0).abs().max():.1e}, "
      f"variance in [{z.var(0, unbiased=False).min():.4f}, {z.var(0, unbiased=False).max():.4f}]")
for mlp in (moco.cl.projector, moco.cl.predictor):
    assert all(layer.bias is None for layer in mlp if isinstance(layer, nn.Linear))
    assert isinstance(mlp[-1], nn.BatchNorm1d) and not mlp[-1].affine
assert torch.allclose(z.mean(0), torch.zeros(z.shape[1]), atol=1e-4)
assert torch.allclose(z.var(0, unbiased=False), torch.ones(z.shape[1]), atol=1e-2)

# %% [markdown]
# ### The momentum encoder
#
# The keys come from a second network, the **momentum encoder**: a copy of the ViT and the
# projector that receives no gradient. After every optimiser step it moves a little towards the
# base encoder, θk ← m·θk + (1 − m)·θq. This goes back to MoCo {cite}`he2020moco`. Keys computed
# by a slowly moving network stay consistent from step to step, so the targets the queries chase
# do not jump with every gradient step. Because no gradient flows into the keys, the network also
# cannot lower the loss by moving both sides of a pair at once. Below, a small change stands in
# for an optimiser step on the base encoder, and one momentum update is checked against the
# formula.
#
# In the package (`sslvit_lite/objectives/mocov3.py`) the update is one fused in-place operation
# over all parameter pairs:
#
# ```{literalinclude} ../sslvit_lite/objectives/mocov3.py
# :pyobject: MoCoV3Branch.update_momentum_encoder
# ```

# %%
demo = copy.deepcopy(moco)  # a throwaway copy: this cell changes its weights
momentum_params, base_params = demo.cl.momentum_pairs(demo.backbone)
assert all(torch.equal(k, q) for k, q in zip(momentum_params, base_params)), "a copy at the start"
assert not any(k.requires_grad for k in momentum_params), "the momentum encoder gets no gradient"
with torch.no_grad():
    for q in base_params:
        q.add_(0.01 * torch.randn_like(q))  # stand-in for an optimiser step on the base encoder
before = [k.clone() for k in momentum_params]
demo.cl.update_momentum_encoder(demo.backbone, m=0.9)
expected = [0.9 * k + 0.1 * q for k, q in zip(before, base_params)]
moved = sum((k - b).abs().sum() for k, b in zip(momentum_params, before))
print(f"{len(momentum_params)} tensors updated, total |Δθk| = {moved:.3f}")
assert all(torch.allclose(k, e, atol=1e-7) for k, e in zip(momentum_params, expected))

# %% [markdown]
# ### The cosine momentum schedule
#
# MoCo v3 does not keep m fixed. It starts at m₀ = 0.99 and rises along a cosine to 1 at the end of
# training, m = 1 − ½(1 + cos(π·t/T))(1 − m₀). Early on the keys follow the fast-changing base
# encoder closely. Near the end the momentum encoder hardly moves, and the targets settle. The
# engine calls `objective.after_step(progress)` after each optimiser step, and that call applies
# the update with the m of that step. Here are m and the learning rate (linear warm-up, then
# cosine) over the steps of this preset's run.
#
# ```{literalinclude} ../sslvit_lite/objectives/mocov3.py
# :pyobject: momentum_at
# ```

# %%
train_set = load_dataset("cifar10", "train", source=data_source)
num_train = min(len(train_set), config.subset or len(train_set))
per_epoch, total_steps, warmup_steps = steps_for(config, num_train)
steps = torch.arange(total_steps)
m0 = moco.cl.m0
momenta = [momentum_at((s + 1) / total_steps, m0) for s in range(total_steps)]
rates = [lr_at(s, total_steps, warmup_steps, config.peak_lr, config.min_lr) for s in range(total_steps)]
fig, (ax_lr, ax_m) = plt.subplots(1, 2, figsize=(9, 2.8))
ax_lr.plot(steps, rates)
ax_lr.set(xlabel="optimizer step", ylabel="learning rate", title="AdamW learning rate")
ax_m.plot(steps, momenta)
ax_m.set(xlabel="optimizer step", ylabel="m", title=f"momentum m (m₀ = {m0})")
run_length = (f"{total_steps:,} steps" if config.steps else
              f"{total_steps:,} steps ({per_epoch:,} per epoch × {config.epochs} epochs on {num_train:,} images)")
fig.suptitle(f"Schedules of preset {config.preset}: {run_length}")
plt.tight_layout()
plt.show()
assert momentum_at(0.0, m0) == m0 and momenta[-1] == 1.0
assert all(a <= b for a, b in zip(momenta, momenta[1:])), "m only grows"

# %% [markdown]
# ### InfoNCE, its temperature τ, and the 2τ factor
#
# For a batch of $B$ images, the base branch gives queries $q$ (after the predictor) and the momentum
# branch gives keys $k$. Both are L2-normalised ($\hat q$, $\hat k$). Query $i$ must pick out its own
# key $k_i$, the other view of the same image, among all $B$ keys. That is a $B$-way classification
# with logits $\hat q \hat k^\top / \tau$ and the positive on the diagonal:
#
# $$
# \operatorname{ctr}(q, k) = 2\tau \cdot \frac{1}{B} \sum_{i=1}^{B}
#   -\log \frac{\exp(\hat q_i \cdot \hat k_i / \tau)}{\sum_{j=1}^{B} \exp(\hat q_i \cdot \hat k_j / \tau)},
# $$
#
# $$
# \mathcal{L}_\text{CL} = \operatorname{ctr}(q_1, k_2) + \operatorname{ctr}(q_2, k_1).
# $$
#
# The loss is symmetrised, so each view serves once as query and once as key. The temperature
# $\tau = 0.2$ sharpens the softmax, so most of the gradient comes from the hardest negatives. The
# **$2\tau$** factor is the official code's. The logits carry $1/\tau$, and so does the gradient of
# the cross-entropy; multiplying by $\tau$ removes that factor, so changing $\tau$ does not change
# the size of the gradient. Two reference values follow from the formula. When all logits are equal
# the loss is $2\tau \log B$, chance level. When every query equals its key and all keys are
# orthogonal it is $2\tau \log\bigl(1 + (B - 1)\, e^{-1/\tau}\bigr)$. We compute the loss once by
# hand and compare it with `infonce`.
#
# The package's code, top to bottom: the loss of one pair of query and key batches, the queries
# (base encoder, projector, predictor), the keys (momentum encoder, no gradient) and the symmetric
# loss over the two views:
#
# ```{literalinclude} ../sslvit_lite/objectives/mocov3.py
# :pyobject: infonce
# ```
# ```{literalinclude} ../sslvit_lite/objectives/mocov3.py
# :pyobject: MoCoV3Branch.queries
# ```
# ```{literalinclude} ../sslvit_lite/objectives/mocov3.py
# :pyobject: MoCoV3Branch.keys
# ```
# ```{literalinclude} ../sslvit_lite/objectives/mocov3.py
# :pyobject: MoCoV3Branch.loss
# ```

# %%
tau = moco.cl.tau
g = torch.Generator().manual_seed(seed)
q, k = torch.randn(4, 8, generator=g), torch.randn(4, 8, generator=g)  # B = 4 queries and keys, D = 8
q_hat, k_hat = q / q.norm(dim=1, keepdim=True), k / k.norm(dim=1, keepdim=True)
logits = q_hat @ k_hat.T / tau  # (4, 4): row i = query i against every key
log_p_positive = logits.diag() - logits.logsumexp(dim=1)  # (4,): log softmax at the positive
by_hand = 2 * tau * -log_p_positive.mean()
print(f"by hand {by_hand:.6f}, infonce {infonce(q, k, tau):.6f}")
assert torch.allclose(by_hand, infonce(q, k, tau))
same = torch.ones(4, 8)  # identical vectors: every logit equal
assert math.isclose(infonce(same, same, tau), 2 * tau * math.log(4), rel_tol=1e-5)
eye = torch.eye(4, 8)  # query i = key i, keys orthogonal
assert math.isclose(infonce(eye, eye, tau), 2 * tau * math.log(1 + 3 * math.exp(-1 / tau)), rel_tol=1e-5)

# %% [markdown]
# Before training, the model cannot tell a positive key from a negative one. Its symmetric loss
# on a real batch of two views should therefore sit near chance, 2 × 2τ·log B.

# %%
with torch.no_grad():
    out = moco([x1, x2])
chance = 2 * 2 * tau * math.log(x1.shape[0])
print(f"untrained loss {out['loss']:.3f} (chance {chance:.3f}), positive-pair cosine {out['positive_cosine']:+.3f}")
assert abs(out["loss"].item() - chance) < 0.25 * chance

# %% [markdown]
# ### The frozen patch projection
#
# The MoCo v3 paper reports that ViT training under CL is unstable: accuracy dips suddenly during
# training. The authors traced the dips to gradient spikes in the first layer, the linear patch
# projection. Their remedy is to freeze that projection at its random initialisation
# (`--stop-grad-conv1`). With the layer fixed, the dips go away. Little is lost by not training it.
# A 4×4×3 patch has 48 values and the projection maps them to 96 channels (192 in ViT-Tiny), and a
# random map into more dimensions than it has inputs keeps all of their information. `MoCoV3`
# freezes the projection when it is built. The list below also shows `pos_embed`: MoCo v3 uses a
# fixed 2-D sin-cos position table, not a learned one, so it is frozen too.

# %%
frozen = [name for name, p in moco.backbone.named_parameters() if not p.requires_grad]
print("frozen:", frozen)
assert {"patch_embed.proj.weight", "patch_embed.proj.bias"} <= set(frozen)
assert all(p.requires_grad for p in moco.backbone.blocks.parameters())

# %% [markdown]
# ## Training through the engine
#
# `trained_backbone("mocov3", preset, ...)` loads the committed real run when there is one and
# `prefer_saved` allows it. Otherwise it calls `pretrain("mocov3", preset=..., data_source=...)`,
# the same engine as `python -m sslvit_lite train`. Each step of the engine samples a batch on the
# device, runs the recipe above, computes the loss, takes an AdamW step and then calls
# `after_step`, which applies the momentum update. The run lives in `runs/<data source>/`, where the
# later chapters find it too. A rerun that finds it finished loads it, and a run that was
# interrupted resumes.
#
# The book uses the committed laptop run: the `cpu` preset, a 6-block, 96-wide ViT with 4-px
# patches, initialised as MoCo v3's official code does (every linear xavier-uniform, the query, key
# and value matrices each on their own, the patch projection like a linear layer: weights 3–5×
# larger than timm's default at this width), 1,200 steps of batch 64 on the 50,000 CIFAR-10 training
# images, about 10 minutes on 2 CPU cores. Its learning rate follows a small-batch rule: MoCo v3's peak of 1.5e-4 per 256 images is
# tuned for batch 4,096, and scaled *linearly* down to batch 64 it leaves a model that never moves
# from its initialisation, so the laptop presets use 1e-3 · √(B / 128) with 100 warm-up steps
# (the square-root rule for adaptive optimisers). With `prefer_saved=False` and no GPU, the
# chapter trains at `smoke` instead: a few optimizer steps on a few hundred images, so the model
# stays at its random initialisation. On a GPU, `colab-t4` trains for 100 epochs and
# `cifar10-h100` for 300 epochs, MoCo v3's own schedule length.
#
# One step of the engine (`sslvit_lite/train.py`), the same for every objective: the batch's views
# are made on the device, the objective returns its loss, and a NaN or infinite loss stops the run
# with the last good checkpoint intact:
#
# ```{literalinclude} ../sslvit_lite/train.py
# :pyobject: Trainer.train_step
# ```

# %%
schedule = (f"{config.steps:,} steps" if config.steps else f"{config.epochs} epochs") + ", warm-up " + (
    f"{config.warmup_steps} steps" if config.warmup_steps is not None else f"{config.warmup_epochs} epochs")
print(f"preset {config.preset}: batch {config.batch_size}, {schedule}, peak lr {config.peak_lr:.2e}, "
      f"weight decay {config.weight_decay}, precision {config.precision}")
runs_dir = Path("runs") / data_source  # the later chapters look for their runs here too
if config != resolve("mocov3", preset_name, data_source=data_source):  # another seed or length: a folder of its own
    runs_dir = runs_dir / f"seed{seed}-epochs{epochs}"
start = time.perf_counter()
vit, info = trained_backbone("mocov3", preset_name, data_source=data_source, prefer_saved=prefer_saved,
                             results_dir=results_dir, runs_dir=runs_dir, progress=device == "cuda",
                             seed=seed, **length)
seconds = time.perf_counter() - start
origin = info["origin"].split(" (")[0]  # "trained now" or "saved run ..."
run_caption = f"MoCo v3, {info['origin']} · {provenance_caption(info['provenance'])}"
note.add(run_caption, "loss curve, probes")
print(f"MoCo v3: {info['step']:,} steps, {origin}" + (f", trained in {seconds:.0f} s" if origin == "trained now" else ""))
assert info["finished"] and info["step"] == info["total_steps"]

# %% [markdown]
# ### The loss curve
#
# The engine writes one JSON record per logging interval to `metrics.jsonl` in the run folder. For
# a committed run, the log is read from next to its checkpoint
# (`results/laptop/checkpoints/mocov3-cifar10.metrics.jsonl`). We plot the loss against the chance level
# 2 × 2τ·log B of the run's batch, together with the mean cosine between a query and its positive
# key. As the model learns, the loss falls below chance and the positive cosine rises towards 1. A
# `smoke` run stays around chance: a few steps are not enough to learn anything.

# %%
records = training_log(info["path"])  # the run's metrics.jsonl, or the one committed beside its checkpoint
run_tau = info["config"]["hparams"].get("tau", tau)
run_chance = 2 * 2 * run_tau * math.log(info["config"]["batch_size"])
fig, (ax_loss, ax_cos) = plt.subplots(1, 2, figsize=(9, 2.8))
ax_loss.plot([r["step"] for r in records], [r["loss"] for r in records], marker=".", label="training loss")
ax_loss.axhline(run_chance, color="gray", ls="--", label="chance 4τ·log B")
ax_loss.set(xlabel="optimizer step", ylabel="symmetric InfoNCE", title="loss")
ax_loss.legend()
ax_cos.plot([r["step"] for r in records], [r.get("positive_cosine", math.nan) for r in records], marker=".")
ax_cos.set(xlabel="optimizer step", ylabel="cos(q, k⁺)", title="positive-pair cosine")
fig.suptitle(f"MoCo v3 training, {info['config']['preset']} preset" if records else "no training log found")
plt.tight_layout()
plt.show()
print(f"{len(records)} log records")
assert all(math.isfinite(r["loss"]) for r in records)

# %% [markdown]
# The frozen patch projection gives a check on the trained weights. The engine seeds the RNG with
# the run's seed before it builds the ViT, so building the same architecture after the same seed
# reproduces the run's initial weights exactly. The trained model's patch projection must still be
# equal to that initialisation. Every other weight must have moved, unless the run was too short
# to move it. A committed run stores its weights in fp16, so there we compare up to fp16 rounding.
# This rebuilt initialisation is also our **random-init baseline** below: the same architecture,
# at the very point where training started.

# %%
run_config = info["config"]
torch.manual_seed(run_config["seed"])
random_vit = build_backbone(run_config).eval()
same_projection = torch.allclose(vit.patch_embed.proj.weight, random_vit.patch_embed.proj.weight, rtol=1e-3, atol=1e-6)
block_change = (vit.blocks[0].attn.qkv.weight - random_vit.blocks[0].attn.qkv.weight).abs().max().item()
print(f"patch projection unchanged by training: {same_projection}; "
      f"largest change in block 1's qkv weights {block_change:.2e}")
assert same_projection or not run_config["hparams"].get("stop_grad_conv1", True)
assert block_change > 0

# %% [markdown]
# ## What did it learn? kNN and linear probe
#
# We freeze each ViT and probe its features with the book's one protocol: the **mean of the patch
# tokens** of the last block (the same feature for every objective and every block, {doc}`chapter 5
# <05_components>`), and, as MoCo v3's own probe does, its **[CLS] token** after the final norm. Two
# evaluations then run on the frozen features.
#
# * **kNN** (k = 20, weighted as in InstDisc {cite}`wu2018instdisc`): each test image takes the 20
#   training images with the most similar features, and they vote for its label. Nothing is
#   trained, so kNN asks directly whether images of one class are neighbours in feature space. That
#   is what an image-level objective like CL optimises for.
# * **Linear probe**: BN (without affine) + a linear classifier trained on the frozen features.
#   It asks whether the classes are *linearly separable*, a weaker requirement than being
#   neighbours.
#
# A random ViT is a fair baseline, not a strawman. Random features of natural images are far above
# the 10 % chance level, so "MoCo v3 beats chance" would prove little. We run the same features and
# the same probe code on both models. The probe images come from `evaluation_split`, the split every
# probe of the book uses: random subsets of the CIFAR-10 training and test splits. The embedded
# sample holds only 2,000 test images, sorted by class, so there it shuffles the sample and cuts it
# into two disjoint parts.

# %%
n_train = probe_train or (50_000 if device == "cuda" else 1_000)
n_test = probe_test or (10_000 if device == "cuda" else 500)
probe_train_set, probe_test_set = evaluation_split("cifar10", data_source, run_config["img_size"], n_train, n_test, seed)
print(f"probe sets: {len(probe_train_set):,} train / {len(probe_test_set):,} test images at {run_config['img_size']} px")
assert torch.bincount(probe_train_set.labels, minlength=10).min() > 0

# %%
results = probe_models({f"MoCo v3 ({origin})": vit, "random init, same architecture": random_vit},
                       probe_train_set, probe_test_set, CIFAR10_MEAN, CIFAR10_STD, knn_k, seed, device)
display(models_probe_table(results, probe_train_set, probe_test_set))
assert all(0.0 <= v <= 100.0 for r in results.values() for pool in r.values() for v in (pool["knn"], pool["linear_probe"]))

# %% [markdown]
# **How to read the table.** After a real run (the committed laptop run, or a GPU preset's full
# schedule), MoCo v3 should beat the random initialisation, most clearly on kNN: the objective pulls
# the views of an image together and pushes different images apart, and images of one class share
# shape and layout, so they end up as neighbours although no label was used. At `smoke` size the
# model has taken a few small steps from its random start; the rows are then nearly the same and any
# gap is noise from the small probe sets.

# %% [markdown]
# ### The committed numbers, with their spread
#
# The probe sets above are small so that the page builds quickly on a CPU. `reproduce` measured the
# committed laptop runs on 10,000 / 2,000 images, with **two seeds** of every model (the next chapter
# trains SimMIM and MAE) and **three random-init encoders** per initialisation, each with its own seed.

# %%
evaluation_file = Path(results_dir or RESULTS_DIR) / "evaluation.json"
if origin.startswith("saved") and evaluation_file.is_file():
    committed = json.loads(evaluation_file.read_text())
    display(probe_table(committed))
    summary = probe_summary(committed)
    randoms = [s for label, s in summary.items() if label.startswith("random init")]
    lead = summary["MoCo v3 (CL)"]["knn"][0] - max(s["knn"][0] for s in randoms)
    print(f"MoCo v3's kNN (protocol) against the best random-init group: {lead:+.1f} points")
    assert all(len(evaluation["blocks"]["knn"]) == run_config["vit_kwargs"]["depth"]
               for evaluation in committed["encoders"].values())
else:
    print("no committed evaluation used: the model above was trained now")

# %% [markdown]
# ## What to take away
#
# * MoCo v3 = two asymmetric views, a base encoder with projector and predictor, a momentum encoder
#   (projector, no predictor) on a cosine schedule from 0.99 to 1, and a symmetric InfoNCE loss
#   with τ = 0.2, scaled by 2τ. The ViT's patch projection stays frozen at its random init.
# * The objective is **image-level**. One vector per image, the [CLS] token, is all the loss sees,
#   and it asks that vector to identify the image among the others in the batch. That is why kNN
#   and linear probes are CL's natural measure, and why the paper expects its attention to gather
#   global, object-level information. At our scale MoCo v3 leads SimMIM on kNN, not clearly on the
#   linear probe (within the seeds' spread), and MAE, which sees four times the images, leads both
#   (the table above).
# * The next chapter trains the opposite kind of objective, masked image modeling, whose loss
#   looks at every patch token and not at the image as a whole.


# %% [markdown]
# ## Exercises
#
# 1. **A softer softmax.** Redo the hand computation of `infonce` with τ = 1 instead of 0.2, for the
#    batch of B = 4. Predict the chance level and the loss when every query equals its key and the keys
#    are orthogonal.
#
#    :::{admonition} Answer
#    :class: dropdown
#    Chance is $2\tau \log B = 2 \log 4 \approx 2.77$ (0.55 at τ = 0.2). The orthogonal case gives
#    $2\tau \log(1 + 3e^{-1/\tau}) \approx 1.49$, against 0.008 at τ = 0.2: with a soft softmax even a
#    perfect solution keeps a large loss, because the negatives are never pushed far enough away.
#    A small τ makes the loss care about the hardest negatives.
#    :::
#
# 2. **A bigger batch.** The `cpu` preset trains with B = 64. Where does the dashed chance line of the
#    loss curve move at B = 128?
#
#    :::{admonition} Answer
#    :class: dropdown
#    From $2 \cdot 2\tau \log 64 \approx 3.33$ to $2 \cdot 2\tau \log 128 \approx 3.88$: each query has
#    twice as many negatives to tell its key from. A loss is only comparable with the chance level of
#    its own batch size.
#    :::
#
# 3. **A frozen momentum encoder.** What would the momentum encoder do with momentum m = 1, and would
#    the base encoder still learn?
#
#    :::{admonition} Answer
#    :class: dropdown
#    With m = 1 the update $\theta_k \leftarrow m\,\theta_k + (1 - m)\,\theta_q$ never changes the momentum
#    encoder: the keys come from a frozen random network. The base encoder then learns to predict a
#    random network's features of the other view. BYOL {cite}`grill2020byol` reports that this alone
#    lifts ImageNet linear accuracy from 1.4 % (random features) to 18.8 %: far from what a moving
#    target gives, but not nothing.
#    :::

# %% tags=["remove-input"]
note.html()  # where this chapter's figures and numbers come from, folded
