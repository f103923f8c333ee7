"""The one masked encoder of SimMIM and MAE: equal to timm's own forward, and to the encoders it replaced."""

import pytest
import torch

from sslvit_lite.objectives.masked_encoder import masked_encode
from sslvit_lite.objectives.masking import block_mask, token_shuffle
from sslvit_lite.vit import build_vit


@pytest.fixture(params=["learn", "sincos"])
def vit(request):
    torch.manual_seed(0)
    return build_vit("vit_tiny", img_size=16, patch_size=4, depth=2, embed_dim=32, num_heads=2,
                     pos_embed=request.param).eval()


def images(batch=3):
    return torch.randn(batch, 3, 16, 16, generator=torch.Generator().manual_seed(1))


def test_without_a_mask_it_is_timms_forward_features(vit):
    x = images()
    assert torch.allclose(masked_encode(vit, x), vit.forward_features(x), atol=1e-6)


def test_simmim_masking_equals_the_encoder_it_replaced(vit):
    # the SimMIM encoder before this module: mask tokens in, then timm's (private) _pos_embed and the blocks
    x, mask_token = images(), torch.randn(1, 1, vit.embed_dim)
    token_mask = block_mask(3, (4, 4), 2, 0.5)  # (B, 4, 4)
    embedded = vit.patch_embed(x)
    w = token_mask.reshape(3, -1, 1).float()
    reference = vit.norm(vit.blocks(vit.norm_pre(vit._pos_embed(embedded * (1 - w) + mask_token * w))))
    ours = masked_encode(vit, x, token_mask=token_mask, mask_token=mask_token)
    assert torch.allclose(ours, reference, atol=1e-6)
    # masked patches really are replaced: changing a masked patch's pixels changes nothing
    y = x.clone()
    row, col = map(int, token_mask[0].nonzero()[0])
    y[0, :, 4 * row : 4 * row + 4, 4 * col : 4 * col + 4] += 5.0
    assert torch.allclose(masked_encode(vit, y, token_mask=token_mask, mask_token=mask_token), ours, atol=1e-6)


def test_mae_visible_tokens_equal_the_encoder_it_replaced(vit):
    x = images()
    ids_keep, _, _ = token_shuffle(3, 16, 0.75)  # (B, 4)
    full = vit._pos_embed(vit.patch_embed(x))  # (B, 1 + 16, C)
    index = ids_keep.unsqueeze(-1).expand(-1, -1, full.shape[-1])
    kept = torch.cat([full[:, :1], full[:, 1:].gather(1, index)], dim=1)
    reference = vit.norm(vit.blocks(vit.norm_pre(kept)))
    ours = masked_encode(vit, x, ids_keep=ids_keep)
    assert ours.shape == (3, 1 + 4, vit.embed_dim) and torch.allclose(ours, reference, atol=1e-6)


def test_mask_token_and_mask_go_together(vit):
    with pytest.raises(ValueError, match="go together"):
        masked_encode(vit, images(), token_mask=torch.zeros(3, 4, 4, dtype=torch.bool))
