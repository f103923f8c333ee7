import pytest
import torch

from sslvit_lite.checkpoint import load_checkpoint
from sslvit_lite.saved_runs import export_run, saved_checkpoint_path, trained_backbone


def test_trains_when_nothing_is_saved_then_loads_the_exported_run(tmp_path):
    results, runs = tmp_path / "results", tmp_path / "runs"
    vit, info = trained_backbone("simmim", "smoke", data_source="sample", results_dir=results, runs_dir=runs)
    assert info["origin"].startswith("trained now") and "sample" in info["origin"]
    assert info["provenance"]["preset"] == "smoke"

    run = runs / "simmim-cifar10-smoke-sample" / "final.pt"
    exported = export_run(run, saved_checkpoint_path("simmim", results_dir=results))
    slim = load_checkpoint(exported)
    assert "optimizer" not in slim and any(k.startswith("mim.") for k in slim["model"])  # decoder kept
    assert exported.stat().st_size < run.stat().st_size
    assert exported.with_suffix(".metrics.jsonl").read_text() == (run.parent / "metrics.jsonl").read_text()

    saved, saved_info = trained_backbone("simmim", "smoke", data_source="sample", results_dir=results, runs_dir=runs)
    assert saved_info["origin"].startswith("saved run")
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        torch.testing.assert_close(saved(x), vit(x), atol=2e-2, rtol=2e-2)  # fp16 storage


def test_export_refuses_an_unfinished_run(tmp_path):
    ckpt = {"model": {}, "config": {}, "finished": False}
    torch.save(ckpt, tmp_path / "last.pt")
    with pytest.raises(ValueError, match="not a finished run"):
        export_run(tmp_path / "last.pt", tmp_path / "out.pt")


def test_training_log_is_read_beside_a_run_and_beside_an_export(tmp_path):
    from sslvit_lite.checkpoint import training_log

    run = tmp_path / "run"
    run.mkdir()
    records = ['{"step": 2, "loss": 1.5}', '{"event": "resume", "step": 2}', "", '{"step": 4, "loss": 1.2}']
    (run / "metrics.jsonl").write_text("\n".join(records))
    assert [r["loss"] for r in training_log(run / "final.pt")] == [1.5, 1.2]  # events and blank lines left out
    (tmp_path / "mocov3-cifar10.metrics.jsonl").write_text(records[0])
    assert training_log(tmp_path / "mocov3-cifar10.pt") == [{"step": 2, "loss": 1.5}]
    assert training_log(tmp_path / "other.pt") == []


def test_load_objective_rebuilds_the_whole_objective_and_refuses_a_slim_file(tmp_path):
    import torch

    from sslvit_lite.checkpoint import CheckpointError, backbone_state, load_objective
    from sslvit_lite.objectives import build_objective
    from sslvit_lite.presets import resolve
    from sslvit_lite.vit import build_vit

    config = resolve("mae", "smoke").to_dict()
    torch.manual_seed(3)
    mae = build_objective("mae", build_vit(config["arch"], img_size=config["img_size"],
                                           patch_size=config["patch_size"], **config["vit_kwargs"]),
                          **config["hparams"])
    torch.save({"model": {k: v.half() if v.is_floating_point() else v for k, v in mae.state_dict().items()},
                "config": config}, tmp_path / "mae.pt")
    loaded = load_objective(tmp_path / "mae.pt")
    assert type(loaded) is type(mae) and not loaded.training
    for key, value in mae.state_dict().items():  # the decoder too, back in fp32
        assert loaded.state_dict()[key].dtype == value.dtype
        torch.testing.assert_close(loaded.state_dict()[key], value.half().to(value.dtype))
    slim = {"model": {f"backbone.{k}": v for k, v in backbone_state(mae.state_dict()).items()}, "config": config}
    with pytest.raises(CheckpointError, match="whole mae objective.*decoder"):
        load_objective(slim)
