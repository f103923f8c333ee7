import sys
import types

import pytest

from sslvit_lite.checkpoint import load_checkpoint
from sslvit_lite.cli import main


def fails(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    return capsys.readouterr().err


@pytest.mark.parametrize("flag,value,valid", [
    ("--objective", "dino", "'mocov3', 'simmim', 'mae', 'hybrid'"),
    ("--preset", "a100", "'auto', 'smoke', 'cpu', 'colab-t4', 'cifar10-h100'"),
    ("--dataset", "imagenet", "'cifar10', 'cifar100'"),
    ("--data-source", "web", "'auto', 'folder', 'torchvision', 'sample'"),
    ("--precision", "fp8", "'auto', 'bf16', 'fp16', 'fp32'"),
])
def test_wrong_values_list_the_valid_ones_and_write_nothing(tmp_path, capsys, flag, value, valid):
    argv = {"--objective": "mae", "--preset": "smoke", "--data-source": "sample", "--out": str(tmp_path / "run")}
    argv[flag] = value
    err = fails(["train", *[x for kv in argv.items() for x in kv]], capsys)
    assert f"invalid choice: '{value}'" in err and valid in err
    assert not (tmp_path / "run").exists()


def test_wrong_hyperparameter_fails_before_anything_is_written(tmp_path, capsys):
    err = fails(["train", "--objective", "mae", "--preset", "smoke", "--data-source", "sample",
                 "--out", str(tmp_path / "run"), "--hparam", "mask_ration=0.5", "--steps", "1"], capsys)
    assert "mask_ration" in err and "mask_ratio" in err
    assert not (tmp_path / "run").exists()


def test_malformed_numbers_and_hparams_are_rejected(capsys):
    assert "positive integer" in fails(["train", "--objective", "mae", "--steps", "0"], capsys)
    assert "KEY=VALUE" in fails(["train", "--objective", "mae", "--hparam", "lam"], capsys)
    assert "not allowed with" in fails(["train", "--objective", "mae", "--steps", "2", "--epochs", "1"], capsys)


def test_train_runs_a_smoke_preset_with_overrides(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["train", "--objective", "simmim", "--preset", "smoke", "--data-source", "sample", "--out", str(out),
                 "--steps", "2", "--batch-size", "16", "--subset", "64", "--hparam", "mask_ratio=0.5", "--no-progress"])
    assert code == 0
    assert capsys.readouterr().out.strip().endswith(str(out / "final.pt"))
    config = load_checkpoint(out / "final.pt")["config"]
    assert (config["steps"], config["batch_size"], config["subset"]) == (2, 16, 64)
    assert config["hparams"]["mask_ratio"] == 0.5 and config["data_source"] == "sample"


def test_measure_passes_the_rest_of_the_command_line_through(monkeypatch):
    seen = []
    fake = types.ModuleType("sslvit_lite.measure")
    fake.main = lambda argv: seen.append(argv) or 0
    monkeypatch.setitem(sys.modules, "sslvit_lite.measure", fake)
    assert main(["analyze", "runs/mae", "--what", "attention", "--help"]) == 0
    assert seen == [["runs/mae", "--what", "attention", "--help"]]


def test_train_auto_on_a_cpu_trains_the_laptop_preset(monkeypatch, capsys):
    import sslvit_lite.train as train

    seen = {}
    monkeypatch.setattr(train, "pretrain", lambda objective, **kw: seen.update(kw) or "run/final.pt")
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    assert main(["train", "--objective", "simmim"]) == 0
    assert seen["preset"] == "cpu" and "cpu` preset" in capsys.readouterr().err
