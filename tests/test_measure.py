"""`python -m sslvit_lite analyze`: checkpoint loading, metric assembly, the CLI end to end."""

import json

import pytest
import torch

from sslvit_lite.analysis.attention import attention_entropy, attention_nmi, head_jsd, mean_attention_distance, query_jsd
from sslvit_lite.analysis.representation import unison_ratio
from sslvit_lite.analysis.fourier import fourier_log_amplitude
from sslvit_lite.measure import compute_metrics, main
from sslvit_lite.checkpoint import CheckpointError, load_backbone
from sslvit_lite.claims import scoreboard
from sslvit_lite.vit import build_vit, capture

TINY = {"depth": 2, "embed_dim": 32, "num_heads": 2}


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny matrices: on a busy shared CPU, thread hand-offs (torch, BLAS, OpenMP in t-SNE)
    cost far more than the arithmetic, so these tests run single-threaded."""
    from threadpoolctl import threadpool_limits

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    with threadpool_limits(limits=1):
        yield
    torch.set_num_threads(before)
MEAN, STD = (0.5, 0.5, 0.5), (0.25, 0.25, 0.25)


def tiny_vit(seed=0):
    torch.manual_seed(seed)
    return build_vit("vit_tiny", img_size=16, patch_size=4, **TINY).eval()


def random_images(n=10, size=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, 3, size, size), generator=g, dtype=torch.uint8)


def test_cli_on_a_plain_timm_state_dict_writes_metrics_and_figures(tmp_path):
    torch.manual_seed(0)
    vit = build_vit("vit_tiny", img_size=16, patch_size=4)
    torch.save(vit.state_dict(), tmp_path / "vit.pt")
    out = tmp_path / "out"
    argv = ["--checkpoint", str(tmp_path / "vit.pt"), "--dataset", "cifar10", "--out", str(out),
            "--arch", "vit_tiny", "--img-size", "16", "--patch-size", "4", "--num-images", "16",
            "--representation-images", "4", "--data-source", "sample", "--device", "cpu"]
    assert main(argv) == 0

    record = json.loads((out / "metrics.json").read_text())  # strict JSON: no NaN
    m, info = record["metrics"], record["info"]
    assert info["num_images"] == 16 and info["grid"] == [4, 4] and info["fourier_bin"] == 1
    assert info["num_blocks"] == 12 and info["num_heads"] == 3 and info["representation_images"] == 4
    for key in ("attention_distance", "nmi", "query_jsd"):
        assert len(m[key]) == 12 and all(len(heads) == 3 for heads in m[key]), key
    for key in ("head_jsd", "unison"):
        assert len(m[key]) == 12, key
    for key in ("fourier_delta", "silhouette", "effective_rank"):
        assert len(m[key]) == 13, key
    assert len(m["fourier_curves"]) == 13 and all(len(c) == 2 and c[0] == 0 for c in m["fourier_curves"])
    assert all(0 <= d <= 4 * 4.25 for heads in m["attention_distance"] for d in heads)  # ≤ max distance on 4×4
    assert "sample" in record["dataset"]["source"].lower()
    assert record["checkpoint"]["kind"] == "state dict" and record["provenance"]["images"] == 16
    assert len(record["examples"]["tsne"]["points"]) == 4 * 16
    for name in ("attention_metrics.png", "fourier.png", "representation_metrics.png", "attention_map.png", "tsne.png"):
        assert (out / name).stat().st_size > 1000, name
    # The metrics plug straight into the claims checker.
    rows = {r.id: r.status for r in scoreboard({"models": {"mocov3": m, "simmim": m, "random_init": m}})}
    assert rows[1] == rows[3] == rows[6] == rows[8] == rows[19] == "inconclusive"  # equal, untrained models


def test_metrics_do_not_depend_on_batch_size():
    vit, images = tiny_vit(), random_images(10)
    one = compute_metrics(vit, images, MEAN, STD, batch_size=10, tsne=False)
    three = compute_metrics(vit, images, MEAN, STD, batch_size=3, tsne=False)
    for key, value in one["metrics"].items():
        assert torch.allclose(torch.tensor(value), torch.tensor(three["metrics"][key]), atol=1e-5), key


def test_metrics_match_direct_calls_of_the_analysis_functions():
    vit, images = tiny_vit(), random_images(6)
    with torch.no_grad():  # sharper, far-from-uniform attention, so that wrong conventions show
        for block in vit.blocks:
            block.attn.qkv.weight.mul_(6.0)
    result = compute_metrics(vit, images, MEAN, STD, tsne=False)
    from sslvit_lite.data import normalize

    with capture(vit) as cap, torch.no_grad():
        vit(normalize(images, MEAN, STD))
    attn = cap.attentions[1][:, :, 1:, 1:]
    ad = mean_attention_distance(attn, (4, 4), 4).mean(0)
    assert torch.allclose(torch.tensor(result["metrics"]["attention_distance"][1]), ad, atol=1e-5)
    nmi = attention_nmi(attn).mean(0)
    assert torch.allclose(torch.tensor(result["metrics"]["nmi"][1]), nmi, atol=1e-5)
    delta = fourier_log_amplitude(cap.tokens[4], 1, (4, 4))[-1]  # depth 2 = zs[4]
    assert result["metrics"]["fourier_delta"][2] == pytest.approx(float(delta), abs=1e-5)
    metrics = result["metrics"]
    # query rows, not key columns: the two differ for any attention that is not symmetric
    assert not torch.allclose(query_jsd(attn), query_jsd(attn.transpose(-1, -2)), rtol=0.05)
    assert torch.allclose(torch.tensor(metrics["query_jsd"][1]), query_jsd(attn).mean(0), atol=1e-5)
    assert metrics["head_jsd"][1] == pytest.approx(float(head_jsd(attn).mean()), abs=1e-5)
    assert torch.allclose(torch.tensor(metrics["attention_entropy"][1]), attention_entropy(attn).mean(0), atol=1e-5)
    # unison of block 2: its input zs[2] against the output of its attention sublayer zs[3], not the MLP's zs[4]
    right = float(unison_ratio(cap.tokens[2][:, 1:], cap.tokens[3][:, 1:]).mean())
    wrong = float(unison_ratio(cap.tokens[2][:, 1:], cap.tokens[4][:, 1:]).mean())
    assert abs(right - wrong) > 1e-3
    assert metrics["unison"][1] == pytest.approx(right, abs=1e-5)


def test_num_images_subset_is_seeded_and_images_are_resized():
    vit = tiny_vit()
    images = random_images(12, size=32)
    a = compute_metrics(vit, images, MEAN, STD, num_images=5, seed=3, tsne=False)
    b = compute_metrics(vit, images, MEAN, STD, num_images=5, seed=3, tsne=False)
    c = compute_metrics(vit, images, MEAN, STD, num_images=5, seed=4, tsne=False)
    assert a["metrics"] == b["metrics"] and a["metrics"] != c["metrics"]
    assert a["info"]["num_images"] == 5 and a["info"]["input_size"] == [16, 16]


def test_compute_metrics_restores_training_mode_and_validates():
    vit = tiny_vit().train()
    compute_metrics(vit, random_images(4), MEAN, STD, tsne=False)
    assert vit.training
    with pytest.raises(ValueError, match="uint8"):
        compute_metrics(vit, random_images(4).float(), MEAN, STD)
    with pytest.raises(ValueError, match="num_images"):
        compute_metrics(vit, random_images(4), MEAN, STD, num_images=1)


def training_checkpoint(vit):
    state = {f"backbone.{k}": v for k, v in vit.state_dict().items()}
    state["projector.0.weight"] = torch.zeros(4, 32)  # objective heads are ignored
    config = {"arch": "vit_tiny", "img_size": 16, "patch_size": 4, "vit_kwargs": TINY, "objective": "mocov3"}
    return {"model": state, "config": config, "step": 7, "provenance": {"commit": "test"}}


def test_loads_project_training_checkpoints_and_run_folders(tmp_path):
    vit = tiny_vit(seed=1)
    run = tmp_path / "run"
    run.mkdir()
    torch.save(training_checkpoint(vit), run / "final.pt")
    for path in (run / "final.pt", run):
        loaded, info = load_backbone(path)
        assert info["kind"] == "training checkpoint" and info["step"] == 7 and info["img_size"] == 16
        for key, value in vit.state_dict().items():
            assert torch.equal(loaded.state_dict()[key], value), key
    with pytest.raises(ValueError, match="img_size=16 in the checkpoint but 32 requested"):
        load_backbone(run, img_size=32)


def test_plain_state_dicts_tolerate_prefixes_and_heads_but_not_wrong_architectures(tmp_path):
    vit = build_vit("vit_tiny", img_size=16, patch_size=4, num_classes=10)
    state = {f"module._orig_mod.{k}": v for k, v in vit.state_dict().items()}  # DDP + torch.compile
    torch.save(state, tmp_path / "wrapped.pt")
    loaded, info = load_backbone(tmp_path / "wrapped.pt", arch="vit_tiny", img_size=16, patch_size=4)
    assert info["kind"] == "state dict"
    assert torch.equal(loaded.state_dict()["cls_token"], vit.state_dict()["cls_token"])
    with pytest.raises(CheckpointError, match="does not fit"):
        load_backbone(tmp_path / "wrapped.pt", arch="vit_small", img_size=16, patch_size=4)
    with pytest.raises(CheckpointError, match="no checkpoint"):
        load_backbone(tmp_path / "missing.pt")


def test_cli_resizes_the_arch_for_a_plain_state_dict_of_a_smaller_vit(tmp_path, capsys):
    torch.manual_seed(0)
    vit = build_vit("vit_tiny", img_size=16, patch_size=4, depth=2, embed_dim=32, num_heads=2)
    torch.save(vit.state_dict(), tmp_path / "small.pt")
    base = ["--checkpoint", str(tmp_path / "small.pt"), "--dataset", "cifar10", "--img-size", "16",
            "--num-images", "8", "--representation-images", "2", "--data-source", "sample", "--device", "cpu",
            "--no-figures", "--no-tsne"]
    with pytest.raises(SystemExit) as stop:  # plain vit_tiny does not fit: exit 2, one line naming the keys
        main(base + ["--out", str(tmp_path / "fail")])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and "wrong shape" in err and len(err.strip().splitlines()) == 1
    assert main(base + ["--out", str(tmp_path / "ok"), "--depth", "2", "--embed-dim", "32", "--num-heads", "2"]) == 0
    record = json.loads((tmp_path / "ok" / "metrics.json").read_text())
    assert record["info"]["num_blocks"] == 2 and record["info"]["num_heads"] == 2


@pytest.mark.parametrize("content, message", [
    (None, "no checkpoint at"),
    (b"not a checkpoint at all", "corrupt, truncated"),
    ("truncated", "corrupt, truncated"),
])
def test_cli_bad_checkpoint_is_one_line_and_exit_2(tmp_path, capsys, content, message):
    path = tmp_path / "model.pt"
    if content == "truncated":
        torch.save(tiny_vit().state_dict(), path)
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    elif content is not None:
        path.write_bytes(content)
    with pytest.raises(SystemExit) as stop:
        main(["--checkpoint", str(path), "--dataset", "cifar10", "--out", str(tmp_path / "out"),
              "--data-source", "sample"])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and message in err and str(path) in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
