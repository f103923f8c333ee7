"""What a training run logs: per-step scalars kept on the device, and the run's ``metrics.jsonl``.

:class:`StepMeter` fills one (log_every,) device buffer per scalar, step by step, without waiting
for the device; :meth:`StepMeter.read` copies the interval to the host once (averaged over DDP ranks)
and gives the per-scalar means. :class:`MetricsLog` appends one JSON record per log step and, when a
run resumes, drops the records written after the checkpoint it resumes from.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
import torch.distributed as dist


class StepMeter:
    """Scalars of up to ``capacity`` steps on ``device``; ``count`` of them since the last :meth:`read`."""

    def __init__(self, capacity: int, device: torch.device):
        if capacity < 1:
            raise ValueError(f"capacity must be ≥ 1, got {capacity}")
        self.capacity, self.device = capacity, device
        self.buffers: dict[str, torch.Tensor] = {}
        self.count = 0

    def add(self, scalars: dict[str, torch.Tensor | float]) -> None:
        """Record one step: 0-d tensors are copied on the device, Python numbers filled in (no host sync)."""
        if self.count == self.capacity:
            raise RuntimeError(f"the meter holds {self.capacity} steps already; read it first")
        for key, value in scalars.items():
            if key not in self.buffers:
                self.buffers[key] = torch.zeros(self.capacity, device=self.device)
            if isinstance(value, torch.Tensor):
                self.buffers[key][self.count] = value
            else:
                self.buffers[key][self.count].fill_(value)
        self.count += 1

    def read(self, world_size: int = 1) -> dict[str, torch.Tensor]:
        """The recorded steps as host tensors, key → (count,), averaged over ranks; empties the meter."""
        keys = list(self.buffers)
        stacked = torch.stack([self.buffers[k][: self.count] for k in keys])  # (K, count)
        if world_size > 1:
            dist.all_reduce(stacked)
            stacked /= world_size
        values = stacked.cpu()  # the one host sync per log interval
        self.count = 0
        return dict(zip(keys, values))


def finite_means(values: dict[str, torch.Tensor]) -> dict[str, float]:
    """The mean of each scalar over its finite values (NaN when none is finite): steps that an fp16
    GradScaler skipped have an infinite grad_norm and must not make the interval's mean infinite."""
    means = {}
    for key, column in values.items():
        finite = torch.isfinite(column)
        means[key] = float(column[finite].mean()) if finite.any() else float("nan")
    return means


def first_non_finite(values: torch.Tensor) -> int | None:
    """The index of the first NaN or infinite entry of ``values`` (n,), or None."""
    bad = (~torch.isfinite(values)).nonzero()
    return int(bad[0]) if len(bad) else None


class MetricsLog:
    """A run's ``metrics.jsonl``: one JSON record per line, appended as the run goes."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)

    def append(self, record: dict) -> None:
        with open(self.path, "a") as f:
            f.write(json.dumps(record) + "\n")

    def records(self) -> list[dict]:
        """Every record, oldest first (blank lines skipped); ``[]`` when there is no log."""
        lines = self.path.read_text().splitlines() if self.path.is_file() else []
        return [json.loads(line) for line in lines if line.strip()]

    def trim(self, step: int) -> None:
        """Drop the records past ``step`` (written after the checkpoint a run resumes from), atomically."""
        if not self.path.is_file():
            return
        kept = [json.dumps(r) for r in self.records() if r.get("step", 0) <= step]
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        tmp.write_text("".join(line + "\n" for line in kept))
        os.replace(tmp, self.path)
