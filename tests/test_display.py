"""Display helpers shared by the chapters (sslvit_lite.display)."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from sslvit_lite.data import CIFAR10_MEAN, CIFAR10_STD, normalize  # noqa: E402
from sslvit_lite.display import (  # noqa: E402
    caption_below,
    cpu_threads_for_small_models,
    html_table,
    model_origin,
    to_rgb,
)


def test_html_table_exact_markup_and_escaping():
    table = html_table(["model", "kNN"], [["a<b", "50.0%"]], "from run & co")
    cell = 'style="padding: 0.15em 0.6em; vertical-align: top; text-align: left"'
    assert table == ('<table><caption style="caption-side: bottom; font-size: 0.8em">from run &amp; co</caption>'
                     f"<thead><tr><th {cell}>model</th><th {cell}>kNN</th></tr></thead>"
                     f"<tbody><tr><td {cell}>a&lt;b</td><td {cell}>50.0%</td></tr></tbody></table>")
    assert table._repr_html_() == str(table), "Jupyter renders it as HTML"


def test_html_table_rejects_ragged_rows():
    with pytest.raises(ValueError, match="row 1 has 1 cells, the header has 2"):
        html_table(["a", "b"], [["1", "2"], ["3"]], "caption")


def test_to_rgb_inverts_normalize():
    images = torch.randint(0, 256, (2, 3, 5, 4), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    pictures = to_rgb(normalize(images, CIFAR10_MEAN, CIFAR10_STD), CIFAR10_MEAN, CIFAR10_STD)
    assert pictures.shape == (2, 5, 4, 3)
    assert torch.allclose(pictures, images.permute(0, 2, 3, 1).float() / 255, atol=1e-5)


def test_to_rgb_clamps_and_detaches():
    x = torch.full((1, 3, 2, 2), 100.0, requires_grad=True)  # far above white
    pictures = to_rgb(x, (0.5, 0.5, 0.5), (0.2, 0.2, 0.2))
    assert not pictures.requires_grad and torch.equal(pictures, torch.ones(1, 2, 2, 3))
    assert torch.equal(to_rgb(-x, (0.5, 0.5, 0.5), (0.2, 0.2, 0.2)), torch.zeros(1, 2, 2, 3))


def test_to_rgb_rejects_bad_shapes():
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\)"):
        to_rgb(torch.zeros(3, 4, 4), CIFAR10_MEAN, CIFAR10_STD)
    with pytest.raises(ValueError, match="3 values"):
        to_rgb(torch.zeros(1, 3, 4, 4), (0.5,), CIFAR10_STD)


def test_model_origin_names_title_origin_and_provenance():
    info = {"origin": "trained now", "provenance": {"preset": "smoke", "device": "cpu", "commit": "abc1234"}}
    line = model_origin("CL (MoCo v3)", info)
    assert line.startswith("CL (MoCo v3): trained now · ")
    assert "smoke" in line and "abc1234" in line


def test_caption_below_wraps_every_line_under_the_figure():
    fig = plt.figure(figsize=(2, 1))  # 42 characters of 6-pt text per line
    caption_below(fig, ["x" * 10, "word " * 20])
    (text,) = fig.texts
    lines = text.get_text().split("\n")
    assert lines[0] == "x" * 10 and len(lines) >= 4
    assert all(len(line) <= 42 for line in lines) and all(line.startswith("    ") for line in lines[2:])
    assert text.get_position() == (0.0, -0.01) and text.get_fontsize() == 8
    plt.close(fig)


def test_cpu_threads_for_small_models(monkeypatch):
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
        assert cpu_threads_for_small_models() == 2, "left alone on a GPU machine"
        monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
        assert cpu_threads_for_small_models() == 1 == torch.get_num_threads()
    finally:
        torch.set_num_threads(threads)


def test_model_styles_give_one_title_and_colour_per_model():
    from sslvit_lite.display import MODEL_COLORS, model_styles

    titles, colours = model_styles("simmim", "mocov3")
    assert list(titles) == ["simmim", "mocov3"] and titles["mocov3"] == "CL (MoCo v3)"
    assert len(set(MODEL_COLORS.values())) == len(MODEL_COLORS)  # no two models share a colour
    with pytest.raises(ValueError, match="known models"):
        model_styles("byol")


def test_captions_gather_each_model_and_the_analysis_in_the_note_and_write_only_notes():
    from sslvit_lite.display import Captions

    infos = {"mocov3": {"origin": "saved run", "provenance": {"preset": "cpu", "commit": "abc123"}}}
    captions = Captions({"mocov3": "CL (MoCo v3)"}, infos)
    assert captions.describe("mocov3").startswith("CL (MoCo v3): saved run") and "preset cpu" in captions.describe("mocov3")
    fig = plt.figure()
    captions.figure(fig, "mocov3", analysis={"device": "CPU", "commit": "def456"}, label="maps", notes=["a note"])
    captions.figure(fig, "mocov3", analysis={"device": "CPU", "commit": "def456"}, label="distance")
    assert [t.get_text() for t in fig.texts] == ["a note"]  # provenance stays off the figure
    plt.close(fig)
    note = captions.note.html()
    assert note.startswith("<details") and note.count("commit abc123") == 1  # each source listed once
    assert "analysis: CPU · commit def456" in note and "(maps, distance)" in note
    with pytest.raises(ValueError, match="no info"):
        Captions({"simmim": "MIM"}, infos)


def test_the_provenance_note_escapes_text_and_refuses_to_be_empty():
    from sslvit_lite.display import ProvenanceNote

    note = ProvenanceNote()
    with pytest.raises(ValueError, match="nothing"):
        note.html()
    note.add("run <a> & b", "fig 1")
    assert "run &lt;a&gt; &amp; b" in note.html() and "<summary>" in note.html()


def test_html_table_spreads_columns_by_the_widths_given():
    from sslvit_lite.display import html_table

    table = html_table(["a", "b"], [["1", "2"]], "c", widths=["30%", "70%"])
    assert 'style="width: 100%"' in table and "width: 70%" in table and table.count("width: 30%") == 1
    with pytest.raises(ValueError, match="2 widths for 3 columns"):
        html_table(["a", "b", "c"], [], "x", widths=["1%", "2%"])
