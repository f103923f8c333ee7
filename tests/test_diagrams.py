"""The objectives' diagrams: each draws its parts and fits the book's text column."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pytest

from sslvit_lite import diagrams

PARTS = {
    "mocov3_diagram": ("view 1", "view 2", "momentum ViT", "EMA", "InfoNCE"),
    "simmim_diagram": ("[M]", "ViT\n(all tokens)", "L1 on the\nmasked pixels"),
    "mae_diagram": ("visible 25 %", "ViT\n(visible only)", "decoder", "MSE"),
    "hybrid_diagram": ("one ViT\n(shared)", "SimMIM head", "InfoNCE", "(1 − λ)·L_MIM\n+ λ·L_CL"),
}


@pytest.mark.parametrize("name", sorted(PARTS))
def test_each_diagram_draws_its_parts_at_column_width(name):
    fig = getattr(diagrams, name)()
    texts = " | ".join(t.get_text() for t in fig.axes[0].texts)
    assert all(part in texts for part in PARTS[name]), texts
    assert fig.get_size_inches()[0] <= 7.5  # the text column
    assert min(t.get_fontsize() for t in fig.axes[0].texts) >= 8.5
    plt.close(fig)
