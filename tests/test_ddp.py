"""DDP under torchrun with 2 gloo processes on the CPU, against one process on the same global batch."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

SCRIPT = r'''
import os, sys
import torch
from torch import nn
from sslvit_lite.presets import resolve
from sslvit_lite.train import Trainer
from sslvit_lite.vit import build_vit


class MeanColour(nn.Module):
    """Deterministic per-sample loss (no augmentation, no noise): the mean over a global batch equals
    the mean of the per-rank means, so one process and two DDP ranks must agree."""

    recipe, num_views = "eval", 1

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.backbone = build_vit("vit_tiny", img_size=16, patch_size=4, depth=1, embed_dim=16, num_heads=2)
        self.head = nn.Linear(16, 3)

    def forward(self, views):
        x = views[0]  # (B, 3, H, W)
        pred = self.head(self.backbone.forward_features(x)[:, 1:])  # (B, N, 3)
        return {"loss": ((pred - x.mean(dim=(2, 3))[:, None]) ** 2).mean()}

    def after_step(self, progress):
        pass


out = sys.argv[1]
rank = int(os.environ.get("RANK", "0"))
if rank:
    out += f"-rank{rank}"  # a rank other than 0 must never create its folder
config = resolve("mae", "smoke", vit_kwargs={"depth": 1, "embed_dim": 16, "num_heads": 2}, batch_size=16,
                 steps=3, log_every=1, ckpt_every=2, epochs=1, warmup_epochs=0, lr=1e-2)
images = torch.randint(0, 256, (64, 3, 16, 16), generator=torch.Generator().manual_seed(0), dtype=torch.uint8)
Trainer(config, out, objective=MeanColour(), images=images, progress=False).fit()
'''


def launch(args, tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    for key in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(key, None)
    done = subprocess.run(args, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


def losses(run_dir):
    return [json.loads(line)["loss"] for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


@pytest.mark.skipif(not torch.distributed.is_available(), reason="torch.distributed is not available")
def test_two_gloo_ranks_match_one_process_and_only_rank0_writes(tmp_path):
    script = tmp_path / "ddp_run.py"
    script.write_text(SCRIPT)
    launch([sys.executable, str(script), str(tmp_path / "single")], tmp_path)
    launch([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nnodes", "1", "--nproc_per_node", "2",
            str(script), str(tmp_path / "ddp")], tmp_path)

    assert not (tmp_path / "ddp-rank1").exists()
    assert sorted(p.name for p in (tmp_path / "ddp").iterdir()) == ["config.json", "final.pt", "metrics.jsonl"]
    single, ddp = losses(tmp_path / "single"), losses(tmp_path / "ddp")
    assert len(single) == len(ddp) == 3
    assert single[0] != single[2]  # the weights moved, so matching later steps tests the gradient sync
    assert ddp == pytest.approx(single, rel=1e-5, abs=1e-6)
    a = torch.load(tmp_path / "single" / "final.pt", weights_only=True)
    b = torch.load(tmp_path / "ddp" / "final.pt", weights_only=True)
    assert b["provenance"]["world_size"] == 2
    for key, value in a["model"].items():
        torch.testing.assert_close(b["model"][key], value, rtol=1e-4, atol=1e-6)
