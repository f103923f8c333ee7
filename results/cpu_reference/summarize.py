"""Export the CPU reference runs and measure them: kNN / linear probe vs random init, every analysis, claims.

Run from the repository root after the three `python -m sslvit_lite train ... --preset cpu` runs of
results/README.md have finished. Writes results/cpu_reference/checkpoints/*.pt (+ loss logs),
results/cpu_reference/summary.json and results/cpu_reference/scoreboard.md.
"""

import json
import sys
from pathlib import Path

import torch

from sslvit_lite.analyze import compute_metrics
from sslvit_lite.checkpoint import load_backbone
from sslvit_lite.claims import scoreboard, scoreboard_markdown
from sslvit_lite.data import CIFAR10_MEAN, CIFAR10_STD, load_dataset
from sslvit_lite.provenance import provenance
from sslvit_lite.sweep import block_probes, evaluate_backbone, evaluation_split
from sslvit_lite.vit import build_vit
from sslvit_lite.zoo import export_run, saved_checkpoint_path

OBJECTIVES = ("mocov3", "simmim", "mae")
RUNS = Path(sys.argv[1] if len(sys.argv) > 1 else "runs/cpu-real")
OUT = Path("results/cpu_reference")

torch.set_num_threads(2)
train, test = evaluation_split("cifar10", "folder", 32, num_train=10_000, num_test=2_000, seed=0)
analysis_images = load_dataset("cifar10", "test", source="folder").subset(512, seed=0).images
summary = {"provenance": provenance(data=f"{train.source}; {test.source}"), "probe_sets": [len(train), len(test)],
           "models": {}, "evaluation": {}}
backbones = {}
for name in OBJECTIVES:
    exported = export_run(RUNS / name / "final.pt", saved_checkpoint_path(name, results_dir=OUT))
    backbones[name], info = load_backbone(exported)
    backbones[name].float()
    summary["evaluation"][name] = {"run": info["provenance"], **evaluate_backbone(backbones[name], train, test,
                                                                                 CIFAR10_MEAN, CIFAR10_STD)}
config = info["config"]
torch.manual_seed(0)
random_vit = build_vit(config["arch"], config["img_size"], config["patch_size"], **config["vit_kwargs"]).eval()
summary["evaluation"]["random_init"] = evaluate_backbone(random_vit, train, test, CIFAR10_MEAN, CIFAR10_STD)
for name, vit in backbones.items():
    summary["models"][name] = compute_metrics(vit, analysis_images, CIFAR10_MEAN, CIFAR10_STD, batch_size=128,
                                              seed=0, tsne=False)["metrics"]
    per_block = block_probes(vit, train, test, CIFAR10_MEAN, CIFAR10_STD)  # {pool: {"knn", "linear_probe"}}
    summary["evaluation"][name]["per_block"] = per_block
    summary["models"][name]["linear_probe"] = per_block["mean"]["linear_probe"]  # mean-pooled patch tokens
summary["roles"] = {"cl": "mocov3", "mim": "simmim", "mae": "mae"}
rows = scoreboard(summary)
summary["scoreboard"] = [{"id": r.id, "status": r.status, "detail": r.detail} for r in rows]
(OUT / "summary.json").write_text(json.dumps(summary, indent=1, default=str))
(OUT / "scoreboard.md").write_text(scoreboard_markdown(rows))
print(json.dumps(summary["evaluation"], indent=1, default=str))
print(scoreboard_markdown(rows))
