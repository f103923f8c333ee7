"""MoCo v3: InfoNCE by hand, symmetry, momentum encoder update and schedule, heads, training signal."""

import math

import pytest
import torch
import torch.distributed as dist
from torch import nn

from sslvit_lite.objectives import build_objective, infonce, momentum_at
from sslvit_lite.objectives.mocov3 import MoCoV3
from sslvit_lite.vit import build_vit

SMALL_HEADS = {"proj_hidden_dim": 64, "proj_dim": 32, "pred_hidden_dim": 64}


def tiny_vit():
    return build_vit("vit_tiny", img_size=16, patch_size=4, depth=2, embed_dim=32, num_heads=2)


def tiny_moco(**hparams):
    torch.manual_seed(0)
    return MoCoV3(tiny_vit(), **{**SMALL_HEADS, **hparams})


def test_infonce_hand_computed_2x2():
    q = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    k = torch.tensor([[2.0, 0.0], [1.0, 1.0]])  # normalised: (1, 0) and (1, 1)/√2
    tau = 0.5
    # logits/τ: row 0 = (1, 1/√2)/τ, label 0; row 1 = (0, 1/√2)/τ, label 1
    ce0 = math.log(1 + math.exp((1 / math.sqrt(2) - 1) / tau))
    ce1 = math.log(1 + math.exp((0 - 1 / math.sqrt(2)) / tau))
    expected = (ce0 + ce1) / 2 * (2 * tau)
    assert infonce(q, k, tau).item() == pytest.approx(expected, rel=1e-6)
    # scale invariance (L2 normalisation) and the perfect-alignment limit
    assert infonce(3 * q, k, tau).item() == pytest.approx(expected, rel=1e-6)
    assert infonce(q, q, 0.01).item() == pytest.approx(0.0, abs=1e-6)


def test_infonce_keys_get_no_gradient():
    q = torch.randn(4, 8, requires_grad=True)
    k = torch.randn(4, 8, requires_grad=True)
    infonce(q, k, 0.2).backward()
    assert q.grad is not None and k.grad is None


def test_infonce_gathers_keys_across_ranks(monkeypatch):
    """Rank 1 of 2 (simulated): negatives include rank 0's keys and the positives sit at offset rank·B.

    Summing the per-rank losses must give the single-process loss on the full batch.
    """
    torch.manual_seed(0)
    q, k = torch.randn(6, 5), torch.randn(6, 5)
    shards = (k[:3], k[3:])

    def all_gather(out, tensor):
        for i, shard in enumerate(shards):
            out[i].copy_(torch.nn.functional.normalize(shard, dim=1))

    losses = []
    for rank in (0, 1):
        monkeypatch.setattr(dist, "is_initialized", lambda: True)
        monkeypatch.setattr(dist, "get_world_size", lambda: 2)
        monkeypatch.setattr(dist, "get_rank", lambda rank=rank: rank)
        monkeypatch.setattr(dist, "all_gather", all_gather)
        losses.append(infonce(q[3 * rank : 3 * rank + 3], shards[rank], 0.2).item())
    monkeypatch.undo()
    assert sum(losses) / 2 == pytest.approx(infonce(q, k, 0.2).item(), rel=1e-5)
    assert losses[1] != pytest.approx(infonce(q[3:], k[3:], 0.2).item(), rel=1e-3)  # rank 0's keys were negatives


def test_momentum_schedule_endpoints_and_midpoint():
    assert momentum_at(0.0, 0.99) == pytest.approx(0.99)
    assert momentum_at(1.0, 0.99) == pytest.approx(1.0)
    assert momentum_at(0.5, 0.99) == pytest.approx(0.995)
    values = [momentum_at(t / 10, 0.9) for t in range(11)]
    assert values == sorted(values)
    with pytest.raises(ValueError, match="progress"):
        momentum_at(1.5, 0.99)


