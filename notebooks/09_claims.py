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
# # Claims scoreboard
#
# This chapter checks the claims of Park et al. {cite}`park2023what`, one by one, on our models. Each
# claim of the paper (19 rows, from the project's paper spec) is an executable check in
# `sslvit_lite.claims`: a function of a results dict that answers **holds**, **fails** or **not
# measured** (a number it needs is missing), and shows the values behind the verdict next to what the
# paper expects.
#
# The results dict is assembled here from:
#
# * `sslvit_lite.analyze.compute_metrics` on each model: attention distance, NMI and JSD per block and
#   head (chapter 3), Fourier Δ, image-ID silhouette, unison ratio and effective rank per depth
#   (chapter 4);
# * a linear probe per block (`sslvit_lite.probing`), cheap enough to run here: mean-pooled patch
#   tokens of each block, a BatchNorm and a linear layer, as the spec suggests for per-block probes.
#
# Fine-tuning (claims 12–13), COCO detection (14), the λ sweep of the hybrid (15, chapter 7), MAE's
# decoder (11) and our shape/noise tests (17–18, chapter 6) are not computed in this chapter, so they
# show as "not measured" here.
#
# :::{important}
# **At each scale we ran.** The real test is the committed real runs in `results/checkpoints/` (used
# when CL and MIM both have one). Without them the scoreboard is computed on runs trained now at
# `preset`; at `smoke` (no GPU) those models are **near random**, and their verdicts say nothing about
# the paper: they show only that every check runs. We also score `extra_presets` (default: `smoke`)
# so the two scales sit side by side. The paper's numbers are ViT-B/16 on ImageNet; ours are small
# ViTs on CIFAR-10 {cite}`krizhevsky2009cifar`, with the paper's depth windows ("blocks 9–12") scaled
# to our depth.
# :::

# %%
# Colab only: install sslvit_lite from the repository. Colab's own torch is kept (pip sees it installed).
import sys

if "google.colab" in sys.modules:
    import subprocess

    subprocess.run([sys.executable, "-m", "pip", "install", "-q",
                    "sslvit-lite[notebooks] @ git+https://github.com/sslvit-lite/sslvit-lite"], check=True)

# %% tags=["parameters"]
data_source = "auto"  # "auto": $SSLVIT_DATA or torchvision download; "sample": the embedded 2,000 test images
preset = "auto"  # training preset when no saved run is used; "auto": GPU preset with CUDA, else "smoke"
prefer_saved = True  # score the committed real runs in results/checkpoints/ when CL and MIM both have one
results_dir = None  # None: the repository's results/; saved runs are <results_dir>/checkpoints/<objective>-cifar10.pt
extra_presets = ["smoke"]  # presets trained now and scored as well (skipped when equal to the main scale)
cpu_reference = True  # also score the committed CPU reference runs of results/cpu_reference/ (when present)
include_hybrid = True  # also score the CL+MIM hybrid (claim 16)
num_images = 64  # test images behind compute_metrics, per model (the official attention notebook: ≈60)
probe_train_images = None  # images the per-block probes are fit on; None: 4,000 on a GPU, 400 on the CPU
probe_test_images = None  # other images they are scored on; None: 4,000 on a GPU, 200 on the CPU
probe_epochs = 100  # epochs of each per-block linear probe
seed = 0

# %%
import json
import textwrap
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
from IPython.display import Markdown, display
from matplotlib.colors import ListedColormap

from sslvit_lite.analyze import compute_metrics
from sslvit_lite.claims import CLAIMS, STATUSES, scoreboard, scoreboard_markdown
from sslvit_lite.data import CIFAR10_MEAN, CIFAR10_STD, load_dataset
from sslvit_lite.display import caption_below, cpu_threads_for_small_models, model_origin
from sslvit_lite.presets import get_preset
from sslvit_lite.probing import extract_features, linear_probe_accuracy
from sslvit_lite.provenance import provenance, provenance_caption
from sslvit_lite.zoo import RESULTS_DIR, saved_checkpoint_path, trained_backbone

TITLES = {"mocov3": "CL (MoCo v3)", "simmim": "MIM (SimMIM)", "hybrid": "CL+MIM hybrid"}
COLORS = {"mocov3": "tab:blue", "simmim": "tab:red", "hybrid": "tab:purple"}
device = "cuda" if torch.cuda.is_available() else "cpu"
preset_name = get_preset(preset).name  # validates the preset; "auto" → smoke without CUDA
cpu_threads_for_small_models()  # tiny models on a CPU: one thread beats several
probe_train_images = probe_train_images or (4000 if device == "cuda" else 400)
probe_test_images = probe_test_images or (4000 if device == "cuda" else 200)
torch.manual_seed(seed)
assert num_images >= 2 and probe_train_images >= 20 and probe_test_images >= 10

# %% [markdown]
# ## The scales
#
# A scale is a set of models compared with each other: the saved real runs, or one preset trained now.

