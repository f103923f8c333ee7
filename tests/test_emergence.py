"""Watching attention emerge: snapshots in step order, the uniform distance, the per-step table."""

import math

import pytest
import torch

from sslvit_lite.analysis.attention import mean_attention_distance
from sslvit_lite.checkpoint import build_backbone, save_atomic
from sslvit_lite.emergence import emergence, snapshot_paths, uniform_distance
from sslvit_lite.presets import resolve

CONFIG = resolve("mocov3", "smoke").to_dict()


def test_uniform_distance_is_the_distance_of_uniform_attention():
    uniform = torch.full((1, 1, 16, 16), 1 / 16)  # (B, H, P, P) on a 4×4 grid
    expected = float(mean_attention_distance(uniform, (4, 4), 4.0).mean())
    assert uniform_distance((4, 4), 4.0) == pytest.approx(expected)
    assert uniform_distance((1, 2), 1.0) == pytest.approx(0.5)  # two patches 1 px apart: half the pairs at 1 px


def write_run(tmp_path, steps):
    for step in steps:
        torch.manual_seed(step)
        state = {f"backbone.{k}": v for k, v in build_backbone(CONFIG).state_dict().items()}
        save_atomic({"model": state, "config": CONFIG, "step": step}, tmp_path / "snapshots" / f"step-{step:06d}.pt")
    return tmp_path


def test_snapshots_come_in_step_order_and_a_run_without_them_is_an_error(tmp_path):
    run = write_run(tmp_path / "run", [50, 0, 200])
    assert [s for s, _ in snapshot_paths(run)] == [0, 50, 200]
    with pytest.raises(FileNotFoundError, match="snapshot_steps"):
        snapshot_paths(tmp_path)


def test_emergence_measures_every_snapshot_per_block(tmp_path):
    run = write_run(tmp_path / "run", [0, 10])
    images = torch.randint(0, 256, (4, 3, 16, 16), dtype=torch.uint8)
    table = emergence(run, images, (0.5,) * 3, (0.25,) * 3)
    assert table["steps"] == [0, 10]
    depth = CONFIG["vit_kwargs"]["depth"]
    assert all(len(per_step) == depth for key in ("attention_distance", "nmi", "attention_entropy")
               for per_step in table[key])
    assert table["uniform_distance"] == pytest.approx(uniform_distance((4, 4), 4.0), abs=1e-4)
    assert all(0 <= v <= 1 + 1e-6 for per_step in table["attention_entropy"] for v in per_step)
    assert all(math.isfinite(v) for per_step in table["nmi"] for v in per_step)
