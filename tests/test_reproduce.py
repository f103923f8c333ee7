"""`python -m sslvit_lite reproduce`: every stage end to end at smoke size, resumable, with controls."""

import json

import pytest

from sslvit_lite.reproduce import STAGES, Reproduction, endpoints_shared, main, run_key


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("reproduce")
    repro = Reproduction("smoke", out, data_source="sample", seeds=2, eval_train=200, eval_test=100,
                         analysis_images=16, progress=False, command="test")
    for stage in STAGES:
        getattr(repro, stage)()
    return repro


def test_every_stage_writes_its_files(smoke_run):
    out = smoke_run.out
    for name in ("evaluation.json", "analysis.json", "emergence.json", "scoreboard.json", "scoreboard.md",
                 "hybrid_sweep-cifar10.json", "figures/emergence.png", "provenance.json"):
        assert (out / name).is_file(), name
    for run in smoke_run.planned_runs():
        assert smoke_run.checkpoint_path(run["name"]).is_file(), run["name"]
    assert (out / "checkpoints" / "mocov3-cifar10.pt").is_file()  # seed 0 where the chapters look
    assert (out / "checkpoints" / "mocov3-cifar10-seed1.pt").is_file()


def test_the_plan_trains_the_sweep_interior_only_when_the_endpoints_are_shared(smoke_run):
    # smoke gives each objective its own settings: the sweep trains its endpoints as hybrids
    assert not endpoints_shared("smoke")
    names = [run["name"] for run in smoke_run.planned_runs()]
    assert names == ["simmim-seed0", "mae-seed0", "mocov3-seed0", "hybrid-lam0-seed0", "hybrid-lam0.2-seed0",
                     "hybrid-lam1-seed0", "simmim-seed1", "mae-seed1", "mocov3-seed1"]
    sweep = json.loads((smoke_run.out / "hybrid_sweep-cifar10.json").read_text())
    assert [p["lambda"] for p in sweep["points"]] == [0.0, 0.2, 1.0]
    assert sweep["points"][0]["origin"] == "run hybrid-lam0-seed0"
    # the laptop preset configures λ = 0 and λ = 1 exactly like SimMIM and MoCo v3: only λ = 0.2 is trained
    assert endpoints_shared("cpu")
    laptop = Reproduction("cpu", smoke_run.out / "unused", seeds=2)
    assert [run["name"] for run in laptop.planned_runs()] == [
        "simmim-seed0", "mae-seed0", "mocov3-seed0", "hybrid-lam0.2-seed0", "simmim-seed1", "mae-seed1", "mocov3-seed1"]


def test_provenance_times_every_stage(smoke_run):
    record = json.loads((smoke_run.out / "provenance.json").read_text())
    assert record["command"] == "test" and record["preset"] == "smoke"
    assert {f"train {name}" for name in (run["name"] for run in smoke_run.planned_runs())} <= set(record["seconds"])
    assert {"export", "evaluate", "analyze", "emergence"} <= set(record["seconds"])
    assert all(seconds >= 0 for seconds in record["seconds"].values())


def test_every_encoder_is_measured_with_the_protocol_and_three_random_inits_per_init(smoke_run):
    evaluation = json.loads((smoke_run.out / "evaluation.json").read_text())
    encoders = evaluation["encoders"]
    assert {run["name"] for run in smoke_run.planned_runs()} <= set(encoders)
    randoms = {name: e for name, e in encoders.items() if e["kind"] == "random init"}
    inits = {e["init"] for e in encoders.values() if e["kind"] == "trained"}
    assert inits == {"mocov3", "mae"}  # the presets' initialisations
    for init in inits:  # three controls per initialisation, each with its own seed
        seeds = [e["seed"] for e in randoms.values() if e["init"] == init]
        assert len(set(seeds)) == 3 and not set(seeds) & {0, 1}
    for e in encoders.values():
        assert len(e["blocks"]["linear_probe"]) == 2 and set(e["cls"]) == {"knn", "linear_probe"}
    assert "mean of the patch tokens" in evaluation["protocol"]["features"]
    analysis = json.loads((smoke_run.out / "analysis.json").read_text())
    assert set(analysis["models"]) == set(encoders)
    assert all(m["init"] == encoders[name]["init"] for name, m in analysis["models"].items())
    assert len(analysis["models"]["mae-seed1"]["decoder_fourier_delta"]) >= 1  # MAE's decoder blocks (claim 11)


