"""The committed results read one way: probe summaries over seeds, the scoreboard's verdicts."""

import json

import pytest

from sslvit_lite.results import load, probe_summary, probe_table, verdict_table, verdicts


def encoder(kind, knn, lp, objective=None, init="mocov3"):
    about = {"kind": kind, "init": init, "blocks": {"knn": [0.0, knn], "linear_probe": [0.0, lp]},
             "cls": {"knn": knn - 1, "linear_probe": lp - 1}}
    return {**about, "objective": objective} if objective else about


EVALUATION = {
    "protocol": {"num_train": 100, "num_test": 50},
    "encoders": {"mocov3-seed0": encoder("trained", 40.0, 50.0, "mocov3"),
                 "mocov3-seed1": encoder("trained", 44.0, 52.0, "mocov3"),
                 "random-a": encoder("random init", 30.0, 35.0), "random-b": encoder("random init", 31.0, 36.0)},
}


def test_probe_summary_is_the_mean_and_half_range_of_the_last_block():
    summary = probe_summary(EVALUATION)
    assert list(summary) == ["MoCo v3 (CL)", "random init (MoCo v3's init)"]
    assert summary["MoCo v3 (CL)"]["knn"] == (42.0, 2.0, 2)
    assert summary["MoCo v3 (CL)"]["cls_linear_probe"] == (50.0, 1.0, 2)
    assert summary["random init (MoCo v3's init)"]["linear_probe"] == (35.5, 0.5, 2)
    table = str(probe_table(EVALUATION))
    assert "42.0\u00a0±\u00a02.0" in table and "<b>" not in table  # no winner bolded


def test_verdicts_read_the_committed_scoreboard(tmp_path):
    rows = [{"id": i, "claim": f"claim {i}", "status": "holds" if i == 8 else "inconclusive", "detail": "d", "pairs": []}
            for i in range(1, 20)]
    (tmp_path / "scoreboard.json").write_text(json.dumps({"scoreboard": rows}))
    assert [r["id"] for r in verdicts([8, 3], tmp_path)] == [3, 8]
    assert len(verdicts(None, tmp_path)) == 19
    assert "holds" in str(verdict_table([8], tmp_path))
    with pytest.raises(FileNotFoundError, match="reproduce"):
        load("scoreboard.json", tmp_path / "missing")


def test_models_are_probed_by_the_protocol_and_on_cls():
    import torch

    from sslvit_lite.data import ImageDataset
    from sslvit_lite.results import models_probe_table, probe_models
    from sslvit_lite.vit import build_vit

    torch.manual_seed(0)
    images = torch.randint(0, 256, (40, 3, 8, 8), dtype=torch.uint8)
    data = ImageDataset(images, torch.arange(40) % 4, list("abcd"), "toy", "test", "toy images")
    vit = build_vit("vit_tiny", img_size=8, patch_size=4, depth=1, embed_dim=16, num_heads=2)
    probes = probe_models({"toy": vit}, data, data, (0.5,) * 3, (0.25,) * 3, knn_k=3)
    assert set(probes["toy"]) == {"mean", "cls"} and 0 <= probes["toy"]["mean"]["linear_probe"] <= 100
    assert "kNN [CLS]" in str(models_probe_table(probes, data, data))
