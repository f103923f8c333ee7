import json

import pytest
import torch

from sslvit_lite.meter import MetricsLog, StepMeter, finite_means, first_non_finite


def test_meter_keeps_tensors_and_numbers_and_empties_when_read():
    meter = StepMeter(3, torch.device("cpu"))
    meter.add({"loss": torch.tensor(1.0), "calls": 1})
    meter.add({"loss": torch.tensor(2.0), "calls": 2})
    values = meter.read()
    assert meter.count == 0
    assert values["loss"].tolist() == [1.0, 2.0] and values["calls"].tolist() == [1.0, 2.0]
    meter.add({"loss": torch.tensor(5.0), "calls": 3})
    assert meter.read()["loss"].tolist() == [5.0]  # only the steps since the last read


def test_meter_refuses_more_steps_than_it_holds_and_a_zero_capacity():
    meter = StepMeter(1, torch.device("cpu"))
    meter.add({"loss": 1.0})
    with pytest.raises(RuntimeError, match="read it first"):
        meter.add({"loss": 2.0})
    with pytest.raises(ValueError, match="capacity"):
        StepMeter(0, torch.device("cpu"))


def test_finite_means_skip_infinite_steps_and_say_nan_when_none_is_finite():
    inf, nan = float("inf"), float("nan")
    means = finite_means({"grad_norm": torch.tensor([inf, 2.0, 4.0]), "x": torch.tensor([nan, inf])})
    assert means["grad_norm"] == 3.0 and means["x"] != means["x"]


def test_first_non_finite_finds_the_first_bad_step():
    assert first_non_finite(torch.tensor([1.0, 2.0])) is None
    assert first_non_finite(torch.tensor([1.0, float("inf"), float("nan")])) == 1


def test_metrics_log_appends_reads_and_trims_past_a_step(tmp_path):
    log = MetricsLog(tmp_path / "metrics.jsonl")
    assert log.records() == []
    for step in (2, 4, 6):
        log.append({"step": step, "loss": 1.0 / step})
    log.trim(4)
    assert [r["step"] for r in log.records()] == [2, 4]
    assert all(json.loads(line) for line in log.path.read_text().splitlines())
    assert not list(tmp_path.glob(".*tmp"))  # trimmed in place, atomically
