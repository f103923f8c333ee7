"""CL+MIM hybrid: λ = 0 and λ = 1 are exactly SimMIM and MoCo v3; in between, the weighted sum."""

import pytest
import torch

from sslvit_lite.objectives import build_objective
from sslvit_lite.objectives.hybrid import Hybrid
from sslvit_lite.objectives.mocov3 import MoCoV3
from sslvit_lite.objectives.simmim import SimMIM
from sslvit_lite.vit import build_vit

SMALL_HEADS = {"proj_hidden_dim": 64, "proj_dim": 32, "pred_hidden_dim": 64}


def tiny_vit():
    torch.manual_seed(0)
    return build_vit("vit_tiny", img_size=16, patch_size=4, depth=2, embed_dim=32, num_heads=2)


def views(n=3):
    torch.manual_seed(7)
    return [torch.randn(6, 3, 16, 16) for _ in range(n)]


def loss_and_grads(objective, inputs, seed=5):
    torch.manual_seed(seed)  # the same SimMIM mask for both objectives
    out = objective(inputs)
    out["loss"].backward()
    return out["loss"], {name: p.grad for name, p in objective.named_parameters() if p.requires_grad}


def assert_same(pure, hybrid, pure_views, hybrid_views):
    assert pure.state_dict().keys() == hybrid.state_dict().keys()
    hybrid.load_state_dict(pure.state_dict())
    loss_p, grads_p = loss_and_grads(pure, pure_views)
    loss_h, grads_h = loss_and_grads(hybrid, hybrid_views)
    assert torch.equal(loss_p, loss_h)
    assert grads_p.keys() == grads_h.keys()
    for name in grads_p:
        assert torch.equal(grads_p[name], grads_h[name]), name


def test_lambda_zero_is_exactly_simmim():
    x1, x2, x3 = views()
    pure = SimMIM(tiny_vit(), mask_patch_size=8)
    hybrid = Hybrid(tiny_vit(), lam=0.0, mask_patch_size=8, **SMALL_HEADS)
    assert hybrid.cl is None
    assert_same(pure, hybrid, [x1], [x1, x2, x3])


@pytest.mark.parametrize("stop_grad_conv1", [False, True])
def test_lambda_one_is_exactly_mocov3(stop_grad_conv1):
    x1, x2, x3 = views()
    pure = MoCoV3(tiny_vit(), stop_grad_conv1=stop_grad_conv1, **SMALL_HEADS)
    hybrid = Hybrid(tiny_vit(), lam=1.0, stop_grad_conv1=stop_grad_conv1, **SMALL_HEADS)
    assert hybrid.mim is None
    assert_same(pure, hybrid, [x2, x3], [x1, x2, x3])
    pure.after_step(0.25)
    hybrid.after_step(0.25)
    for (name, a), b in zip(pure.state_dict().items(), hybrid.state_dict().values()):
        assert torch.equal(a, b), name  # the momentum update is the same too


def test_intermediate_lambda_is_the_weighted_sum_on_one_backbone():
    hybrid = Hybrid(tiny_vit(), lam=0.3, **SMALL_HEADS)
    out = hybrid(views())
    expected = 0.7 * out["loss_simmim"] + 0.3 * out["loss_mocov3"]
    torch.testing.assert_close(out["loss"], expected)
    out["loss"].backward()
    assert hybrid.mim.mask_token.grad is not None and hybrid.cl.predictor[0].weight.grad is not None
    assert hybrid.backbone.patch_embed.proj.weight.grad is not None  # stop_grad_conv1 is off by default
    # one backbone: no copy of it outside the momentum encoder
    backbone_params = {id(p) for p in hybrid.backbone.parameters()}
    assert sum(id(p) in backbone_params for p in hybrid.parameters()) == len(backbone_params)


def test_loss_falls_on_a_fixed_batch():
    hybrid = Hybrid(tiny_vit(), lam=0.5, mask_patch_size=8, **SMALL_HEADS)
    inputs = views()
    optimizer = torch.optim.AdamW([p for p in hybrid.parameters() if p.requires_grad], lr=1e-3)
    losses = []
    for step in range(30):
        torch.manual_seed(1)
        loss = hybrid(inputs)["loss"]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        hybrid.after_step(step / 30)
        losses.append(loss.item())
    assert losses[-1] < 0.7 * losses[0]


def test_reconstruct_needs_the_simmim_branch():
    images = torch.randn(2, 3, 16, 16)
    assert Hybrid(tiny_vit(), lam=0.5, **SMALL_HEADS).reconstruct(images)["prediction"].shape == images.shape
    with pytest.raises(ValueError, match="lam = 1"):
        Hybrid(tiny_vit(), lam=1.0, **SMALL_HEADS).reconstruct(images)


@pytest.mark.parametrize("lam", [-0.1, 1.5])
def test_lambda_out_of_range_raises(lam):
    with pytest.raises(ValueError, match="lam"):
        build_objective("hybrid", tiny_vit(), lam=lam)


def test_hybrid_accepts_every_simmim_and_mocov3_hparam():
    assert set(SimMIM.DEFAULTS) | set(MoCoV3.DEFAULTS) | {"lam"} == set(Hybrid.DEFAULTS)
    hybrid = build_objective("hybrid", tiny_vit(), lam=0.5, mask_ratio=0.5, tau=0.1, m0=0.9)
    assert hybrid.mim.mask_ratio == 0.5 and hybrid.cl.tau == 0.1 and hybrid.cl.m0 == 0.9
