"""MAE: patch layout, norm_pix targets, sin-cos embedding, visible-only encoder, decoder states, loss."""

import math

import pytest
import torch

from sslvit_lite.objectives import build_objective
from sslvit_lite.objectives.mae import MAE, normalize_patches, patchify, unpatchify
from sslvit_lite.vit import sincos_pos_embed_2d
from sslvit_lite.vit import build_vit

SMALL_DECODER = {"decoder_dim": 32, "decoder_depth": 2, "decoder_heads": 2}


def tiny_vit():
    return build_vit("vit_tiny", img_size=16, patch_size=4, depth=2, embed_dim=32, num_heads=2)


def tiny_mae(**hparams):
    torch.manual_seed(0)
    return MAE(tiny_vit(), **{**SMALL_DECODER, **hparams})


def test_patchify_layout_and_roundtrip():
    images = torch.randn(2, 3, 4, 6)
    patches = patchify(images, 2)  # (2, 6, 12): 2×3 tokens of 2·2·3 values
    assert patches.shape == (2, 6, 12)
    # token 4 = row 1, col 1 → pixels [2:4, 2:4], values ordered (row, column, channel)
    torch.testing.assert_close(patches[1, 4], images[1, :, 2:4, 2:4].permute(1, 2, 0).flatten())
    torch.testing.assert_close(unpatchify(patches, 2, (2, 3)), images)


def test_norm_pix_target_hand_computed():
    patch = torch.tensor([[[1.0, 2.0, 3.0, 4.0]]])  # mean 2.5, unbiased var 5/3
    expected = (patch - 2.5) / math.sqrt(5 / 3 + 1e-6)
    torch.testing.assert_close(normalize_patches(patch), expected)
    mae = tiny_mae(norm_pix_loss=True)
    images = torch.randn(2, 3, 16, 16)
    target = mae.target(images)  # (2, 16, 48)
    torch.testing.assert_close(target.mean(-1), torch.zeros(2, 16), atol=1e-5, rtol=0)
    torch.testing.assert_close(target.var(-1), torch.ones(2, 16), atol=1e-4, rtol=0)
    assert torch.equal(tiny_mae(norm_pix_loss=False).target(images), patchify(images, 4))


def test_sincos_position_embedding():
    embed = sincos_pos_embed_2d(8, (3, 4), num_prefix_tokens=1)  # (1, 13, 8)
    assert embed.shape == (1, 13, 8)
    assert torch.equal(embed[0, 0], torch.zeros(8))  # prefix (CLS) slot
    # position (0, 0): sin(0) = 0, cos(0) = 1 in both halves (column, row)
    torch.testing.assert_close(embed[0, 1], torch.tensor([0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 1.0, 1.0]))
    # token at row 2, col 3: the column half holds sin/cos(3·ω), the row half sin/cos(2·ω), ω = (1, 1/100)
    omega = torch.tensor([1.0, 0.01])
    expected = torch.cat([(3 * omega).sin(), (3 * omega).cos(), (2 * omega).sin(), (2 * omega).cos()])
    torch.testing.assert_close(embed[0, 1 + 2 * 4 + 3], expected)
    assert len({tuple(row.tolist()) for row in embed[0, 1:]}) == 12  # every position is distinct
    with pytest.raises(ValueError, match="divisible by 4"):
        sincos_pos_embed_2d(6, (2, 2))


def test_decoder_position_embedding_is_fixed():
    mae = tiny_mae()
    assert "decoder_pos_embed" not in dict(mae.named_parameters())
    assert "decoder_pos_embed" in mae.state_dict()


def test_encoder_sees_only_visible_tokens():
    mae = tiny_mae().eval()
    images = torch.randn(2, 3, 16, 16)
    ids_keep, ids_restore, mask = mae.sample_shuffle(2, torch.device("cpu"))
    assert ids_keep.shape == (2, 4) and mask.sum().item() == 2 * 12  # 25 % of 16 tokens kept
    latent = mae.encode(images, ids_keep)  # (2, 1 + 4, 32)
    assert latent.shape == (2, 5, 32)
    masked_pixels = unpatchify(mask.unsqueeze(-1).expand(-1, -1, 16), 4, (4, 4), 1)  # (2, 1, 16, 16)
    changed = images + 5.0 * torch.randn_like(images) * masked_pixels  # only masked patches change
    torch.testing.assert_close(mae.encode(changed, ids_keep), latent)


