"""SimMIM: masked L1 by hand, mask-token substitution, linear decoder locality, masks, training signal."""

import pytest
import torch

from sslvit_lite.objectives import build_objective
from sslvit_lite.objectives.simmim import SimMIM, masked_l1, pixel_mask
from sslvit_lite.vit import build_vit


def tiny_vit(img_size=16, **kwargs):
    return build_vit("vit_tiny", img_size=img_size, patch_size=4, depth=2, embed_dim=32, num_heads=2, **kwargs)


def tiny_simmim(**hparams):
    torch.manual_seed(0)
    return SimMIM(tiny_vit(), **hparams)


def test_masked_l1_hand_computed():
    images = torch.zeros(1, 3, 2, 2)
    prediction = torch.full((1, 3, 2, 2), 100.0)  # visible pixels are badly predicted: must not count
    prediction[0, :, 0, 0] = torch.tensor([1.0, -2.0, 3.0])  # the one masked pixel
    mask = torch.tensor([[[[1.0, 0.0], [0.0, 0.0]]]])  # (1, 1, 2, 2)
    # Σ|x − x̂|·mask / (Σmask + 1e-5) / 3 = (1 + 2 + 3) / (1 + 1e-5) / 3
    assert masked_l1(images, prediction, mask).item() == pytest.approx(6 / (1 + 1e-5) / 3, rel=1e-6)


def test_masked_l1_gradient_only_on_masked_pixels():
    images = torch.randn(2, 3, 8, 8)
    prediction = torch.randn(2, 3, 8, 8, requires_grad=True)
    token_mask = torch.zeros(2, 2, 2, dtype=torch.bool)
    token_mask[:, 0, 1] = True
    mask = pixel_mask(token_mask, 4)  # (2, 1, 8, 8)
    assert mask.sum().item() == 2 * 16
    masked_l1(images, prediction, mask).backward()
    assert (prediction.grad * (1 - mask)).abs().max().item() == 0
    masked_grad = prediction.grad.permute(1, 0, 2, 3)[:, mask[:, 0].bool()]  # (3, 32)
    assert masked_grad.abs().min().item() > 0


def test_encoder_input_has_mask_token_exactly_at_masked_tokens():
    simmim = tiny_simmim()
    backbone = simmim.backbone
    images = torch.randn(2, 3, 16, 16)
    token_mask = torch.zeros(2, 4, 4, dtype=torch.bool)
    token_mask[0, 1, 2] = True  # token 6 of image 0
    seen = {}
    handle = backbone.blocks[0].register_forward_pre_hook(lambda _m, args: seen.setdefault("x", args[0]))
    simmim.mim.encode(backbone, images, token_mask)
    handle.remove()
    x = seen["x"]  # (2, 1 + 16, 32): CLS + patches, position embedding added
    pos = backbone.pos_embed[0]  # (17, 32)
    patches = backbone.patch_embed(images)  # (2, 16, 32)
    torch.testing.assert_close(x[0, 1 + 6], simmim.mim.mask_token[0, 0] + pos[1 + 6])
    keep = [i for i in range(16) if i != 6]
    torch.testing.assert_close(x[0, 1:][keep], patches[0, keep] + pos[1:][keep])
    torch.testing.assert_close(x[1, 1:], patches[1] + pos[1:])
    torch.testing.assert_close(x[:, 0], (backbone.cls_token[0, 0] + pos[0]).expand(2, -1))


def test_unmasked_encoding_is_the_plain_timm_forward():
    simmim = tiny_simmim().eval()
    images = torch.randn(2, 3, 16, 16)
    encoded = simmim.mim.encode(simmim.backbone, images, torch.zeros(2, 4, 4, dtype=torch.bool))  # (2, 32, 4, 4)
    tokens = simmim.backbone.forward_features(images)[:, 1:]  # (2, 16, 32)
    torch.testing.assert_close(encoded.flatten(2).transpose(1, 2), tokens)


def test_linear_decoder_is_local_to_each_token():
    simmim = tiny_simmim()
    features = torch.randn(1, 32, 4, 4)
    bumped = features.clone()
    bumped[0, :, 2, 1] += 1.0  # change only token (row 2, col 1)
    diff = (simmim.mim.decoder(bumped) - simmim.mim.decoder(features)).abs().sum(1)[0]  # (16, 16)
    changed = diff > 0
    assert changed[8:12, 4:8].all() and changed.sum().item() == 16  # exactly its 4×4 px patch


def test_training_mask_counts_at_cifar_scale():
    simmim = SimMIM(tiny_vit(img_size=32))  # 8×8 tokens; 8 px mask patches = 2×2 tokens, 16 of them
    for _ in range(20):
        token_mask = simmim.mim.sample_mask(5, torch.device("cpu"))  # (5, 8, 8)
        assert token_mask.flatten(1).sum(1).tolist() == [40] * 5  # ⌈16·0.6⌉ = 10 blocks × 4 tokens


def test_reconstruct_composite_and_shapes():
    simmim = tiny_simmim()
    images = torch.randn(3, 3, 16, 16)
    out = simmim.reconstruct(images)
    assert out["prediction"].shape == images.shape and out["mask"].shape == (3, 1, 16, 16)
    mask = out["mask"]
    assert mask.flatten(1).sum(1).tolist() == [3 * 64] * 3  # ⌈4·0.6⌉ = 3 of 4 mask patches of 8×8 px
    torch.testing.assert_close(out["composite"] * (1 - mask), images * (1 - mask))
    torch.testing.assert_close(out["composite"] * mask, out["prediction"] * mask)


def test_loss_falls_on_a_fixed_batch():
    simmim = tiny_simmim()
    torch.manual_seed(1)
    images = torch.randn(8, 3, 16, 16)
    token_mask = simmim.mim.sample_mask(8, torch.device("cpu"))
    optimizer = torch.optim.AdamW(simmim.parameters(), lr=1e-3)
    losses = []
    for _ in range(30):
        loss = simmim.mim.loss(simmim.backbone, images, token_mask)["loss"]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.85 * losses[0]
    assert set(simmim([images])) == {"loss"}


@pytest.mark.parametrize(
    "hparams,match",
    [({"mask_patch_size": 6}, "multiple"), ({"mask_patch_size": 32}, "divide"), ({"mask_ratio": 0.0}, "mask_ratio")],
)
def test_bad_hparams_raise(hparams, match):
    with pytest.raises(ValueError, match=match):
        build_objective("simmim", tiny_vit(), **hparams)


def test_unknown_hparam_lists_valid_ones():
    with pytest.raises(ValueError, match="mask_patch_size"):
        build_objective("simmim", tiny_vit(), mask_size=8)


def test_patch_dropout_backbone_is_rejected():
    with pytest.raises(ValueError, match="patch_drop_rate"):
        SimMIM(tiny_vit(patch_drop_rate=0.5))
