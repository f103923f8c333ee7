import pytest
import torch

from sslvit_lite.objectives import OBJECTIVES
from sslvit_lite.presets import (OBJECTIVE_NAMES, PRESETS, TrainConfig, get_preset, lr_budget, resolve,
                                 small_batch_lr, steps_for)


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
    h100 = resolve("simmim", "cifar10-h100")
    assert h100.compile and h100.vit_kwargs["pos_embed"] == "sincos"


def test_small_batch_learning_rate_rule():
    assert small_batch_lr(128) == pytest.approx(1e-3)
    assert small_batch_lr(512) == pytest.approx(2e-3)  # square root, not linear
    assert resolve("mocov3", "colab-t4").peak_lr == pytest.approx(small_batch_lr(256))
    assert resolve("simmim", "cifar10-h100").peak_lr == pytest.approx(small_batch_lr(1024))


# Σ lr below which a ViT stays at its random initialisation (measured: the old laptop preset, 0.002).
MIN_LR_BUDGET = 0.1
TRAIN_IMAGES = {"cpu": 50_000, "colab-t4": 50_000, "cifar10-h100": 50_000}


@pytest.mark.parametrize("preset", list(TRAIN_IMAGES))
@pytest.mark.parametrize("objective", OBJECTIVE_NAMES)
def test_every_training_preset_can_move_the_model(preset, objective):
    cfg = resolve(objective, preset)
    assert lr_budget(cfg, TRAIN_IMAGES[preset]) > MIN_LR_BUDGET
    assert steps_for(cfg, TRAIN_IMAGES[preset])[2] >= 1  # warm-up never rounds to zero
    assert cfg.vit_kwargs["pos_embed"] == "sincos"


def test_lr_budget_flags_the_schedule_that_learned_nothing():
    # The laptop preset before the fix: upstream blr scaled linearly to batch 128, 3 epochs of 2,048 images.
    frozen = resolve("simmim", "cpu", lr=5e-5 * 128 / 256, steps=None, epochs=3, warmup_epochs=0.3, warmup_steps=None)
    assert lr_budget(frozen, 2048) < MIN_LR_BUDGET / 10
    cfg = resolve("simmim", "cpu")
    _, total, warmup = steps_for(cfg, 50_000)
    assert lr_budget(cfg, 50_000) == pytest.approx(cfg.peak_lr * (warmup / 2 + (total - warmup) / 2), rel=0.02)


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
    cfg = resolve("mae", "smoke")  # 2 epochs, warm-up 0.1 epoch (0.4 steps, rounded up), batch 64
    assert steps_for(cfg, 256) == (4, 8, 1)
    cfg = resolve("mocov3", "smoke", epochs=10, warmup_epochs=2)
    assert steps_for(cfg, 256) == (4, 40, 8)
    assert steps_for(resolve("mae", "smoke", steps=5), 256) == (4, 5, 1)
    assert steps_for(resolve("mae", "smoke", warmup_epochs=0), 256) == (4, 8, 0)
    assert steps_for(resolve("mae", "smoke", warmup_steps=3), 256) == (4, 8, 3)
    assert steps_for(resolve("mae", "smoke", warmup_steps=50), 256) == (4, 8, 7)  # one step of decay left
    with pytest.raises(ValueError, match="warmup_steps"):
        resolve("mae", "smoke", warmup_steps=-1)
    with pytest.raises(ValueError, match="snapshot_steps"):
        resolve("mae", "smoke", snapshot_steps=(4, 4))
