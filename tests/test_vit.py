import math

import pytest
import torch

from sslvit_lite.vit import ARCHS, build_vit, capture, count_hooks, patch_grid


def tiny_vit(**kwargs):
    torch.manual_seed(0)
    return build_vit("vit_tiny", img_size=16, patch_size=4, depth=3, embed_dim=32, num_heads=2, **kwargs).eval()


def manual_attention(block, x):
    """softmax(QKᵀ/√d) recomputed by hand from a timm block's weights. x: (B, N, C)."""
    attn = block.attn
    B, N, C = x.shape
    h = attn.num_heads
    qkv = torch.nn.functional.linear(block.norm1(x), attn.qkv.weight, attn.qkv.bias)  # (B, N, 3C)
    q, k, _ = qkv.reshape(B, N, 3, h, C // h).permute(2, 0, 3, 1, 4)  # each (B, h, N, d)
    return torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(C // h), dim=-1)  # (B, h, N, N)


def test_build_vit_shapes_and_grid():
    vit = build_vit("vit_tiny", img_size=32, patch_size=4)
    assert patch_grid(vit) == (8, 8)
    assert vit.embed_dim == 192 and len(vit.blocks) == 12
    out = vit(torch.randn(2, 3, 32, 32))
    assert out.shape == (2, 192)


@pytest.mark.parametrize(
    "kwargs, message",
    [({"arch": "vit_huge"}, "valid: " + ", ".join(ARCHS)), ({"img_size": 30, "patch_size": 4}, "multiple")],
)
def test_build_vit_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        build_vit(**kwargs)


def test_captured_attention_rows_sum_to_one_and_match_manual_softmax():
    vit = tiny_vit()
    images = torch.randn(3, 3, 16, 16)
    with capture(vit) as cap:
        vit(images)
    assert len(cap.attentions) == 3 and len(cap.tokens) == 7
    for i, (block, attn) in enumerate(zip(vit.blocks, cap.attentions)):
        assert attn.shape == (3, 2, 17, 17)  # (B, H, 1 + 16, 1 + 16)
        torch.testing.assert_close(attn.sum(-1), torch.ones(3, 2, 17))
        block_input = cap.tokens[2 * i]
        torch.testing.assert_close(attn, manual_attention(block, block_input), atol=1e-5, rtol=1e-5)


def test_token_layout_follows_the_official_zs():
    vit = tiny_vit()
    images = torch.randn(2, 3, 16, 16)
    with capture(vit) as cap:
        features = vit.forward_features(images)
    block = vit.blocks[0]
    x0 = cap.tokens[0]
    mid = x0 + block.attn(block.norm1(x0))
    torch.testing.assert_close(cap.tokens[1], mid, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(cap.tokens[2], mid + block.mlp(block.norm2(mid)), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(vit.norm(cap.block_outputs[-1]), features)
    assert len(cap.block_outputs) == 4 and len(cap.mid_block) == 3


def test_capture_does_not_change_outputs_and_removes_hooks():
    vit = tiny_vit()
    images = torch.randn(4, 3, 16, 16)
    hooks_before = count_hooks(vit)
    reference = vit(images)
    assert all(block.attn.fused_attn for block in vit.blocks) or not hasattr(vit.blocks[0].attn, "fused_attn")
    fused = [block.attn.fused_attn for block in vit.blocks]
    with capture(vit) as cap:
        captured = vit(images)
        assert not any(block.attn.fused_attn for block in vit.blocks)
    torch.testing.assert_close(captured, reference, atol=1e-5, rtol=1e-5)
    assert count_hooks(vit) == hooks_before
    assert [block.attn.fused_attn for block in vit.blocks] == fused
    assert cap.attentions[0].requires_grad is False


def test_capture_cleans_up_when_the_body_raises():
    vit = tiny_vit()
    hooks_before = count_hooks(vit)
    with pytest.raises(ZeroDivisionError):
        with capture(vit):
            vit(torch.randn(1, 3, 16, 16))
            1 / 0
    assert count_hooks(vit) == hooks_before


def test_reading_before_a_forward_pass_is_a_clear_error():
    vit = tiny_vit()
    with capture(vit) as cap:
        with pytest.raises(RuntimeError, match="run a forward pass"):
            cap.attentions


def test_sincos_position_embedding_is_fixed_and_zero_for_cls():
    vit = build_vit("vit_tiny", img_size=16, patch_size=4, pos_embed="sincos", depth=1, embed_dim=32, num_heads=2)
    assert not vit.pos_embed.requires_grad
    assert torch.equal(vit.pos_embed[0, 0], torch.zeros(32))
    # patch (row 0, col 1): first half of the channels encodes the column, sin(1·ω_0) = sin(1)
    assert torch.isclose(vit.pos_embed[0, 2, 0], torch.sin(torch.tensor(1.0)))
    with pytest.raises(ValueError, match="valid: learn, sincos"):
        build_vit(pos_embed="rope")


def _uniform_bound(weight: torch.Tensor) -> float:
    return float(weight.abs().max())


def test_official_inits_follow_the_official_code():
    C, p = 48, 4
    timm_vit, moco, mae = (build_vit("vit_tiny", img_size=16, patch_size=p, depth=2, embed_dim=C, num_heads=2,
                                     pos_embed="sincos", init=i).requires_grad_(False)
                           for i in ("timm", "mocov3", "mae"))
    # timm: truncated normal with std 0.02
    assert float(timm_vit.blocks[0].attn.qkv.weight.std()) == pytest.approx(0.02, rel=0.1)
    # MoCo v3: qkv as three C → C xavier matrices, other linears xavier on their own shape, zero biases
    qkv = moco.blocks[0].attn.qkv.weight  # (3C, C)
    assert _uniform_bound(qkv) <= math.sqrt(6 / (C + C)) and _uniform_bound(qkv) > 0.9 * math.sqrt(6 / (C + C))
    fc1 = moco.blocks[0].mlp.fc1.weight  # (4C, C)
    assert _uniform_bound(fc1) <= math.sqrt(6 / (5 * C)) and _uniform_bound(fc1) > 0.9 * math.sqrt(6 / (5 * C))
    assert moco.blocks[0].attn.qkv.bias.abs().max() == 0 and moco.blocks[1].mlp.fc2.bias.abs().max() == 0
    proj = moco.patch_embed.proj.weight  # (C, 3, p, p): uniform like a (3·p² → C) linear
    bound = math.sqrt(6 / (3 * p * p + C))
    assert _uniform_bound(proj) <= bound and _uniform_bound(proj) > 0.9 * bound
    assert moco.cls_token.std() < 1e-5
    # MAE: the fused qkv is one (3C, C) xavier matrix; [CLS] ~ N(0, 0.02)
    qkv = mae.blocks[0].attn.qkv.weight
    assert _uniform_bound(qkv) <= math.sqrt(6 / (4 * C)) and _uniform_bound(qkv) > 0.9 * math.sqrt(6 / (4 * C))
    assert _uniform_bound(mae.patch_embed.proj.weight) <= bound
    assert float(mae.cls_token.std()) == pytest.approx(0.02, rel=0.5)
    # the sin-cos position embedding survives every init
    for vit in (timm_vit, moco, mae):
        assert torch.equal(vit.pos_embed, timm_vit.pos_embed)
    with pytest.raises(ValueError, match="valid: timm, mocov3, mae"):
        build_vit("vit_tiny", img_size=16, patch_size=4, init="xavier")
