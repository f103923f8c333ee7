"""Masks for MIM: exact counts (many seeds), block structure, MAE shuffle bookkeeping."""

import math

import pytest
import torch

from sslvit_lite.objectives.masking import block_mask, masked_count, token_shuffle


def test_masked_count_is_ceil_without_float_noise():
    assert masked_count(49, 0.6) == 30  # SimMIM at 224 px: ⌈29.4⌉
    assert masked_count(16, 0.6) == 10  # SimMIM at 32 px with 8 px mask patches
    assert masked_count(64, 0.75) == 48  # MAE at 32 px / 4 px patches
    assert 100 * 0.07 > 7  # the float product is 7.000000000000001 …
    assert masked_count(100, 0.07) == 7  # … but the count is not rounded up to 8
    assert masked_count(10, 0.0) == 0


@pytest.mark.parametrize("ratio", [-0.1, 1.0, 1.5])
def test_masked_count_rejects_bad_ratio(ratio):
    with pytest.raises(ValueError, match="ratio"):
        masked_count(10, ratio)


@pytest.mark.parametrize("ratio", [0.1, 0.4, 0.6, 0.75])
def test_block_mask_exact_count_and_blocks_over_seeds(ratio):
    grid, block = (8, 8), 2  # 32 px image, 4 px patches, 8 px mask patches
    expected = math.ceil(16 * ratio)
    for seed in range(50):
        mask = block_mask(4, grid, block, ratio, generator=torch.Generator().manual_seed(seed))  # (4, 8, 8)
        assert mask.dtype == torch.bool and mask.shape == (4, 8, 8)
        coarse = mask[:, ::block, ::block]  # (4, 4, 4): one entry per mask patch
        # every 2×2 token block is constant: the mask is the coarse mask upsampled
        assert torch.equal(mask, coarse.repeat_interleave(block, 1).repeat_interleave(block, 2))
        assert coarse.flatten(1).sum(1).tolist() == [expected] * 4
        assert mask.flatten(1).sum(1).tolist() == [expected * block * block] * 4


def test_block_mask_rectangular_grid_and_varies_per_image():
    mask = block_mask(64, (4, 6), 2, 0.5, generator=torch.Generator().manual_seed(0))  # (64, 4, 6)
    assert mask.shape == (64, 4, 6)
    assert mask.flatten(1).sum(1).eq(3 * 4).all()  # ⌈6·0.5⌉ = 3 blocks of 2×2 tokens
    assert len({tuple(m.flatten().tolist()) for m in mask}) > 1  # a fresh draw per image


def test_block_mask_rejects_grid_not_multiple_of_block():
    with pytest.raises(ValueError, match="multiple"):
        block_mask(1, (6, 6), 4, 0.5)


@pytest.mark.parametrize("num_tokens,ratio", [(64, 0.75), (16, 0.75), (49, 0.6), (10, 0.0)])
def test_token_shuffle_exact_count_and_restore(num_tokens, ratio):
    num_masked = math.ceil(num_tokens * ratio)
    for seed in range(50):
        ids_keep, ids_restore, mask = token_shuffle(3, num_tokens, ratio, generator=torch.Generator().manual_seed(seed))
        assert ids_keep.shape == (3, num_tokens - num_masked)
        assert mask.sum(1).tolist() == [num_masked] * 3
        for b in range(3):
            # kept tokens are exactly the unmasked ones, each once
            assert sorted(ids_keep[b].tolist()) == torch.nonzero(mask[b] == 0).flatten().tolist()
        # ids_restore inverts the shuffle: shuffled tokens gathered by ids_restore are in image order again
        ids_shuffle = ids_restore.argsort(1)  # (3, L)
        assert torch.equal(ids_shuffle[:, : ids_keep.shape[1]], ids_keep)
        assert torch.equal(ids_shuffle.gather(1, ids_restore), torch.arange(num_tokens).expand(3, -1))
