"""The objective interface the training engine relies on, checked on every registered objective."""

import pytest
import torch
from torch import nn

from sslvit_lite.objectives import OBJECTIVES, Objective, build_objective
from sslvit_lite.vit import build_vit

TINY_HPARAMS = {
    "mocov3": {"proj_hidden_dim": 64, "proj_dim": 32, "pred_hidden_dim": 64},
    "simmim": {"mask_patch_size": 8},
    "mae": {"decoder_dim": 32, "decoder_depth": 2, "decoder_heads": 2},
    "hybrid": {"mask_patch_size": 8, "proj_hidden_dim": 64, "proj_dim": 32, "pred_hidden_dim": 64},
}
NUM_VIEWS = {"mocov3": 2, "simmim": 1, "mae": 1, "hybrid": 3}


def tiny_vit():
    return build_vit("vit_tiny", img_size=16, patch_size=4, depth=2, embed_dim=32, num_heads=2)


def test_registry_names():
    assert list(OBJECTIVES) == ["mocov3", "simmim", "mae", "hybrid"]


@pytest.mark.parametrize("name", list(OBJECTIVES))
def test_interface(name):
    backbone = tiny_vit()
    objective = build_objective(name, backbone, **TINY_HPARAMS[name])
    assert isinstance(objective, Objective) and objective.backbone is backbone
    assert objective.name == objective.recipe == name and objective.num_views == NUM_VIEWS[name]
    assert set(TINY_HPARAMS[name]) <= set(objective.DEFAULTS)
    out = objective([torch.randn(4, 3, 16, 16) for _ in range(objective.num_views)])
    assert "loss" in out and all(isinstance(v, torch.Tensor) and v.ndim == 0 for v in out.values())
    out["loss"].backward()
    trainable = [n for n, p in objective.named_parameters() if p.requires_grad]
    assert all(objective.get_parameter(n).grad is not None for n in trainable)
    frozen = [n for n, p in objective.named_parameters() if not p.requires_grad]
    assert all(n.startswith(("cl.momentum_", "backbone.patch_embed")) for n in frozen)
    objective.after_step(0.5)


def test_unknown_objective_lists_valid_names():
    with pytest.raises(ValueError, match="mocov3, simmim, mae, hybrid"):
        build_objective("simclr", tiny_vit())


@pytest.mark.parametrize("name", list(OBJECTIVES))
def test_unknown_hparam_lists_valid_ones(name):
    with pytest.raises(ValueError, match="valid"):
        build_objective(name, tiny_vit(), not_a_knob=1)


def test_backbone_must_be_a_timm_vit():
    with pytest.raises(TypeError, match="VisionTransformer"):
        build_objective("simmim", nn.Linear(3, 3))
