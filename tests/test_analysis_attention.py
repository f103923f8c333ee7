"""Attention metrics (Sec. 2, Fig 2–4): analytic anchors, loop references, invariances."""

import math

import numpy as np
import pytest
import torch

from sslvit_lite.analysis.attention import (
    attention_entropy,
    attention_nmi,
    drop_prefix,
    head_jsd,
    head_map_jsd,
    mean_attention_distance,
    mean_pairwise_jsd,
    patch_distances,
    patch_index,
    query_jsd,
    query_map,
)


def uniform_patches(batch=1, heads=2, side=14):
    p = side * side
    return torch.full((batch, heads, p, p), 1.0 / p)


def identity_patches(batch=1, heads=2, side=14):
    p = side * side
    return torch.eye(p).expand(batch, heads, p, p).clone()


def random_attention(batch, heads, n, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    logits = 3 * torch.randn(batch, heads, n, n, generator=g, dtype=dtype)
    return logits.softmax(dim=-1)


def loop_distance(a, side, px, eps=1e-32):
    a = a.numpy() + eps
    a = a / a.sum(-1, keepdims=True)
    b_, h_, p, _ = a.shape
    out = np.zeros((b_, h_))
    for b in range(b_):
        for h in range(h_):
            total = 0.0
            for q in range(p):
                for k in range(p):
                    d = px * math.hypot(q // side - k // side, q % side - k % side)
                    total += a[b, h, q, k] * d
            out[b, h] = total / p
    return out


def loop_nmi(a, eps=1e-8):
    a = a.numpy() + eps
    a = a / a.sum(-1, keepdims=True)
    b_, h_, n, _ = a.shape
    out = np.zeros((b_, h_))
    for b in range(b_):
        for h in range(h_):
            pk = [sum(a[b, h, q, k] / n for q in range(n)) for k in range(n)]
            mi = sum(a[b, h, q, k] / n * math.log(a[b, h, q, k] / pk[k]) for q in range(n) for k in range(n))
            hk = -sum(p * math.log(p) for p in pk)
            out[b, h] = mi / math.sqrt(math.log(n) * hk)
    return out


def loop_jsd(rows):
    def entropy(p):
        return -sum(x * math.log2(x) for x in p if x > 0)

    m = len(rows)
    total = 0.0
    for i in range(m):
        for j in range(m):
            if i != j:
                mix = [(x + y) / 2 for x, y in zip(rows[i], rows[j])]
                total += entropy(mix) - (entropy(rows[i]) + entropy(rows[j])) / 2
    return total / (m * (m - 1))


# ------------------------------------------------------------------ attention distance


def test_uniform_attention_distance_is_116_5_px_on_14x14_with_16px_patches():
    d = mean_attention_distance(uniform_patches(), (14, 14), 16)
    # Hand computation: mean over all 196² ordered patch pairs of 16·‖Δgrid‖₂.
    r, c = np.divmod(np.arange(196), 14)
    expected = (16 * np.hypot(r[:, None] - r[None], c[:, None] - c[None])).mean()
    assert expected == pytest.approx(116.49, abs=0.01)
    assert torch.allclose(d, torch.full_like(d, expected), atol=0.1)
    assert d.shape == (1, 2)


def test_identity_attention_distance_is_zero():
    d = mean_attention_distance(identity_patches(), (14, 14), 16)
    assert torch.allclose(d, torch.zeros_like(d), atol=1e-6)


def test_attention_to_the_farthest_corner_gives_the_maximum_distance():
    a = torch.zeros(1, 1, 196, 196)
    a[0, 0, 0, 195] = 1.0  # query (0, 0) looks at (13, 13); the other queries look at themselves
    a[0, 0, 1:, :] = torch.eye(196)[1:]
    d = mean_attention_distance(a, (14, 14), 16)
    assert d.item() == pytest.approx(16 * math.sqrt(338) / 196, rel=1e-5)


def test_attention_distance_matches_loop_reference_on_random_attention():
    a = random_attention(2, 3, 1 + 16)
    patches = a[:, :, 1:, 1:]
    ours = mean_attention_distance(patches, (4, 4), 4)
    assert np.allclose(ours.numpy(), loop_distance(patches, 4, 4), atol=1e-10)


def test_attention_distance_handles_non_square_grids_row_major():
    a = random_attention(1, 2, 6)  # grid 2 rows × 3 cols, no prefix
    ours = mean_attention_distance(a, (2, 3), 1.0)
    dist = torch.tensor([[math.hypot(q // 3 - k // 3, q % 3 - k % 3) for k in range(6)] for q in range(6)], dtype=a.dtype)
    assert torch.allclose(ours, (a * dist).sum(-1).mean(-1))


def test_patch_distances_symmetric_zero_diagonal():
    d = patch_distances((3, 5), 2.0)
    assert torch.allclose(d, d.T) and torch.all(d.diagonal() == 0)
    assert d[0, 14].item() == pytest.approx(2 * math.hypot(2, 4))


# ------------------------------------------------------------------ NMI


def test_nmi_identity_is_one_and_uniform_is_zero():
    assert torch.allclose(attention_nmi(identity_patches()), torch.ones(1, 2), atol=1e-4)
    assert torch.allclose(attention_nmi(uniform_patches()), torch.zeros(1, 2), atol=1e-6)


def test_nmi_is_zero_when_all_queries_share_one_distribution():
    g = torch.Generator().manual_seed(1)
    row = torch.rand(49, generator=g, dtype=torch.float64).softmax(-1)
    a = row.expand(1, 1, 49, 49)
    assert attention_nmi(a).abs().item() < 1e-10


def test_nmi_matches_loop_reference_on_random_attention():
    a = random_attention(2, 2, 10)[:, :, 1:, 1:]
    assert np.allclose(attention_nmi(a).numpy(), loop_nmi(a), atol=1e-10)


def test_nmi_is_between_zero_and_one():
    nmi = attention_nmi(random_attention(3, 4, 17, seed=3)[:, :, 1:, 1:])
    assert torch.all(nmi > 0) and torch.all(nmi < 1)


# ------------------------------------------------------------------ prefix handling, maps


def test_drop_prefix_removes_cls_and_renormalises():
    a = random_attention(2, 3, 1 + 9)
    p = drop_prefix(a, 1)
    assert p.shape == (2, 3, 9, 9)
    assert torch.allclose(p.sum(-1), torch.ones(2, 3, 9, dtype=p.dtype))
    assert torch.allclose(p, a[:, :, 1:, 1:] / a[:, :, 1:, 1:].sum(-1, keepdim=True))


def test_drop_prefix_eps_rescues_rows_that_only_attend_to_cls():
    a = torch.zeros(1, 1, 5, 5)
    a[..., 0] = 1.0  # every query attends only to CLS
    p = drop_prefix(a, 1, eps=1e-32)
    assert torch.allclose(p, torch.full((1, 1, 4, 4), 0.25))


def test_query_map_is_the_renormalised_row_on_the_grid():
    a = random_attention(2, 2, 1 + 12)
    q = patch_index(2, 1, (3, 4))
    assert q == 9
    m = query_map(a, q, (3, 4))
    assert m.shape == (2, 2, 3, 4)
    row = a[:, :, 1 + q, 1:] / a[:, :, 1 + q, 1:].sum(-1, keepdim=True)
    assert torch.allclose(m.reshape(2, 2, 12), row)
    assert patch_index(8, 3, (14, 14)) == 115  # the official notebook's query


def test_half_precision_input_is_upcast():
    a = random_attention(1, 2, 17, dtype=torch.float32)[:, :, 1:, 1:]
    half = mean_attention_distance(a.half(), (4, 4), 4)
    assert half.dtype == torch.float32
    assert torch.allclose(half, mean_attention_distance(a, (4, 4), 4), rtol=1e-2)


# ------------------------------------------------------------------ homogeneity (JSD)


def test_query_jsd_uniform_zero_identity_one_bit():
    assert torch.allclose(query_jsd(uniform_patches(side=5)), torch.zeros(1, 2), atol=1e-6)
    assert torch.allclose(query_jsd(identity_patches(side=5)), torch.ones(1, 2), atol=1e-5)


def test_head_jsd_zero_for_identical_heads_and_one_for_disjoint_heads():
    assert torch.allclose(head_jsd(uniform_patches(heads=3, side=4)), torch.zeros(1), atol=1e-6)
    a = torch.zeros(1, 2, 4, 4)
    a[0, 0, :, 0] = 1.0  # head 0: everyone looks at patch 0
    a[0, 1, :, 3] = 1.0  # head 1: everyone looks at patch 3
    assert head_jsd(a, eps=0.0).item() == pytest.approx(1.0)
    assert head_map_jsd(a, eps=0.0).item() == pytest.approx(1.0)
    assert query_jsd(a, eps=0.0).abs().max().item() < 1e-6  # each head is homogeneous across queries


def test_head_jsd_compares_heads_query_by_query_not_their_averaged_maps():
    # two local heads: head 0 attends to the query itself, head 1 to the next patch. From every query the
    # heads look at different places (1 bit), but averaged over queries both maps are uniform (0 bits).
    p = 9
    a = torch.zeros(1, 2, p, p)
    a[0, 0] = torch.eye(p)
    a[0, 1] = torch.eye(p).roll(1, dims=1)
    assert head_jsd(a, eps=0.0).item() == pytest.approx(1.0)
    assert head_map_jsd(a, eps=0.0).item() == pytest.approx(0.0, abs=1e-6)
    same = torch.zeros(1, 2, p, p)
    same[0, :] = torch.eye(p)  # two identical local heads
    assert head_jsd(same, eps=0.0).item() == pytest.approx(0.0, abs=1e-6)


def test_jsd_matches_loop_reference():
    a = random_attention(1, 2, 7, seed=5)
    ours = query_jsd(a, eps=0.0)
    for h in range(2):
        assert ours[0, h].item() == pytest.approx(loop_jsd(a[0, h].tolist()), abs=1e-10)
    mean_maps = a.mean(dim=-2)[0]
    assert head_map_jsd(a, eps=0.0).item() == pytest.approx(loop_jsd(mean_maps.tolist()), abs=1e-10)
    per_query = [loop_jsd(a[0, :, q].tolist()) for q in range(7)]
    assert head_jsd(a, eps=0.0).item() == pytest.approx(sum(per_query) / 7, abs=1e-10)


def test_jsd_chunking_gives_the_same_result(monkeypatch):
    import sslvit_lite.analysis.attention as attention

    a = random_attention(3, 2, 10, seed=2)
    full = query_jsd(a)
    monkeypatch.setattr(attention, "_JSD_CHUNK_ELEMENTS", 1)  # one (b, h) at a time
    assert torch.allclose(query_jsd(a), full)


# ------------------------------------------------------------------ batch structure, errors


@pytest.mark.parametrize(
    "metric",
    [
        lambda a: mean_attention_distance(a, (4, 4), 4),
        attention_nmi,
        query_jsd,
        lambda a: head_jsd(a).unsqueeze(-1),
    ],
)
def test_metrics_are_equivariant_to_permuting_images(metric):
    a = random_attention(4, 3, 16, seed=7)
    perm = torch.tensor([2, 0, 3, 1])
    assert torch.allclose(metric(a)[perm], metric(a[perm]))


def test_metrics_are_per_image_independent_of_batch_mates():
    a = random_attention(3, 2, 16, seed=8)
    assert torch.allclose(attention_nmi(a)[1:2], attention_nmi(a[1:2]))


def test_bad_inputs_raise_clear_errors():
    with pytest.raises(ValueError, match="grid"):
        mean_attention_distance(uniform_patches(side=4), (3, 5), 16)
    with pytest.raises(ValueError, match=r"\(B, H, N, N\)"):
        attention_nmi(torch.rand(2, 16, 16))
    with pytest.raises(ValueError, match="num_prefix"):
        drop_prefix(torch.rand(1, 1, 4, 4), 4)
    with pytest.raises(ValueError, match="query_index"):
        query_map(random_attention(1, 1, 5), 4, (2, 2))
    with pytest.raises(ValueError, match="2 heads"):
        head_jsd(uniform_patches(heads=1, side=3))
    with pytest.raises(ValueError, match="M ≥ 2"):
        mean_pairwise_jsd(torch.ones(3, 1, 4))


# ------------------------------------------------------------------ entropy (collapse vs untrained)


def test_entropy_is_one_for_uniform_and_zero_for_identity():
    assert torch.allclose(attention_entropy(uniform_patches()), torch.ones(1, 2), atol=1e-6)
    assert torch.allclose(attention_entropy(identity_patches()), torch.zeros(1, 2), atol=1e-4)


def test_entropy_tells_collapse_from_uniform_where_nmi_cannot():
    """All queries on the same two keys: NMI 0 like uniform attention, but entropy log 2 / log P."""
    p = 49
    row = torch.zeros(p, dtype=torch.float64)
    row[[3, 30]] = 0.5
    collapsed = row.expand(1, 1, p, p)
    assert attention_nmi(collapsed).abs().item() < 1e-6
    assert attention_entropy(collapsed).item() == pytest.approx(math.log(2) / math.log(p), abs=1e-5)


def test_entropy_matches_loop_reference():
    a = random_attention(2, 3, 10, seed=4)[:, :, 1:, 1:]
    a = a / a.sum(-1, keepdim=True)
    ref = np.zeros((2, 3))
    for b in range(2):
        for h in range(3):
            rows = [-(r * np.log(r)).sum() for r in a[b, h].numpy()]
            ref[b, h] = np.mean(rows) / np.log(a.shape[-1])
    assert np.allclose(attention_entropy(a).numpy(), ref, atol=1e-6)
