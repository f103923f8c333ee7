import pytest
import torch

from sslvit_lite.objectives import OBJECTIVES
from sslvit_lite.presets import OBJECTIVE_NAMES, PRESETS, TrainConfig, get_preset, resolve, steps_for


def test_presets_exist_with_their_fields():
    assert set(PRESETS) == {"smoke", "cpu", "colab-t4", "cifar10-h100"}
    for preset in PRESETS.values():
        for objective in OBJECTIVE_NAMES:
            cfg = resolve(objective, preset.name)
            assert cfg.preset == preset.name and cfg.objective == objective
            assert cfg.arch and cfg.img_size % cfg.patch_size == 0 and cfg.batch_size > 0 and cfg.epochs > 0
            assert cfg.precision in ("auto", "fp32") and isinstance(cfg.compile, bool)
            assert 0 <= cfg.warmup_epochs < cfg.epochs


def test_objective_names_agree_with_the_objectives_package():
    assert set(OBJECTIVE_NAMES) == set(OBJECTIVES)


@pytest.mark.parametrize("preset", list(PRESETS))
@pytest.mark.parametrize("objective", OBJECTIVE_NAMES)
def test_preset_hparams_are_valid_for_each_objective(preset, objective):
    cfg = resolve(objective, preset)
    OBJECTIVES[objective].resolve_hparams(dict(cfg.hparams))  # raises on unknown names


def test_upstream_optimiser_recipes():
    moco, simmim, mae = (resolve(o, "colab-t4") for o in ("mocov3", "simmim", "mae"))
    assert (moco.blr, moco.weight_decay, moco.betas) == (1.5e-4, 0.1, (0.9, 0.999))
    assert (simmim.blr, simmim.weight_decay, simmim.clip_grad) == (5e-5, 0.05, 5.0)
    assert simmim.vit_kwargs["drop_path_rate"] == 0.1
    assert (mae.betas, mae.weight_decay) == ((0.9, 0.95), 0.05)
    assert moco.warmup_epochs == pytest.approx(100 * 40 / 300, abs=0.01)
    assert moco.peak_lr == pytest.approx(1.5e-4 * 256 / 256)
    h100 = resolve("simmim", "cifar10-h100")
    assert h100.peak_lr == pytest.approx(5e-5 * 1024 / 256) and h100.compile


def test_unknown_preset_lists_the_valid_names():
    with pytest.raises(ValueError, match="valid: auto, smoke, cpu, colab-t4, cifar10-h100"):
        get_preset("a100")


def test_auto_picks_smoke_without_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert get_preset("auto").name == "smoke"
    assert resolve("mae", "auto").preset == "smoke"


def test_overrides_apply_and_keep_the_warmup_fraction():
    base = resolve("mocov3", "colab-t4")
    cfg = resolve("mocov3", "colab-t4", epochs=30, batch_size=128, hparams={"tau": 0.1}, lr=1e-3)
    assert cfg.epochs == 30 and cfg.batch_size == 128 and cfg.peak_lr == 1e-3
    assert cfg.warmup_epochs == pytest.approx(base.warmup_epochs * 30 / 100, abs=0.01)
    assert cfg.hparams["tau"] == 0.1
    assert resolve("mocov3", "smoke", hparams={"tau": 0.1}).hparams["proj_dim"] == 32  # merged, not replaced


def test_bad_values_are_rejected_with_the_valid_ones():
    with pytest.raises(ValueError, match="unknown setting.*valid: objective"):
        resolve("mae", "smoke", epoch=3)
    with pytest.raises(ValueError, match="valid: mocov3, simmim, mae, hybrid"):
        resolve("dino", "smoke")
    with pytest.raises(ValueError, match="valid: auto, bf16, fp16, fp32"):
        resolve("mae", "smoke", precision="fp8")
    with pytest.raises(ValueError, match="positive integers"):
        resolve("mae", "smoke", steps=0)
    with pytest.raises(ValueError, match="multiple of patch_size"):
        resolve("mae", "smoke", img_size=18)


def test_config_round_trips_through_a_dict():
    cfg = resolve("hybrid", "smoke", hparams={"lam": 0.4})
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg


def test_steps_for_counts_and_warmup():
    cfg = resolve("mae", "smoke")  # 2 epochs, warm-up 0.1 epoch, batch 64
    assert steps_for(cfg, 256) == (4, 8, 0)
    cfg = resolve("mocov3", "smoke", epochs=10, warmup_epochs=2)
    assert steps_for(cfg, 256) == (4, 40, 8)
    assert steps_for(resolve("mae", "smoke", steps=5), 256) == (4, 5, 0)
