"""The hybrid's λ sweep (sslvit_lite.sweep) and the probes of a backbone it uses (sslvit_lite.probing)."""

import json

import pytest
import torch

from sslvit_lite.checkpoint import load_checkpoint
from sslvit_lite.claims import CLAIMS, evaluate
from sslvit_lite.data import CIFAR10_MEAN, CIFAR10_STD, ImageDataset
from sslvit_lite.probing import block_probes, evaluate_backbone
from sslvit_lite.sweep import (
    SCHEMA,
    check_lambdas,
    claims_results,
    hybrid_sweep,
    load_sweep,
    main,
    point_at,
    run_dir,
    save_sweep,
)
from sslvit_lite.vit import build_vit


def tiny_vit(depth=2):
    torch.manual_seed(0)
    return build_vit("vit_tiny", img_size=8, patch_size=4, depth=depth, embed_dim=16, num_heads=2).eval()


def constant_images(n_per_class, values=(0, 255), seed=0):
    """Each class is one flat grey level: any deterministic feature map separates them perfectly."""
    labels = torch.arange(len(values)).repeat_interleave(n_per_class)  # (N,)
    images = torch.tensor(values, dtype=torch.uint8)[labels].view(-1, 1, 1, 1).expand(-1, 3, 8, 8).contiguous()
    order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(seed))
    return ImageDataset(images[order], labels[order], [str(v) for v in values], "flat", "test", "flat greys")


# --------------------------------------------------------------------------- λ values and run folders


def test_check_lambdas_sorts_and_rejects_bad_values():
    assert check_lambdas([1, 0.2, 0]) == [0.0, 0.2, 1.0]
    for bad in ([], [1.5], [-0.1], [float("nan")], [0.2, 0.2]):
        with pytest.raises(ValueError):
            check_lambdas(bad)


def test_run_dirs_differ_per_lambda(tmp_path):
    dirs = {run_dir(tmp_path, lam, "cifar10", "smoke") for lam in (0.0, 0.2, 0.201, 1.0)}
    assert len(dirs) == 4
    assert run_dir(tmp_path, 0.2, "cifar10", "smoke").name == "hybrid-cifar10-smoke-lam0.2"


# --------------------------------------------------------------------------- probes


def test_probes_separate_flat_classes_perfectly():
    data = constant_images(16)
    vit = tiny_vit()
    scores = evaluate_backbone(vit, data, data, CIFAR10_MEAN, CIFAR10_STD, knn_k=5, probe_epochs=20)
    assert scores == {"knn": 100.0, "linear_probe": 100.0, "fine_tune": None}
    per_block = block_probes(vit, data, data, CIFAR10_MEAN, CIFAR10_STD, knn_k=5, probe_epochs=20)
    assert set(per_block) == {"cls", "mean"}
    assert all(v == [100.0, 100.0] for pool in per_block.values() for v in pool.values())


def test_knn_at_chance_when_labels_carry_no_information():
    data = constant_images(10, values=(128, 128))  # two classes, identical images
    scores = evaluate_backbone(tiny_vit(), data, data, CIFAR10_MEAN, CIFAR10_STD, knn_k=20, probe_epochs=5)
    assert scores["knn"] == 50.0  # every image gets the same 10-vs-10 vote: the same class for all


def test_finetuning_reports_a_score_and_leaves_the_backbone_alone():
    data = constant_images(8)
    vit = tiny_vit(depth=1)
    before = {k: v.clone() for k, v in vit.state_dict().items()}
    scores = evaluate_backbone(vit, data, data, CIFAR10_MEAN, CIFAR10_STD, knn_k=3, probe_epochs=2, finetune_epochs=1)
    assert 0.0 <= scores["fine_tune"] <= 100.0
    assert all(torch.equal(before[k], v) for k, v in vit.state_dict().items())


def test_probe_arguments_are_validated():
    data = constant_images(4)
    with pytest.raises(ValueError, match="pool"):
        evaluate_backbone(tiny_vit(), data, data, CIFAR10_MEAN, CIFAR10_STD, pool="max")
    with pytest.raises(ValueError, match="finetune_epochs"):
        evaluate_backbone(tiny_vit(), data, data, CIFAR10_MEAN, CIFAR10_STD, finetune_epochs=-1)
    with pytest.raises(ValueError, match="pool"):
        block_probes(tiny_vit(), data, data, CIFAR10_MEAN, CIFAR10_STD, pools=("cls", "max"))


# --------------------------------------------------------------------------- tables and claims


