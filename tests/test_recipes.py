"""The laptop recipe learns on real images: each objective's loss falls on held-out batches.

A short run at the `cpu` preset's own settings (architecture, batch, peak learning rate, optimiser,
hyperparameters; only the schedule is shortened) on the package's embedded CIFAR-10 sample.
"""

import pytest
import torch

from sslvit_lite.data import load_sample
from sslvit_lite.presets import OBJECTIVE_NAMES, resolve
from sslvit_lite.train import Trainer

STEPS, WARMUP, HELD_OUT = 30, 5, 256


def held_out_loss(trainer: Trainer, images: torch.Tensor) -> float:
    """Mean objective loss on ``images`` (uint8 (N, 3, 32, 32)), the same views and masks every call."""
    torch.manual_seed(123)
    losses = []
    with torch.no_grad():
        for batch in images.split(128):
            losses.append(float(trainer.objective(trainer.recipe(batch))["loss"]))
    return sum(losses) / len(losses)


@pytest.mark.parametrize("objective", OBJECTIVE_NAMES)
def test_laptop_recipe_lowers_the_held_out_loss(objective, tmp_path):
    sample = load_sample()
    train, held_out = sample.images[HELD_OUT:], sample.images[:HELD_OUT]
    config = resolve(objective, "cpu", steps=STEPS, warmup_steps=WARMUP, snapshot_steps=(), data_source="sample")
    trainer = Trainer(config, tmp_path, images=train, progress=False, verbose=False)
    before = held_out_loss(trainer, held_out)
    trainer.fit()
    after = held_out_loss(trainer, held_out)
    assert after < before - 0.02 * abs(before), f"{objective}: held-out loss {before:.4f} -> {after:.4f}"
