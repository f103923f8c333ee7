"""50 training steps of each objective, at a fixed recipe and seed, end in recorded weights, bit for bit.

The digests in ``tests/data/reference_weights.json`` were written by this module
(``python tests/test_train_reference_weights.py``) before the engine was reorganised; a change that
moves code around (the loop, checkpoints, the meter) must leave every digest as it is. Bit-exact
floating point is only defined for one build on one kind of CPU, so the test is skipped, naming the
difference, where torch, timm or the CPU's instruction set differ from the recorded ones.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import pytest
import timm
import torch

from sslvit_lite.presets import OBJECTIVE_NAMES
from sslvit_lite.presets import resolve
from sslvit_lite.train import Trainer

REFERENCE = Path(__file__).parent / "data" / "reference_weights.json"
STEPS = 50


def build_key() -> dict:
    return {"torch": torch.__version__.split("+")[0], "timm": timm.__version__,
            "cpu": torch.backends.cpu.get_cpu_capability()}


def weights_digest(state: dict) -> str:
    """SHA-256 over every tensor of a state dict, in key order (names, dtypes, shapes and bytes)."""
    digest = hashlib.sha256()
    for key in sorted(state):
        tensor = state[key].detach().cpu().contiguous()
        digest.update(f"{key}:{tensor.dtype}:{tuple(tensor.shape)}".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes() if tensor.numel() else b"")
    return digest.hexdigest()


def train_steps(objective: str, out: Path, stop_at: int | None = None) -> str:
    """The digest of ``objective``'s weights after ``STEPS`` smoke-preset steps on fixed random images
    (one thread, so that the order of every reduction is fixed); ``stop_at`` interrupts the run once."""
    config = resolve(objective, "smoke", steps=STEPS, batch_size=16, log_every=10, ckpt_every=25, seed=3)
    images = torch.randint(0, 256, (96, 3, 16, 16), generator=torch.Generator().manual_seed(7), dtype=torch.uint8)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        if stop_at is not None:
            Trainer(config, out, images=images, progress=False, verbose=False).fit(stop_at=stop_at)
        trainer = Trainer(config, out, images=images, progress=False, verbose=False)
        trainer.fit()
    finally:
        torch.set_num_threads(threads)
    assert trainer.step == STEPS
    return weights_digest(trainer.objective.state_dict())


def reference() -> dict:
    recorded = json.loads(REFERENCE.read_text())
    if recorded["build"] != build_key():
        pytest.skip(f"digests recorded with {recorded['build']}, this build is {build_key()}")
    return recorded["digests"]


@pytest.mark.parametrize("objective", OBJECTIVE_NAMES)
def test_fifty_steps_end_in_the_recorded_weights(objective, tmp_path):
    assert train_steps(objective, tmp_path / "run") == reference()[objective]


def test_an_interrupted_run_ends_in_the_recorded_weights(tmp_path):
    assert train_steps("mocov3", tmp_path / "run", stop_at=25) == reference()["mocov3"]


def test_the_digest_sees_a_one_bit_change():
    state = {"w": torch.ones(4), "b": torch.zeros(2)}
    flipped = {"w": torch.ones(4), "b": torch.zeros(2)}
    flipped["w"].view(torch.int32)[2] ^= 1  # the lowest bit of one mantissa
    assert weights_digest(state) != weights_digest(flipped)
    assert weights_digest(state) == weights_digest({"b": torch.zeros(2), "w": torch.ones(4)})


if __name__ == "__main__":  # record the digests of this build
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        digests = {name: train_steps(name, Path(tmp) / name) for name in OBJECTIVE_NAMES}
    REFERENCE.write_text(json.dumps({"build": build_key(), "steps": STEPS, "digests": digests}, indent=1) + "\n")
    print(json.dumps(digests, indent=1), file=sys.stderr)
