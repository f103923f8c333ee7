"""The attention explorer: maps on hand-made attention, agreement with capture, validation, widget wiring."""

import base64
import json
import re

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pytest
import torch

from sslvit_lite import explorer as ex
from sslvit_lite.analysis.attention import query_map
from sslvit_lite.data import CIFAR10_MEAN, CIFAR10_STD
from sslvit_lite.vit import build_vit, capture, model_input

GRID = (3, 4)  # 12 patches, rectangular on purpose (row-major indexing must hold)
P = GRID[0] * GRID[1]


def identity_attention(n=2, heads=2, prefix=1):
    """Each token attends to itself only: (n, heads, T, T)."""
    t = prefix + P
    return torch.eye(t).expand(n, heads, t, t).clone()


def images(n=2, size=12):
    return torch.randint(0, 256, (n, 3, size, size), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))


def tiny_vit(seed=0, img_size=16):
    torch.manual_seed(seed)
    return build_vit("vit_tiny", img_size=img_size, patch_size=4, depth=2, embed_dim=32, num_heads=2).eval()


def test_identity_attention_gives_a_one_hot_map_at_the_query():
    explorer = ex.AttentionExplorer({"cl": [identity_attention()] * 2}, images(), GRID)
    m = explorer.attention_map("cl", image=1, row=2, col=1, block=2, head=0)
    expected = torch.zeros(GRID)
    expected[2, 1] = 1.0
    assert torch.equal(m, expected)


def test_cls_is_dropped_and_rows_renormalised():
    t = 1 + P
    attn = torch.full((1, 1, t, t), 0.5 / P)
    attn[..., 0] = 0.5  # half the mass on CLS, the rest uniform over patches
    explorer = ex.AttentionExplorer({"m": [attn]}, images(1), GRID)
    m = explorer.attention_map("m", 0, 0, 0, 1)
    assert torch.allclose(m, torch.full(GRID, 1 / P))


def test_mean_over_heads_is_the_mean_of_the_head_maps():
    attn = torch.softmax(torch.randn(2, 3, 1 + P, 1 + P, generator=torch.Generator().manual_seed(1)), dim=-1)
    explorer = ex.AttentionExplorer({"m": [attn]}, images(), GRID)
    heads = torch.stack([explorer.attention_map("m", 1, 1, 3, 1, h) for h in range(3)])  # (3, R, C)
    mean = explorer.attention_map("m", 1, 1, 3, 1, None)
    assert torch.allclose(mean, heads.mean(0))
    assert torch.isclose(mean.sum(), torch.tensor(1.0))


def test_from_models_matches_capture_and_resizes_images():
    vit = tiny_vit()
    pics = images(3, size=32)  # twice the model's 16 px: resized on the way in
    explorer = ex.AttentionExplorer.from_models({"a": vit, "b": tiny_vit(1)}, pics, CIFAR10_MEAN, CIFAR10_STD, batch_size=2)
    assert explorer.grid == (4, 4) and explorer.num_blocks == 2 and explorer.num_heads == 2
    with torch.no_grad(), capture(vit) as cap:
        vit(model_input(vit, pics, CIFAR10_MEAN, CIFAR10_STD))
    direct = query_map(cap.attentions[1], 4 * 1 + 2, (4, 4))[2, 0]  # image 2, head 0, query (1, 2)
    assert torch.allclose(explorer.attention_map("a", 2, 1, 2, 2, 0), direct, atol=1e-6)
    assert not torch.allclose(explorer.attention_map("b", 2, 1, 2, 2, 0), direct, atol=1e-4)


def test_record_attentions_restores_training_mode():
    vit = tiny_vit().train()
    att = ex.record_attentions(vit, images(2, 16), CIFAR10_MEAN, CIFAR10_STD)
    assert vit.training and len(att) == 2 and att[0].shape == (2, 2, 17, 17)


@pytest.mark.parametrize("view, match", [
    (dict(image=2, row=0, col=0, block=1), r"image must be in 0\.\.1"),
    (dict(image=0, row=0, col=0, block=0), r"block must be in 1\.\.2"),
    (dict(image=0, row=0, col=0, block=1, head=2), r"head must be None .* or in 0\.\.1"),
    (dict(image=0, row=3, col=0, block=1), r"outside the grid 3×4"),
])
def test_bad_views_raise_naming_the_valid_range(view, match):
    explorer = ex.AttentionExplorer({"m": [identity_attention()] * 2}, images(), GRID)
    with pytest.raises(ValueError, match=match):
        explorer.attention_map("m", **view)
    with pytest.raises(ValueError, match="unknown model 'x'; valid: m"):
        explorer.attention_map("x", 0, 0, 0, 1)


def test_models_that_cannot_be_compared_are_refused():
    with pytest.raises(ValueError, match="share blocks, heads and tokens"):
        ex.AttentionExplorer({"a": [identity_attention()] * 2, "b": [identity_attention()] * 3}, images(), GRID)
    with pytest.raises(ValueError, match="2 images but attentions for 3"):
        ex.AttentionExplorer({"a": [identity_attention(n=3)]}, images(), GRID)
    with pytest.raises(ValueError, match="grid 4×4"):
        ex.AttentionExplorer({"a": [identity_attention()]}, images(), (4, 4))
    with pytest.raises(ValueError, match="share the patch grid"):
        ex.AttentionExplorer.from_models({"a": tiny_vit(), "b": tiny_vit(img_size=32)}, images(1, 16), CIFAR10_MEAN, CIFAR10_STD)


