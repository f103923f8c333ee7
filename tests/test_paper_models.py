"""Chapter 8's machinery: image selection, stand-in fallback and the measured record (no network)."""

import json

import pytest
import torch

from sslvit_lite import paper_models as pm
from sslvit_lite.data import ImageDataset
from sslvit_lite.download import DownloadError

TINY = {"depth": 1, "width": 16, "heads": 2}


def pool(per_class=130, classes=3, size=32):
    labels = torch.arange(classes).repeat_interleave(per_class)  # folder order: class by class
    images = torch.randint(0, 256, (len(labels), 3, size, size), dtype=torch.uint8,
                           generator=torch.Generator().manual_seed(0))
    return ImageDataset(images, labels, [f"c{k}" for k in range(classes)], "test", "val", "test pool")


def test_to_input_crops_the_centre_of_large_images_and_upsamples_small_ones():
    big = torch.randint(0, 256, (1, 3, 256, 300), dtype=torch.uint8)
    assert torch.equal(pm.to_input(big), big[..., 16:240, 38:262])
    small = pm.to_input(torch.full((2, 3, 32, 32), 7, dtype=torch.uint8))
    assert small.shape == (2, 3, 224, 224) and small.dtype == torch.uint8 and bool((small == 7).all())


def test_first_of_each_class_keeps_folder_order():
    labels = torch.tensor([0, 1, 0, 2, 1, 0])
    assert pm.first_of_each_class(labels, [2, 1, 1]).tolist() == [0, 2, 1, 3]


def test_notebook_setting_takes_the_official_subset_and_first_batches():
    images = pm.choose_images(pool(), "notebook", num_images=0, tsne_per_class=2, seed=0, map_image=30)
    # 130 // 64 = 2 images of each of 3 classes, all in the first (and only) batch
    assert len(images.attention) == len(images.fourier) == 6 and images.map_index == 30 % 6
    assert images.tsne_labels.tolist() == [0, 0, 1, 1, 2, 2]


def test_averaged_setting_is_seeded_and_checked():
    a = pm.choose_images(pool(), "averaged", 10, 1, seed=3, map_image=0)
    b = pm.choose_images(pool(), "averaged", 10, 1, seed=3, map_image=0)
    assert torch.equal(a.attention, b.attention) and a.attention.shape == (10, 3, 224, 224)
    assert sorted(a.tsne_labels.tolist()) == [0, 1, 2]
    with pytest.raises(ValueError, match="num_images must be in 2..390"):
        pm.choose_images(pool(), "averaged", 1000, 1, 0, 0)
    with pytest.raises(ValueError, match="unknown setting"):
        pm.choose_images(pool(), "paper", 10, 1, 0, 0)


def test_auto_answers_a_failed_download_with_a_stand_in_and_official_raises(monkeypatch):
    def offline(name):
        raise DownloadError(f"{name}: no network")

    monkeypatch.setattr(pm, "load_pretrained", offline)
    nets, weights, why = pm.load_models("auto", smoke=False, seed=0, **TINY)
    assert set(weights.values()) == {"stand-in"} and "could not be downloaded" in why["mae"]
    assert len(nets["simmim"].blocks) == 1
    with pytest.raises(DownloadError):
        pm.load_models("official", smoke=False, seed=0, **TINY)
    with pytest.raises(ValueError, match="unknown models"):
        pm.load_models("timm", smoke=False, seed=0)


def test_the_smoke_preset_downloads_nothing(monkeypatch):
    monkeypatch.setattr(pm, "load_pretrained", lambda name: pytest.fail("no download at smoke"))
    _, weights, why = pm.load_models("auto", smoke=True, seed=0, **TINY)
    assert set(weights.values()) == {"stand-in"} and why["dino"] == "preset 'smoke' downloads nothing"


def test_the_measured_record_holds_every_model_the_control_and_says_stand_in():
    data = pool(per_class=4)
    images = pm.choose_images(data, "averaged", 2, 1, seed=0, map_image=0)
    nets, weights, _ = pm.load_models("stand-in", smoke=True, seed=0, **TINY)
    run = pm.measure_run(nets, weights, images, data, "test pool", "averaged", query=(8, 3), map_block=11,
                         tsne_depth=None, tsne_iterations=250, batch_size=2, seed=0, preset="smoke",
                         stand_in_size=TINY)
    assert run["schema"] == pm.SCHEMA and set(run["models"]) == set(pm.MODELS)
    mocov3 = run["models"]["mocov3"]
    assert mocov3["attention_map"]["block"] == 1  # block 11 clipped to the stand-in's depth
    assert len(mocov3["tsne"]["points"]) == 3 * 196 and len(mocov3["metrics"]["silhouette"]) == 2
    assert len(run["random_init"]["nmi"]) == 1
    assert json.loads(json.dumps(run, allow_nan=False)) == run  # JSON-ready, as the chapter saves it
    assert pm.weights_note(run).startswith("RANDOM STAND-INS")


def test_claims_input_scores_a_stand_in_pair_as_a_smoke_run_and_names_the_control():
    run = {"models": {"mocov3": {"weights": "stand-in", "metrics": {"nmi": [[0.0]]}},
                      "simmim": {"weights": "official", "metrics": {"nmi": [[0.5]]}}},
           "random_init": {"nmi": [[0.0]]}, "provenance": {"device": "cpu"}}
    results = pm.claims_input(run, "mocov3", "simmim")
    assert results["provenance"]["preset"] == "smoke" and results["roles"]["random"] == "random_init"
    run["models"]["mocov3"]["weights"] = "official"
    assert pm.claims_input(run, "mocov3", "simmim")["provenance"]["preset"] == "official checkpoints"
    del run["random_init"]
    assert "random_init" not in pm.claims_input(run, "mocov3", "simmim")["models"]  # claims then read "not measured"
