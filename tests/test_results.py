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