# %%
saved = {o: saved_checkpoint_path(o, results_dir=results_dir).is_file() for o in TITLES}
use_saved = prefer_saved and saved["mocov3"] and saved["simmim"]
scales = [("saved runs", None)] if use_saved else [(f"preset {preset_name}, trained now", preset_name)]
for extra in extra_presets:
    name = get_preset(extra).name
    if use_saved or name != preset_name:
        scales.append((f"preset {name}, trained now", name))
print(f"device {device}; scales: " + "; ".join(label for label, _ in scales))
assert len({label for label, _ in scales}) == len(scales)

# %% [markdown]
# ## Measuring each scale
#
# For each scale: load or train the models, run `compute_metrics` on `num_images` test images, fit
# one linear probe per block on `probe_train_images` test images and score it on `probe_test_images`
# other ones (the embedded sample has no training split; the two sets are disjoint). Everything lands
# in the results dict the claims read, with the provenance of every model.

# %%
test_set = load_dataset("cifar10", "test", source=data_source)
order = torch.randperm(len(test_set), generator=torch.Generator().manual_seed(seed))
if probe_train_images + probe_test_images > len(order):
    raise ValueError(f"probe_train_images + probe_test_images must be ≤ {len(order)} test images")
fit_idx, eval_idx = order[:probe_train_images], order[probe_train_images:probe_train_images + probe_test_images]


def block_probes(model):
    """Top-1 % of a linear probe on the mean-pooled patch tokens of every block (1..L)."""
    size = int(model.patch_embed.img_size[0])
    data = load_dataset("cifar10", "test", source=data_source, img_size=size)  # at the model's input size
    train = extract_features(model, data.images[fit_idx], CIFAR10_MEAN, CIFAR10_STD, pool="mean")
    test = extract_features(model, data.images[eval_idx], CIFAR10_MEAN, CIFAR10_STD, pool="mean")
    return [round(100 * linear_probe_accuracy(train[b], data.labels[fit_idx], test[b], data.labels[eval_idx],
                                              epochs=probe_epochs, seed=seed), 2) for b in range(1, len(model.blocks) + 1)]


def measure(preset_or_saved):
    """Results dict (sslvit_lite.claims schema) of one scale, and the models' info dicts."""
    from_saved = preset_or_saved is None
    names = ["mocov3", "simmim"] + (["hybrid"] if include_hybrid and (saved["hybrid"] or not from_saved) else [])
    models, infos = {}, {}
    for objective in names:
        vit, info = trained_backbone(objective, preset_or_saved or preset_name, data_source=data_source,
                                     prefer_saved=from_saved, results_dir=results_dir, runs_dir=Path("runs") / data_source)
        result = compute_metrics(vit, test_set.images, CIFAR10_MEAN, CIFAR10_STD, device=device, seed=seed,
                                 num_images=num_images, representation_images=min(18, num_images), tsne=False)
        models[objective] = {**result["metrics"], "linear_probe": block_probes(vit.to(device))}
        infos[objective] = info
    results = {"models": models, "roles": {"cl": "mocov3", "mim": "simmim", "hybrid": "hybrid"},
               "provenance": provenance(device=device, data=test_set.source, images=num_images)}
    return results, infos


measured = {label: measure(p) for label, p in scales}
for label, (results, infos) in measured.items():
    print(f"{label}: " + "; ".join(f"{TITLES[n]} {info['origin']}" for n, info in infos.items()))
assert all({"mocov3", "simmim"} <= set(r["models"]) for r, _ in measured.values())

# %% [markdown]
# ## Per-block linear probes
#
# Claims 9 and 10 read these curves: in the paper (Fig. 10) MoCo v3's probe accuracy rises to the
# last block while SimMIM's peaks around blocks 7–8 and falls after. They are cheap here because the
# probes are small; they are not the paper's recipe (which is not public).

# %%
fig, axes = plt.subplots(1, len(measured), figsize=(5 * len(measured), 3.3), squeeze=False)
for ax, (label, (results, infos)) in zip(axes[0], measured.items()):
    for name, metrics in results["models"].items():
        lp = metrics["linear_probe"]
        ax.plot(range(1, len(lp) + 1), lp, marker="o", color=COLORS[name], label=TITLES[name])
    ax.axhline(100 / len(test_set.classes), color="gray", ls=":", label="chance")
    ax.set(title=label, xlabel="block", ylabel="linear probe top-1 (%)", xticks=range(1, len(lp) + 1))
    ax.legend(fontsize=7)
fig.tight_layout()
lines = [f"{label} · {model_origin(TITLES[n], info)}"
         for label, (_, infos) in measured.items() for n, info in infos.items()]
lines.append(f"analysis: {provenance_caption(next(iter(measured.values()))[0]['provenance'])}; probes fit on "
             f"{probe_train_images} test images, scored on {probe_test_images} others, {probe_epochs} epochs")
