"""Chapter 8's figures, drawn from a record of untrained stand-ins (no network)."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pytest
import torch

from sslvit_lite import paper_figures as figures
from sslvit_lite import paper_models as pm
from sslvit_lite.data import ImageDataset

TINY = {"depth": 2, "width": 16, "heads": 2}


@pytest.fixture(scope="module")
def run():
    labels = torch.arange(3).repeat_interleave(4)
    images = torch.randint(0, 256, (12, 3, 32, 32), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    data = ImageDataset(images, labels, ["a", "b", "c"], "test", "val", "test pool")
    chosen = pm.choose_images(data, "averaged", 3, 1, seed=0, map_image=0)
    nets, weights, _ = pm.load_models("stand-in", smoke=True, seed=0, **TINY)
    return pm.measure_run(nets, weights, chosen, data, "test pool", "averaged", query=(8, 3), map_block=11,
                          tsne_depth=None, tsne_iterations=250, batch_size=3, seed=0, preset="smoke",
                          stand_in_size=TINY)


@pytest.mark.parametrize("draw, panels", [
    (lambda run: figures.attention_maps(run, head=1), 6), (figures.attention_distance, 6),
    (figures.homogeneity, 4), (figures.fourier, 2), (figures.tsne, 4), (figures.representations, 4)])
def test_every_figure_names_the_stand_ins_and_fits_the_column(run, draw, panels):
    fig = draw(run)
    try:
        assert "RANDOM STAND-INS" in fig._suptitle.get_text()
        assert len([ax for ax in fig.axes if ax.get_label() != "<colorbar>"]) == panels
        assert fig.get_figwidth() <= 9.3
    finally:
        plt.close(fig)


def test_the_maps_of_the_chosen_head_are_drawn_on_one_scale(run):
    fig = figures.attention_maps(run, head=0)
    try:
        limits = {im.get_clim() for ax in fig.axes[1:5] for im in ax.get_images()}
        assert len(limits) == 1 and next(iter(limits))[0] == 0  # one colour scale, from 0
    finally:
        plt.close(fig)


def test_uniform_distance_on_vit_b16_is_the_papers():
    assert figures.uniform_distance_px() == pytest.approx(116.49, abs=0.01)
