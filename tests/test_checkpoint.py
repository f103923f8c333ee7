"""Checkpoints: atomic writes, clear errors for bad files, one constructor from a run's config."""

import pytest
import torch

from sslvit_lite.checkpoint import (CheckpointError, build_backbone, find_checkpoint, load_backbone, load_checkpoint,
                                    load_objective, save_atomic, training_log)
from sslvit_lite.objectives import build_objective
from sslvit_lite.presets import resolve

CONFIG = resolve("simmim", "smoke").to_dict()


def test_build_backbone_follows_the_config_and_the_seed():
    torch.manual_seed(3)
    a = build_backbone(CONFIG)
    torch.manual_seed(3)
    b = build_backbone(CONFIG)
    assert len(a.blocks) == CONFIG["vit_kwargs"]["depth"] and a.embed_dim == CONFIG["vit_kwargs"]["embed_dim"]
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))
    # the preset's initialisation (MoCo v3's): [CLS] ~ N(0, 1e-6), not timm's N(0, 0.02)
    assert CONFIG["vit_kwargs"]["init"] == "mocov3" and float(a.cls_token.detach().abs().max()) < 1e-4


def test_a_checkpoint_round_trips_backbone_and_objective(tmp_path):
    torch.manual_seed(0)
    objective = build_objective("simmim", build_backbone(CONFIG), **CONFIG["hparams"])
    path = save_atomic({"model": objective.state_dict(), "config": CONFIG, "step": 4}, tmp_path / "run" / "final.pt")
    assert not list(path.parent.glob(".*tmp*"))  # no temporary file left behind
    vit, info = load_backbone(path.parent)  # a run folder finds its final.pt
    assert info["step"] == 4 and torch.equal(vit.blocks[0].attn.qkv.weight, objective.backbone.blocks[0].attn.qkv.weight)
    assert isinstance(load_objective(path), type(objective))
    assert find_checkpoint(path.parent) == path and training_log(path) == []


def test_bad_files_raise_one_clear_error(tmp_path):
    with pytest.raises(CheckpointError, match="no checkpoint at"):
        load_checkpoint(tmp_path / "missing.pt")
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="corrupt, truncated"):
        load_checkpoint(corrupt)
    torch.save({"weights": 1}, tmp_path / "foreign.pt")
    with pytest.raises(CheckpointError, match="not an sslvit-lite checkpoint"):
        load_checkpoint(tmp_path / "foreign.pt")
    (tmp_path / "empty_run").mkdir()
    with pytest.raises(CheckpointError, match="neither final.pt nor last.pt"):
        find_checkpoint(tmp_path / "empty_run")
    slim = save_atomic({"model": {f"backbone.{k}": v for k, v in build_backbone(CONFIG).state_dict().items()},
                        "config": CONFIG}, tmp_path / "slim.pt")
    with pytest.raises(CheckpointError, match="does not hold the whole simmim objective"):
        load_objective(slim)
