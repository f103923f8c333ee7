"""Reproduce the book's results in one command: train, analyse, probe, score the claims.

``python -m sslvit_lite reproduce --preset cpu --out results/laptop`` runs, stage by stage:

1. **train**: MoCo v3, SimMIM, MAE and the hybrid's interior λ points (seed 0), then the
   replicate seeds of MoCo v3 and SimMIM (``--seeds``); each run keeps slim encoder snapshots at the
   preset's ``snapshot_steps`` (step 0 is its random initialisation);
2. **export**: slim fp16 checkpoints of the final models, with their loss logs, under ``OUT/checkpoints``;
3. **evaluate**: kNN and linear probe on the CLS token, per seed, against random-init encoders of the
   same architecture (one per seed), and per-block probes (Park et al., ICLR 2023, Fig 10);
4. **analyze**: every analysis of §2-§4 of the paper on each model and on the random-init encoder;
5. **emergence**: attention distance, NMI and entropy per block at every snapshot (how locality
   appears in MIM and collapses in CL during training);
6. **sweep**: the hybrid's λ sweep (Fig 12), the endpoints taken from the SimMIM and MoCo v3 runs when
   the preset configures them identically (:func:`endpoints_shared`);
7. **claims**: the scoreboard, and control scoreboards with random-init encoders in place of the CL
   model, of the MIM model, and of both (none of those may hold a claim);
8. **figures**.

Every stage writes its JSON under ``OUT`` and is skipped when that file exists; a training run
killed at any point resumes from its last checkpoint. ``OUT/provenance.json`` records the command,
commit, device and the seconds each stage took (added up over resumptions).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Callable, Sequence

STAGES = ("train", "export", "evaluate", "analyze", "emergence", "sweep", "claims", "figures")
MODELS = ("simmim", "mae", "mocov3")  # the pure objectives (fastest first); the hybrid is handled by the sweep
SEEDED = ("mocov3", "simmim")  # the headline comparison, trained with every seed


def run_name(objective: str, seed: int = 0, lam: float | None = None) -> str:
    """Folder name of one run: ``mocov3-seed0``, ``hybrid-lam0.2-seed0``."""
    return f"{objective}-lam{float(lam):g}-seed{seed}" if lam is not None else f"{objective}-seed{seed}"


def endpoints_shared(preset: str, dataset: str = "cifar10") -> bool:
    """True when ``preset`` configures the hybrid at λ = 0 exactly like SimMIM and at λ = 1 exactly like
    MoCo v3 (every engine setting and hyperparameter but the objective's name), so the sweep's endpoints
    are those runs and need no training of their own."""
    from sslvit_lite.objectives import hybrid, mocov3, simmim
    from sslvit_lite.presets import resolve

    def engine(config) -> dict:
        d = config.to_dict()
        d.pop("objective"), d.pop("hparams")
        return d

    for lam, pure, module in ((0.0, "simmim", simmim), (1.0, "mocov3", mocov3)):
        mixed = resolve("hybrid", preset, dataset, hparams={"lam": lam})
        alone = resolve(pure, preset, dataset)
        used = {**hybrid.DEFAULTS, **mixed.hparams}
        if engine(mixed) != engine(alone):
            return False
        if any(used[key] != {**module.DEFAULTS, **alone.hparams}[key] for key in module.DEFAULTS):
            return False
    return True


class Reproduction:
    """The stages of the module docstring for one preset, writing into ``out``."""

    def __init__(self, preset: str, out: str | os.PathLike, dataset: str = "cifar10", data_source: str = "auto",
                 seeds: int = 1, lambdas: Sequence[float] = (0.2,), eval_train: int = 10_000,
                 eval_test: int = 2_000, analysis_images: int = 512, progress: bool = True,
                 command: str | None = None):
        from sslvit_lite.presets import get_preset
        from sslvit_lite.sweep import check_lambdas

        if seeds < 1:
            raise ValueError(f"seeds must be >= 1, got {seeds}")
        self.preset = get_preset(preset).name
        self.out, self.dataset, self.data_source = Path(out), dataset, data_source
        self.seeds = seeds
        self.lambdas = check_lambdas(lambdas)
        interior = [lam for lam in self.lambdas if 0.0 < lam < 1.0]
        self.shared = endpoints_shared(self.preset, dataset)
        self.train_lambdas = interior if self.shared else self.lambdas
        self.eval_train, self.eval_test, self.analysis_images = eval_train, eval_test, analysis_images
        self.progress = progress
        self.command = command or " ".join(["python -m sslvit_lite", *sys.argv[1:]])
        self.runs = self.out / "runs"

    # -- bookkeeping ---------------------------------------------------------------------------

    @property
    def provenance_path(self) -> Path:
        return self.out / "provenance.json"

    def _provenance(self) -> dict:
        if self.provenance_path.is_file():
            return json.loads(self.provenance_path.read_text())
        return {"seconds": {}}

    def _add_seconds(self, key: str, seconds: float) -> None:
        from sslvit_lite.provenance import provenance

        record = self._provenance()
        record.update(json.loads(json.dumps(provenance(None, preset=self.preset, dataset=self.dataset), default=str)))
        record["command"] = self.command
        record["seconds"][key] = round(record["seconds"].get(key, 0.0) + seconds, 1)
        self.out.mkdir(parents=True, exist_ok=True)
        tmp = self.provenance_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(record, indent=1) + "\n")
        os.replace(tmp, self.provenance_path)

    def _timed(self, key: str, work: Callable[[], object]):
        start = time.perf_counter()
        try:
            return work()
        finally:
            self._add_seconds(key, time.perf_counter() - start)

    # -- 1. train ------------------------------------------------------------------------------

    def planned_runs(self) -> list[dict]:
        """Every training run, in the order they are trained: seed 0 of each model and the hybrid, then
        the replicate seeds of the headline models."""
        plan = [{"objective": name, "seed": 0, "lam": None} for name in MODELS]
        plan += [{"objective": "hybrid", "seed": 0, "lam": lam} for lam in self.train_lambdas]
        plan += [{"objective": name, "seed": s, "lam": None} for s in range(1, self.seeds) for name in SEEDED]
        for run in plan:
            run["name"] = run_name(run["objective"], run["seed"], run["lam"])
        return plan

    def train(self) -> dict[str, Path]:
        from sslvit_lite.train import pretrain

        finals = {}
        for run in self.planned_runs():
            overrides = {"seed": run["seed"]}
            if run["lam"] is not None:
                overrides["hparams"] = {"lam": run["lam"]}
            finals[run["name"]] = self._timed(
                f"train {run['name']}",
                lambda: pretrain(run["objective"], self.dataset, self.preset, self.runs / run["name"],
                                 self.data_source, progress=self.progress, **overrides))
        return finals


def main(argv: Sequence[str] | None = None) -> int:
    import argparse

    from sslvit_lite.presets import PRESETS

    parser = argparse.ArgumentParser(prog="sslvit-lite reproduce", description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="cpu", choices=list(PRESETS))
    parser.add_argument("--out", required=True, metavar="DIR")
    parser.add_argument("--dataset", default="cifar10")
    parser.add_argument("--data-source", default="auto")
    parser.add_argument("--seeds", type=int, default=1, help="seeds of MoCo v3 and SimMIM (headline numbers)")
    parser.add_argument("--stages", nargs="+", default=list(STAGES), choices=STAGES)
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    repro = Reproduction(args.preset, args.out, args.dataset, args.data_source, seeds=args.seeds,
                         progress=not args.no_progress)
    for stage in args.stages:
        getattr(repro, stage)()
    return 0


if __name__ == "__main__":
    sys.exit(main())