def test_scoreboard_pairs_every_seed_and_controls_use_other_random_inits(smoke_run):
    board = json.loads((smoke_run.out / "scoreboard.json").read_text())
    statuses = {row["status"] for row in board["scoreboard"]}
    assert statuses <= {"n/a (smoke run)", "not measured"} and "n/a (smoke run)" in statuses
    first = board["scoreboard"][0]
    assert [(p["cl"], p["mim"]) for p in first["pairs"]] == [
        (cl, mim) for cl in ("mocov3-seed0", "mocov3-seed1") for mim in ("simmim-seed0", "simmim-seed1")]
    assert set(board["controls"]) == {"random CL", "random MIM", "random CL and MIM", "random MAE"}
    both = board["controls"]["random CL and MIM"]["roles"]
    assert both["cl"] != both["mim"]  # two different random inits, and the learned clause uses a third
    assert set(board["margins"]["CL and MIM"]) == set(board["spreads"]["CL and MIM"])


def test_emergence_replays_every_snapshot(smoke_run):
    table = json.loads((smoke_run.out / "emergence.json").read_text())
    for name in ("simmim", "mocov3", "mae"):
        run = table["runs"][run_key(name)]
        assert run["steps"] == sorted(run["steps"]) and run["steps"][-1] > 0
        assert len(run["nmi"]) == len(run["steps"]) and len(run["nmi"][0]) == 2  # 2 blocks per step


def test_a_rerun_resumes_instead_of_redoing(smoke_run):
    final = smoke_run.runs / "mocov3-seed0" / "final.pt"
    trained_at = final.stat().st_mtime_ns
    (smoke_run.out / "analysis.json").unlink()
    before = json.loads((smoke_run.out / "provenance.json").read_text())["seconds"]
    smoke_run.train()
    smoke_run.analyze()
    after = json.loads((smoke_run.out / "provenance.json").read_text())["seconds"]
    assert final.stat().st_mtime_ns == trained_at  # finished runs are not trained again
    assert (smoke_run.out / "analysis.json").is_file() and after["analyze"] > before["analyze"]
    assert after["evaluate"] == before["evaluate"]


def test_command_line_errors_are_one_line(tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["--preset", "smoke", "--out", str(tmp_path), "--seeds", "0"])
    assert stop.value.code == 2 and "seeds must be >= 1" in capsys.readouterr().err
    with pytest.raises(SystemExit) as stop:
        main(["--preset", "smoke", "--out", str(tmp_path), "--lambdas", "1.5"])
    assert stop.value.code == 2 and "[0, 1]" in capsys.readouterr().err


def test_init_comparison_measures_both_sides_alike(smoke_run, tmp_path):
    # the same checkpoints as "baseline": both sides must read the same numbers, measured the same way
    import shutil

    for run in smoke_run.planned_runs():
        shutil.copy(smoke_run.checkpoint_path(run["name"]), tmp_path / smoke_run.checkpoint_path(run["name"]).name)
    table = smoke_run.inits(tmp_path)
    assert {r["objective"] for r in table["runs"].values()} == {"mocov3", "simmim", "mae"}
    for run in table["runs"].values():
        for key in ("attention_distance", "nmi", "knn", "linear_probe", "cls_knn", "cls_linear_probe"):
            assert run["official"][key] == pytest.approx(run["timm"][key], abs=1e-6), key
    (smoke_run.out / "init_comparison.json").unlink()