def hand_table(lambdas=(0.0, 0.2, 1.0)):
    def point(lam):
        return {"lambda": lam, "knn": 10 + lam, "linear_probe": 20 + 40 * lam * (1 - lam), "fine_tune": None,
                "metrics": {"nmi": [[0.3 - 0.2 * lam], [0.2 - 0.2 * lam]],
                            "fourier_delta": [-1.0, -1.0 - lam, -1.2 - lam],
                            "attention_distance": [[4.0], [5.0]]}}
    control = {"knn": 9.0, "linear_probe": 12.0, "fine_tune": None,
               "metrics": {"nmi": [[0.0], [0.0]], "fourier_delta": [-0.5, -0.5, -0.5], "attention_distance": [[6.0], [6.0]]}}
    return {"schema": SCHEMA, "points": [point(lam) for lam in lambdas], "random_init": control,
            "provenance": {"commit": "abc"}}


def test_claims_results_maps_the_endpoints_to_the_pure_models():
    results = claims_results(hand_table(), hybrid_lambda=0.2)
    assert results["models"]["simmim"]["fourier_delta"] == [-1.0, -1.0, -1.2]
    assert results["models"]["mocov3"]["fourier_delta"] == [-1.0, -2.0, -2.2]
    hybrid = point_at(hand_table(), 0.2)
    assert results["models"]["hybrid"] == {**hybrid["metrics"], "linear_probe": [hybrid["linear_probe"]]}
    claim15 = evaluate(CLAIMS[14], results)
    assert claim15.status == "holds" and claim15.values["winning_lambdas"] == [0.2]  # LP 26.4 > 20 + 2, 20 + 2
    del results["models"]["random_init"]  # no control: no verdict
    assert evaluate(CLAIMS[14], results).status == "not measured"
    assert "fine_tune not measured" in claim15.detail


def test_claims_results_needs_both_endpoints_and_an_interior_hybrid():
    with pytest.raises(ValueError, match="no λ = 0.0"):
        claims_results(hand_table((0.2, 1.0)))
    with pytest.raises(ValueError, match="strictly between"):
        claims_results(hand_table(), hybrid_lambda=1.0)
    with pytest.raises(ValueError, match="no λ = 0.4"):
        claims_results(hand_table(), hybrid_lambda=0.4)


def test_save_load_round_trip_and_refusals(tmp_path):
    path = save_sweep(hand_table(), tmp_path / "sweep.json")
    assert load_sweep(path) == json.loads(json.dumps(hand_table()))
    (tmp_path / "other.json").write_text(json.dumps({"schema": "something else", "points": []}))
    with pytest.raises(ValueError, match="not a hybrid sweep table"):
        load_sweep(tmp_path / "other.json")
    broken = hand_table()
    broken["points"][0]["knn"] = float("nan")
    with pytest.raises(ValueError):
        save_sweep(broken, tmp_path / "nan.json")


def test_command_line_rejects_bad_lambdas(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--lambdas", "1.5", "--preset", "smoke", "--data-source", "sample"])
    assert exit_info.value.code == 2
    assert "must be in [0, 1]" in capsys.readouterr().err


# --------------------------------------------------------------------------- end to end


def test_sweep_trains_each_lambda_and_reuses_finished_runs(tmp_path):
    kwargs = dict(preset="smoke", data_source="sample", runs_dir=tmp_path, num_train=64, num_test=64,
                  analysis_images=8, probe_epochs=5, knn_k=5)
    table = hybrid_sweep([1.0, 0.0], **kwargs)
    assert table["schema"] == SCHEMA and table["lambdas"] == [0.0, 1.0] and table["preset"] == "smoke"
    json.dumps(table, allow_nan=False)
    for point in table["points"]:
        config = load_checkpoint(run_dir(tmp_path, point["lambda"], "cifar10", "smoke") / "final.pt")["config"]
        assert config["objective"] == "hybrid" and config["hparams"]["lam"] == point["lambda"]
        assert config["hparams"]["proj_dim"] == 32, "the preset's small heads are kept"
        assert len(point["metrics"]["fourier_delta"]) == 3 and len(point["metrics"]["nmi"]) == 2
        assert 0 <= point["knn"] <= 100 and point["fine_tune"] is None
    control = table["random_init"]  # the random-init encoder of the same architecture, measured alike
    assert set(control["metrics"]) == set(table["points"][0]["metrics"]) and 0 <= control["knn"] <= 100
    # untrained: little query-dependent attention (MoCo v3's init starts less uniform than timm's)
    assert max(max(h) for h in control["metrics"]["nmi"]) < 0.1
    mim, cl = table["points"]
    assert "loss_simmim" in mim["log"][-1] and "loss_mocov3" not in mim["log"][-1]
    assert "loss_mocov3" in cl["log"][-1] and "loss_simmim" not in cl["log"][-1]
    again = hybrid_sweep([0.0], **kwargs)
    assert again["points"][0]["linear_probe"] == mim["linear_probe"]  # the finished run is reused


def test_sweep_uses_the_probing_split():
    """The sweep keeps importing the one split function (moved to sslvit_lite.probing)."""
    import sslvit_lite.probing
    import sslvit_lite.sweep

    assert sslvit_lite.sweep.evaluation_split is sslvit_lite.probing.evaluation_split