def test_figure_draws_the_query_box_on_the_image_in_pixels_with_titles_and_caption():
    explorer = ex.AttentionExplorer({"cl": [identity_attention()], "mim": [identity_attention()]}, images(size=12), GRID,
                                    titles={"cl": "CL (MoCo v3)"})
    fig = explorer.figure(image=0, row=2, col=3, block=1, caption="model A: saved run\nanalysis: commit abc")
    try:
        assert len(fig.axes) == 3
        box = fig.axes[0].patches[0]  # 12 px image, 3×4 grid: patches are 4 px tall, 3 px wide
        assert box.get_xy() == (3 * 3 - 0.5, 2 * 4 - 0.5) and (box.get_width(), box.get_height()) == (3, 4)
        assert fig.axes[1].get_title().startswith("CL (MoCo v3)\nblock 1") and fig.axes[2].get_title().startswith("mim")
        assert [t.get_text() for t in fig.texts] == ["model A: saved run\nanalysis: commit abc"]
    finally:
        plt.close(fig)


def test_widget_controls_span_the_data_and_redraw_on_change():
    pytest.importorskip("ipywidgets")
    explorer = ex.AttentionExplorer({"m": [identity_attention(n=2, heads=3)] * 2}, images(), GRID)
    box = explorer.widget()
    c = explorer.controls
    assert (c["image"].max, c["row"].max, c["col"].max, c["block"].min, c["block"].max) == (1, 2, 3, 1, 2)
    assert [v for _, v in c["head"].options] == [None, 0, 1, 2]
    assert explorer.shown == {"image": 0, "row": 1, "col": 2, "block": 2, "head": None}
    c["block"].value = 1
    c["head"].value = 2
    assert explorer.shown == {"image": 0, "row": 1, "col": 2, "block": 1, "head": 2}
    assert len(box.children) == 3
    plt.close("all")


class _Kernel:
    def __init__(self, allow_stdin):
        self._allow_stdin = allow_stdin


class _Shell:
    def __init__(self, kernel):
        self.kernel = kernel


@pytest.mark.parametrize("shell, live", [
    (None, False),  # plain Python
    (_Shell(None), False),  # a terminal IPython has no kernel
    (_Shell(_Kernel(False)), False),  # papermill / nbclient / Jupyter Book
    (_Shell(_Kernel(True)), True),  # JupyterLab, Notebook, VS Code, Colab
])
def test_live_frontend_only_with_an_interactive_kernel(monkeypatch, shell, live):
    import IPython

    monkeypatch.setattr(IPython, "get_ipython", lambda: shell)
    assert ex.live_frontend() is live


# -- the explorer of the static book ----------------------------------------------------------------


def neighbour_attention(n=1, heads=2, prefix=1):
    """Each patch attends to the next patch in row-major order (the last one to itself), [CLS] to itself."""
    t = prefix + P
    attn = torch.zeros(n, heads, t, t)
    attn[..., 0, 0] = 1.0
    for q in range(P):
        attn[..., prefix + q, prefix + min(q + 1, P - 1)] = 1.0
    return attn


def test_static_maps_put_each_query_row_where_it_attends_not_transposed():
    explorer = ex.AttentionExplorer({"cl": [neighbour_attention()]}, images(n=1), GRID)
    maps = ex.static_maps(explorer, "cl", [0])  # (1, L, heads + 1, P, P)
    assert maps.shape == (1, 1, 3, P, P) and maps.dtype == torch.uint8
    for q in range(P):
        row = maps[0, 0, 0, q]
        assert row[min(q + 1, P - 1)] == 255 and int(row.sum()) == 255, q


def test_static_maps_scale_each_map_to_its_maximum_and_add_the_mean_over_heads():
    t = 1 + P
    uniform = torch.full((1, 1, t, t), 1.0 / t)
    attn = torch.cat([identity_attention(n=1, heads=1), uniform], dim=1)  # head 0 one-hot, head 1 uniform
    explorer = ex.AttentionExplorer({"m": [attn]}, images(n=1), GRID)
    maps = ex.static_maps(explorer, "m", [0])[0, 0]  # (3, P, P)
    assert bool((maps[1] == 255).all())  # uniform: every patch at the maximum
    mean = maps[2, 5]  # (1 + 1/P)/2 at the query, 1/(2P) elsewhere, scaled to the query's value
    assert mean[5] == 255 and int(mean[0]) == round(255 * (1 / (2 * P)) / ((1 + 1 / P) / 2))


def test_static_html_is_self_contained_and_carries_every_precomputed_map():
    explorer = ex.AttentionExplorer({"cl": [identity_attention()] * 2, "mim": [neighbour_attention(n=2)] * 2},
                                    images(), GRID, titles={"cl": "CL", "mim": "MIM"})
    html = explorer.static_html([0, 1], block=2, row=1, col=3)
    assert "http" not in html and html.count("<script>") == 1
    data = json.loads(re.search(r"const D = (\{.*?\});\n", html).group(1))
    assert data["start"] == {"block": 2, "row": 1, "col": 3} and data["titles"] == {"cl": "CL", "mim": "MIM"}
    for name in ("cl", "mim"):
        assert len(base64.b64decode(data["maps"][name])) == 2 * 2 * 3 * P * P  # images × blocks × (heads + mean) × P²
    assert len(data["lut"]) == 256 * 3 and len(base64.b64decode(data["images"][0])) == 12 * 12 * 3
    with pytest.raises(ValueError, match="block must be in 1..2"):
        explorer.static_html([0], block=3)
    with pytest.raises(ValueError, match="images is empty"):
        explorer.static_html([])