caption_below(fig, lines)
plt.show()
assert all(0 <= a <= 100 for r, _ in measured.values() for m in r["models"].values() for a in m["linear_probe"])

# %% [markdown]
# ## The scoreboard
#
# One table per scale: the claim, what the paper expects (its numbers are ViT-B/16 on ImageNet), our
# verdict and the numbers behind it.

# %%
boards = {label: scoreboard(results) for label, (results, _) in measured.items()}
for label, rows in boards.items():
    _, infos = measured[label]
    origin = "; ".join(f"{TITLES[n]}: {info['origin']}, {provenance_caption(info['provenance'])}" for n, info in infos.items())
    display(Markdown(f"### {label}\n\n*Models:* {origin}\n\n" + scoreboard_markdown(rows)))
assert all(len(rows) == len(CLAIMS) and all(r.status in STATUSES for r in rows) for rows in boards.values())

# %% [markdown]
# ## The CPU reference runs
#
# `results/cpu_reference/` holds real runs made on 2 CPU cores when no GPU was at hand: MoCo v3,
# SimMIM and MAE at the `cpu` preset (a 4-block, 96-wide ViT/4 on 8,192 CIFAR-10 images, 15–30
# epochs), with their metrics and probe accuracies. We score them again here with today's checks. They
# are **inconclusive** by design of their size: the models barely left their random initialisation
# (attention at the uniform distance, NMI ≈ 0), so a "holds" or "fails" there reflects differences
# smaller than run-to-run noise. They show what such a run measures, not what the paper claims.

# %%
reference_file = Path(results_dir or RESULTS_DIR) / "cpu_reference" / "summary.json"
if cpu_reference and reference_file.is_file():
    reference = json.loads(reference_file.read_text())
    rows = scoreboard({"models": reference["models"], "roles": reference["roles"]})
    boards["CPU reference runs (inconclusive)"] = rows
    evaluation = reference["evaluation"]
    probes = "; ".join(f"{name}: kNN {r['knn']:.1f} %, linear probe {r['linear_probe']:.1f} %"
                       for name, r in evaluation.items())
    display(Markdown(f"### CPU reference runs (inconclusive)\n\n*Runs:* {provenance_caption(evaluation['mocov3']['run'])}"
                     f" (MoCo v3; SimMIM and MAE alike, 30 epochs). *Top-1 on CIFAR-10, final-norm CLS:* {probes}.\n\n"
                     + scoreboard_markdown(rows)))
    assert len(rows) == len(CLAIMS) and evaluation["random_init"]["knn"] > 10
else:
    print(f"no CPU reference runs scored ({reference_file} missing or cpu_reference=False)")

# %% [markdown]
# ## All scales at a glance

# %%
codes = {"holds": 2, "fails": 0, "not measured": 1}
grid = np.array([[codes[r.status] for r in rows] for rows in boards.values()]).T  # (claims, scales)
fig, ax = plt.subplots(figsize=(4.5 + 2 * len(boards), 0.32 * len(CLAIMS) + 1.2))
ax.imshow(grid, cmap=ListedColormap(["#d9534f", "#dddddd", "#5cb85c"]), vmin=0, vmax=2, aspect="auto")
for i, claim in enumerate(CLAIMS):
    for j, rows in enumerate(boards.values()):
        ax.text(j, i, rows[i].status, ha="center", va="center", fontsize=7)
ax.set_yticks(range(len(CLAIMS)), [f"{c.id}. {textwrap.shorten(c.claim, 48)}" for c in CLAIMS], fontsize=7)
ax.set_xticks(range(len(boards)), [textwrap.fill(label, 18) for label in boards], fontsize=8)
ax.set_title("Park et al.'s claims on our models", fontsize=9)
fig.tight_layout()
counts = [f"{label}: " + ", ".join(f"{sum(r.status == s for r in rows)} {s}" for s in STATUSES) for label, rows in boards.items()]
caption_below(fig, counts + lines)
plt.show()
assert grid.shape == (len(CLAIMS), len(boards))

# %% [markdown]
# ## Reading the scoreboard
#
# * **Saved real runs** (when present) are the reproduction: a "holds" there means our small CIFAR-10
#   models show the paper's direction; a "fails" is a real disagreement at our scale, worth a look at
#   the numbers in its row and at the chapter that plots them (3 for attention, 4 for representations).
# * **`smoke`** rows are a smoke test: 2-block models trained for 8 steps from the same random
#   initialisation. Their verdicts flip with the seed and mean nothing about CL or MIM.
# * "Not measured" marks what this chapter does not compute (see the top of the page), never a
#   silent pass.

# %%
real = [label for label, p in scales if p is None]
print(f"Scored on saved real runs: {real[0]}." if real else
      "No saved real runs in results/checkpoints/: the claims are pending a GPU run; the verdicts above come from "
      f"models trained now at {', '.join(p for _, p in scales)} and only show that every check runs.")
assert boards