def test_momentum_update_is_exact_ema():
    moco = tiny_moco()
    with torch.no_grad():  # make the base differ from its momentum copy
        for p in list(moco.backbone.parameters()) + list(moco.cl.projector.parameters()):
            p.add_(torch.randn_like(p))
    before_k = [p.clone() for p in list(moco.cl.momentum_backbone.parameters()) + list(moco.cl.momentum_projector.parameters())]
    base = [p.clone() for p in list(moco.backbone.parameters()) + list(moco.cl.projector.parameters())]
    moco.after_step(0.3)
    m = momentum_at(0.3, 0.99)
    after_k = list(moco.cl.momentum_backbone.parameters()) + list(moco.cl.momentum_projector.parameters())
    assert len(after_k) == len(base) > 0
    for k_new, k_old, q in zip(after_k, before_k, base):
        torch.testing.assert_close(k_new, m * k_old + (1 - m) * q)
    assert moco.cl.momentum.item() == pytest.approx(m)


def test_momentum_encoder_is_frozen_copy_and_gets_no_gradient():
    moco = tiny_moco(stop_grad_conv1=False)
    for p_m, p_b in zip(moco.cl.momentum_backbone.parameters(), moco.backbone.parameters()):
        assert not p_m.requires_grad and torch.equal(p_m, p_b) and p_m is not p_b
    views = [torch.randn(4, 3, 16, 16) for _ in range(2)]
    moco(views)["loss"].backward()
    assert all(p.grad is None for p in moco.cl.momentum_backbone.parameters())
    assert all(p.grad is not None for p in moco.backbone.parameters())
    assert all(p.grad is not None for p in moco.cl.predictor.parameters())


def test_stop_grad_conv1_freezes_patch_projection():
    moco = tiny_moco(stop_grad_conv1=True)
    assert not moco.backbone.patch_embed.proj.weight.requires_grad
    assert not moco.backbone.patch_embed.proj.bias.requires_grad
    assert moco.backbone.blocks[0].attn.qkv.weight.requires_grad


def test_projector_and_predictor_layout():
    moco = tiny_moco()
    for mlp, num_linear, out_dim in ((moco.cl.projector, 3, 32), (moco.cl.predictor, 2, 32)):
        linears = [m for m in mlp if isinstance(m, nn.Linear)]
        bns = [m for m in mlp if isinstance(m, nn.BatchNorm1d)]
        assert len(linears) == num_linear and all(m.bias is None for m in linears)
        assert len(bns) == num_linear and all(bn.affine for bn in bns[:-1]) and not bns[-1].affine
        assert sum(isinstance(m, nn.ReLU) for m in mlp) == num_linear - 1
        assert linears[-1].out_features == out_dim
    assert moco.cl.projector[0].in_features == moco.backbone.num_features


def test_loss_is_symmetric_in_the_views():
    moco = tiny_moco()
    x1, x2 = torch.randn(6, 3, 16, 16), torch.randn(6, 3, 16, 16)
    a = moco([x1, x2])["loss"]
    b = moco([x2, x1])["loss"]
    torch.testing.assert_close(a, b)


def test_loss_falls_on_a_fixed_batch():
    moco = tiny_moco()
    torch.manual_seed(1)
    views = [torch.randn(8, 3, 16, 16) for _ in range(2)]
    optimizer = torch.optim.AdamW([p for p in moco.parameters() if p.requires_grad], lr=1e-3)
    losses = []
    for step in range(30):
        loss = moco(views)["loss"]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        moco.after_step(step / 30)
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


def test_forward_outputs_and_view_checks():
    moco = tiny_moco()
    out = moco([torch.randn(4, 3, 16, 16), torch.randn(4, 3, 16, 16)])
    assert set(out) == {"loss", "positive_cosine", "momentum"} and out["loss"].ndim == 0
    with pytest.raises(ValueError, match="2 view"):
        moco([torch.randn(4, 3, 16, 16)])
    with pytest.raises(ValueError, match="shape"):
        moco([torch.randn(4, 3, 32, 32)] * 2)


@pytest.mark.parametrize("bad", [{"tau": 0.0}, {"m0": 1.5}, {"proj_dim": 0}])
def test_bad_hparams_raise(bad):
    with pytest.raises(ValueError):
        build_objective("mocov3", tiny_vit(), **bad)