def test_decoder_states_layout():
    mae = tiny_mae()
    images = torch.randn(2, 3, 16, 16)
    torch.manual_seed(3)
    states = mae.decoder_states(images)
    assert len(states) == 1 + 2 and all(s.shape == (2, 1 + 16, 32) for s in states)
    torch.manual_seed(3)  # same draw again: recompute the depth-0 state by hand
    ids_keep, ids_restore, mask = mae.sample_shuffle(2, torch.device("cpu"))
    embedded = mae.decoder_embed(mae.encode(images, ids_keep))  # (2, 1 + 4, 32)
    pos = mae.decoder_pos_embed[0]  # (17, 32)
    for b in range(2):
        for slot, token in enumerate(ids_keep[b].tolist()):  # visible tokens back at their image position
            torch.testing.assert_close(states[0][b, 1 + token], embedded[b, 1 + slot] + pos[1 + token])
        for token in torch.nonzero(mask[b]).flatten().tolist():  # mask tokens elsewhere
            torch.testing.assert_close(states[0][b, 1 + token], mae.mask_token[0, 0] + pos[1 + token])
    unmasked = mae.decoder_states(images, mask_ratio=0.0)[0]  # every token from the encoder
    assert not any(torch.allclose(unmasked[0, 1 + t], mae.mask_token[0, 0] + pos[1 + t]) for t in range(16))


def test_loss_counts_only_masked_patches():
    mae = tiny_mae()
    images = torch.randn(2, 3, 16, 16)
    mask = torch.zeros(2, 16)
    mask[:, :5] = 1.0
    prediction = mae.target(images).clone()
    prediction[:, 5:] += 100.0  # visible tokens: ignored
    assert mae.masked_mse(images, prediction, mask).item() == pytest.approx(0.0, abs=1e-10)
    prediction[:, :5] += 2.0  # masked tokens off by 2 everywhere → MSE 4
    assert mae.masked_mse(images, prediction, mask).item() == pytest.approx(4.0, rel=1e-6)


def test_loss_falls_on_a_fixed_batch():
    mae = tiny_mae()
    images = torch.randn(8, 3, 16, 16)
    optimizer = torch.optim.AdamW(mae.parameters(), lr=1e-3)
    losses = []
    for _ in range(30):
        torch.manual_seed(1)  # the same mask every step
        loss = mae([images])["loss"]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.8 * losses[0]


def test_reconstruct_composite_and_mask():
    mae = tiny_mae(norm_pix_loss=False)
    images = torch.randn(3, 3, 16, 16)
    out = mae.reconstruct(images)
    mask = out["mask"]  # (3, 1, 16, 16)
    assert out["prediction"].shape == images.shape
    assert mask.flatten(1).sum(1).tolist() == [12 * 16] * 3
    torch.testing.assert_close(out["composite"] * (1 - mask), images * (1 - mask))
    torch.testing.assert_close(out["composite"] * mask, out["prediction"] * mask)


def test_reconstruct_undoes_norm_pix_with_patch_statistics():
    """A perfect norm-pix prediction maps back to the input pixels."""
    mae = tiny_mae(norm_pix_loss=True)
    images = torch.randn(2, 3, 16, 16)
    mae.decode = lambda latent, ids_restore: mae.target(images)  # an oracle decoder
    torch.testing.assert_close(mae.reconstruct(images)["prediction"], images, atol=1e-4, rtol=0)


@pytest.mark.parametrize(
    "hparams,match",
    [({"decoder_dim": 30}, "divisible"), ({"mask_ratio": 1.0}, "mask_ratio"), ({"decoder_depth": 0}, "decoder_depth")],
)
def test_bad_hparams_raise(hparams, match):
    with pytest.raises(ValueError, match=match):
        build_objective("mae", tiny_vit(), **{**SMALL_DECODER, **hparams})
