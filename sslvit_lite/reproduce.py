"""Reproduce the book's results in one command: train, analyse, probe, score the claims.

``python -m sslvit_lite reproduce --preset cpu --out results/laptop`` runs, stage by stage:

1. **train**: MoCo v3, SimMIM, MAE and the hybrid's interior λ points (seed 0), then the
   replicate seeds of MoCo v3, SimMIM and MAE (``--seeds``); each run keeps slim encoder snapshots at
   the preset's ``snapshot_steps`` (step 0 is its random initialisation);
2. **export**: slim fp16 checkpoints of the final models, with their loss logs, under ``OUT/checkpoints``;
3. **evaluate**: the book's one probe protocol (:data:`sslvit_lite.probing.PROTOCOL`: kNN and linear
   probe on the mean-pooled patch tokens of every block, Park et al., ICLR 2023, Fig 10; the last block
   is the headline) and, as a labelled extra, on the [CLS] token after the final norm, for every run and
   for :data:`RANDOM_SEEDS` random-init encoders of each initialisation the runs use;
4. **analyze**: every analysis of Sec. 2–4 of the paper on the same encoders;
5. **emergence**: attention distance, NMI and entropy per block at every snapshot (how locality
   appears in MIM and collapses in CL during training);
6. **sweep**: the hybrid's λ sweep (Fig 12), the endpoints taken from the SimMIM and MoCo v3 runs when
   the preset configures them identically (:func:`endpoints_shared`);
7. **claims**: the scoreboard over every pairing of seeds (:mod:`sslvit_lite.claims`), and control
   scoreboards with random-init encoders in place of the CL model, of the MIM model, of both, and of MAE,
   each compared with the *other* random inits (none of those may hold a claim);
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

import torch

from sslvit_lite.analysis.fourier import fourier_by_depth
from sslvit_lite.measure import compute_metrics
from sslvit_lite.checkpoint import CheckpointError, build_backbone, load_backbone, load_objective
from sslvit_lite.claims import margins, scoreboard, scoreboard_markdown, spreads
from sslvit_lite.data import DatasetUnavailableError, dataset_stats, load_dataset
from sslvit_lite.emergence import emergence, plot_emergence, uniform_distance
from sslvit_lite.naming import checkpoint_name, run_name
from sslvit_lite.objectives import hybrid, mocov3, simmim
from sslvit_lite.presets import PRESETS, get_preset, resolve
from sslvit_lite.probing import PROTOCOL, block_probes, evaluate_backbone, evaluation_split
from sslvit_lite.provenance import provenance, provenance_caption, strip_paths
from sslvit_lite.sweep import (ANALYSIS_KEYS, SCHEMA, check_lambdas, claims_results, log_records, save_sweep,
                               saved_sweep_path)
from sslvit_lite.train import pretrain
from sslvit_lite.vit import model_input, patch_grid
from sslvit_lite.saved_runs import export_run


STAGES = ("train", "export", "evaluate", "analyze", "emergence", "sweep", "claims", "figures")
MODELS = ("simmim", "mae", "mocov3")  # the pure objectives (fastest first); the hybrid is handled by the sweep
SEEDED = MODELS  # every claim is scored on every pairing of seeds
RANDOM_SEEDS = (100, 101, 102)  # the random-init controls of each initialisation: their own seeds, no run's


def run_key(objective: str, seed: int = 0, lam: float | None = None) -> str:
    """A run's folder under ``OUT/runs`` and its key in the results files: ``mocov3-seed0``, ``hybrid-lam0.2-seed0``."""
    return run_name(objective, lam=lam, seed=seed)


def endpoints_shared(preset: str, dataset: str = "cifar10") -> bool:
    """True when ``preset`` configures the hybrid at λ = 0 exactly like SimMIM and at λ = 1 exactly like
    MoCo v3 (every engine setting and hyperparameter but the objective's name), so the sweep's endpoints
    are those runs and need no training of their own."""

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

        if seeds < 1:
            raise ValueError(f"seeds must be >= 1, got {seeds}")
        self.preset = get_preset(preset).name
        self.out, self.dataset, self.data_source = Path(out), dataset, data_source
        self.seeds = seeds
        self.lambdas = check_lambdas(lambdas)
        interior = [lam for lam in self.lambdas if 0.0 < lam < 1.0]
        self.hybrid_lambda = interior[0] if interior else None  # the hybrid the claims score (Fig 12: 0.2)
        self.shared = endpoints_shared(self.preset, dataset)
        # the sweep needs both endpoints: the pure runs when they are the same, else hybrid runs at 0 and 1
        self.train_lambdas = interior if self.shared else check_lambdas(sorted({0.0, 1.0, *self.lambdas}))
        self.eval_train, self.eval_test, self.analysis_images = eval_train, eval_test, analysis_images
        self.progress = progress
        self.command = command or " ".join(["python -m sslvit_lite", *sys.argv[1:]])
        self.runs = self.out / "runs"
        self._started = None

    # -- bookkeeping ---------------------------------------------------------------------------

    @property
    def provenance_path(self) -> Path:
        return self.out / "provenance.json"

    def _provenance(self) -> dict:
        if self.provenance_path.is_file():
            return json.loads(self.provenance_path.read_text())
        return {"seconds": {}}

    def _add_seconds(self, key: str, seconds: float) -> None:
        if self._started is None:  # commit and device as the run began, before it wrote anything
            self._started = json.loads(json.dumps(provenance(None, preset=self.preset, dataset=self.dataset), default=str))
        record = self._provenance()
        record.update(self._started)
        record["command"] = self.command
        record["seconds"][key] = round(record["seconds"].get(key, 0.0) + seconds, 1)
        self._write(self.provenance_path.name, record)

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
            run["name"] = run_key(run["objective"], run["seed"], run["lam"])
        return plan

    def train(self) -> dict[str, Path]:
        finals = {}
        for run in self.planned_runs():
            finals[run["name"]] = self._timed(
                f"train {run['name']}",
                lambda: pretrain(run["objective"], self.dataset, self.preset, self.runs / run["name"],
                                 self.data_source, progress=self.progress, **self._overrides(run)))
        return finals

    # -- 2. export -----------------------------------------------------------------------------

    def checkpoint_path(self, name: str) -> Path:
        """Where the slim checkpoint of run ``name`` (a :func:`run_key`) is committed
        (:func:`sslvit_lite.naming.checkpoint_name`): seed 0 of each objective under the name the chapters
        load, ``checkpoints/mocov3-cifar10.pt``; the others e.g. ``checkpoints/mocov3-cifar10-seed1.pt``."""
        run = self._plan()[name]
        return self.out / "checkpoints" / checkpoint_name(run["objective"], self.dataset, lam=run["lam"],
                                                          seed=run["seed"])

    def _plan(self) -> dict[str, dict]:
        return {run["name"]: run for run in self.planned_runs()}

    def run_config(self, run: dict) -> dict:
        """The training config of a planned run, as its checkpoint stores it."""
        return resolve(run["objective"], self.preset, self.dataset, self.data_source,
                       **self._overrides(run)).to_dict()

    @staticmethod
    def _overrides(run: dict) -> dict:
        overrides = {"seed": run["seed"]}
        if run["lam"] is not None:
            overrides["hparams"] = {"lam": run["lam"]}
        return overrides

    def export(self) -> dict[str, Path]:
        exported = {}
        for run in self.planned_runs():
            dest = self.checkpoint_path(run["name"])
            if not dest.is_file():
                self._timed("export", lambda: export_run(self.runs / run["name"] / "final.pt", dest))
            exported[run["name"]] = dest
        return exported

    # -- helpers shared by the measuring stages ------------------------------------------------

    def _stats(self):
        return dataset_stats(self.dataset)

    def _load(self, name: str):
        vit, info = load_backbone(self.checkpoint_path(name))
        return vit.float().eval(), info

    def random_inits(self) -> dict[str, dict]:
        """The random-init controls: for each initialisation the runs use, one encoder per seed of
        :data:`RANDOM_SEEDS`, built from that run's config. ``{name: {"init", "seed", "config"}}``."""
        controls = {}
        for run in self.planned_runs():
            config = self.run_config(run)
            init = config["vit_kwargs"].get("init", "timm")
            for k, seed in enumerate(RANDOM_SEEDS):
                controls.setdefault(f"random-{init}-init-{k}", {"init": init, "seed": seed, "config": config})
        return controls

    def encoders(self):
        """Every encoder the measuring stages measure, as (name, fp32 eval model, description): each run,
        then each random-init control."""


        for run in self.planned_runs():
            vit, info = self._load(run["name"])
            init = info["config"]["vit_kwargs"].get("init", "timm")
            yield run["name"], vit, {"kind": "trained", "objective": run["objective"], "seed": run["seed"], "init": init}
        for name, control in self.random_inits().items():
            torch.manual_seed(control["seed"])
            vit = build_backbone(control["config"]).float().eval()
            yield name, vit, {"kind": "random init", "seed": control["seed"], "init": control["init"]}

    def _analysis_images(self):
        test = load_dataset(self.dataset, "test", source=self.data_source)
        return test.subset(min(self.analysis_images, len(test)), seed=0)

    def _write(self, name: str, table: dict) -> dict:
        """Write ``table`` as ``OUT/name`` atomically, without machine file locations; returns what was written."""
        table = strip_paths(table)
        path = self.out / name
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(table, indent=1, allow_nan=False) + "\n")
        os.replace(tmp, path)
        return table

    def _read(self, name: str) -> dict:
        return json.loads((self.out / name).read_text())

    def _done(self, name: str) -> bool:
        return (self.out / name).is_file()

    # -- 3. evaluate ---------------------------------------------------------------------------

    def evaluate(self) -> dict:
        """The probe protocol (:data:`sslvit_lite.probing.PROTOCOL`: kNN and linear probe on the mean-pooled
        patch tokens of every block) and, as a labelled extra, both on [CLS] after the final norm, for every
        encoder of :meth:`encoders`."""
        if self._done("evaluation.json"):
            return self._read("evaluation.json")


        def work():
            config = self.run_config(self._plan()[run_key("mocov3")])
            train, test = evaluation_split(self.dataset, self.data_source, config["img_size"], self.eval_train,
                                           self.eval_test, seed=0)
            mean, std = self._stats()
            table = {"protocol": {**PROTOCOL, "num_train": len(train), "num_test": len(test),
                                  "train_data": train.source, "test_data": test.source},
                     "extra": "cls: kNN and linear probe on the [CLS] token after the final norm (MoCo v3's and "
                              "MAE's own probes); the MIM losses never train [CLS]",
                     "encoders": {}}
            torch.manual_seed(0)
            for name, vit, about in self.encoders():
                blocks = block_probes(vit, train, test, mean, std, pools=("mean",))["mean"]
                cls = evaluate_backbone(vit, train, test, mean, std, pool="cls")
                table["encoders"][name] = {**about, "blocks": blocks,
                                           "cls": {"knn": cls["knn"], "linear_probe": cls["linear_probe"]}}
            return table

        table = self._timed("evaluate", work)
        return self._write("evaluation.json", table)

    # -- 4. analyze ----------------------------------------------------------------------------

    def analyze(self) -> dict:
        """Every analysis (:func:`sslvit_lite.measure.compute_metrics`) of every encoder of :meth:`encoders`
        (each model's ``"init"`` recorded), on the same test images; MAE's decoder in Fourier space too."""
        if self._done("analysis.json"):
            return self._read("analysis.json")

        def work():
            images = self._analysis_images()
            mean, std = self._stats()
            table = {"images": {"count": len(images), "source": images.source}, "models": {}}
            for name, vit, about in self.encoders():
                result = compute_metrics(vit, images.images, mean, std, batch_size=128, seed=0, tsne=False)
                table["models"][name] = {**result["metrics"], "init": about["init"]}
                table["info"] = {k: v for k, v in result["info"].items() if k != "conventions"}
            for run in self.planned_runs():
                if run["objective"] == "mae":
                    table["models"][run["name"]]["decoder_fourier_delta"] = self.mae_decoder_fourier(
                        run["name"], images.images)
            return table

        table = self._timed("analyze", work)
        return self._write("analysis.json", table)

    def mae_decoder_fourier(self, name: str, images_uint8) -> list[float]:
        """Δ log amplitude at the highest frequency after each of MAE's decoder blocks (Fig 11), with every
        token visible (mask ratio 0, as the encoder analysis sees whole images)."""


        mae = load_objective(self.checkpoint_path(name))
        backbone = mae.backbone
        x = model_input(backbone, images_uint8, *self._stats())  # (N, 3, H, W) at the model's size
        torch.manual_seed(0)
        with torch.no_grad():
            states = mae.decoder_states(x, mask_ratio=0.0)  # depth 0..D, (N, P + 1, C_dec)
        delta = fourier_by_depth(states, backbone.num_prefix_tokens, patch_grid(backbone))[:, -1]  # (D + 1,)
        return [round(float(v), 6) for v in delta[1:]]  # decoder blocks 1..D

    # -- 5. emergence --------------------------------------------------------------------------

    def emergence(self) -> dict:
        """Attention distance, NMI and entropy per block at every snapshot of seed 0 of each model."""
        if self._done("emergence.json"):
            return self._read("emergence.json")

        def work():
            images = self._analysis_images()
            mean, std = self._stats()
            return {"images": {"count": len(images), "source": images.source},
                    "runs": {run_key(name): emergence(self.runs / run_key(name), images.images, mean, std)
                             for name in MODELS}}

        table = self._timed("emergence", work)
        return self._write("emergence.json", table)

    # -- 6. sweep ------------------------------------------------------------------------------

    def sweep(self) -> dict:
        """The hybrid's λ sweep as a :mod:`sslvit_lite.sweep` table, built from the runs already measured."""
        path = saved_sweep_path(self.dataset, self.out)
        if path.is_file():
            return json.loads(path.read_text())
        evaluation, analysis = self.evaluate(), self.analyze()
        seconds = self._provenance()["seconds"]
        names = {0.0: run_key("simmim"), 1.0: run_key("mocov3")} if self.shared else {}
        names.update({lam: run_key("hybrid", 0, lam) for lam in self.train_lambdas})
        def probes(name: str) -> dict:  # the protocol: the last block of the per-block probes
            blocks = evaluation["encoders"][name]["blocks"]
            return {"knn": blocks["knn"][-1], "linear_probe": blocks["linear_probe"][-1], "fine_tune": None}

        control = next(n for n, e in evaluation["encoders"].items()
                       if e["kind"] == "random init" and e["init"] == evaluation["encoders"][names[min(names)]]["init"])
        points = []
        for lam, name in sorted(names.items()):
            info = self._load(name)[1]
            points.append({
                "lambda": lam, **probes(name),
                "metrics": {k: analysis["models"][name][k] for k in ANALYSIS_KEYS},
                "log": log_records(self.runs / name / "final.pt"),
                "train_seconds": seconds.get(f"train {name}"), "eval_seconds": None,
                "config": info["config"], "provenance": info["provenance"], "origin": f"run {name}",
            })
        table = {"schema": SCHEMA, "dataset": self.dataset, "preset": self.preset, "data_source": self.data_source,
                 "lambdas": sorted(names), "points": points,
                 "random_init": {**probes(control), "name": control,
                                 "metrics": {k: analysis["models"][control][k] for k in ANALYSIS_KEYS}},
                 "evaluation": {**evaluation["protocol"], "pool": "mean", "block": "last", "finetune_epochs": 0,
                                "analysis_images": analysis["images"]["count"], "seed": 0},
                 "provenance": self._provenance()}
        table = strip_paths(table)  # committed: no file locations of the machine that made it
        save_sweep(table, path)
        return table

    # -- 7. claims -----------------------------------------------------------------------------

    def claims_input(self, swap: dict[str, list[str]] | None = None) -> dict:
        """The :mod:`sslvit_lite.claims` input: every encoder's analyses with its per-block probes (the
        protocol), every seed of each model in its role, the random-init controls and the hybrid sweep.
        ``swap`` puts other encoders (random-init controls) in a role: the control scoreboards."""

        evaluation, analysis, sweep = self.evaluate(), self.analyze(), self.sweep()
        encoders = evaluation["encoders"]
        models = {name: {**analysis["models"][name], "linear_probe": about["blocks"]["linear_probe"]}
                  for name, about in encoders.items()}
        seeds = {role: [run["name"] for run in self.planned_runs() if run["objective"] == objective]
                 for role, objective in (("cl", "mocov3"), ("mim", "simmim"), ("mae", "mae"))}
        if self.hybrid_lambda is not None:
            seeds["hybrid"] = [run_key("hybrid", 0, self.hybrid_lambda)]
        roles = {**seeds, "random": [name for name, about in encoders.items() if about["kind"] == "random init"]}
        roles.update(swap or {})
        sweep_rows = []
        if self.hybrid_lambda is not None:
            sweep_rows = claims_results(sweep, self.hybrid_lambda)["hybrid_sweep"]
        return {"models": models, "roles": roles, "hybrid_sweep": sweep_rows,
                "provenance": {"preset": self.preset, **self._provenance()}}

    def controls(self) -> dict[str, dict[str, list[str]]]:
        """The control scoreboards: one random-init encoder (of the model's own initialisation) in place of
        the CL model, of the MIM model, of both (two different ones) and of MAE; the learned clause then
        compares it with the *other* random inits, never with itself."""
        evaluation = self.evaluate()
        randoms: dict[str, list[str]] = {}
        for name, about in evaluation["encoders"].items():
            if about["kind"] == "random init":
                randoms.setdefault(about["init"], []).append(name)
        init = {role: evaluation["encoders"][run_key(objective)]["init"]
                for role, objective in (("cl", "mocov3"), ("mim", "simmim"), ("mae", "mae"))}
        cl, mim = randoms[init["cl"]][0], randoms[init["mim"]][-1]
        return {"random CL": {"cl": [cl]}, "random MIM": {"mim": [mim]},
                "random CL and MIM": {"cl": [cl], "mim": [mim]}, "random MAE": {"mae": [randoms[init["mae"]][0]]}}

    def claims(self) -> dict:
        """The scoreboard of the trained models over every pairing of seeds, and the control scoreboards of
        :meth:`controls` (scored on one model per role, so a weak rule would let them hold something):
        a check that holds for a control is a defect."""
        results = self.claims_input()
        rows = self._timed("claims", lambda: scoreboard(results))
        swaps = self.controls()
        controls = {label: scoreboard(self.claims_input(swap), min_seeds=1) for label, swap in swaps.items()}
        table = {"scoreboard": [r.to_dict() for r in rows],
                 "spreads": {"CL and MIM": spreads(results, ("cl", "mim")), "all models": spreads(results)},
                 "margins": {"CL and MIM": {k: list(v) for k, v in margins(results, ("cl", "mim")).items()}},
                 "roles": results["roles"],
                 "controls": {label: {"roles": swap, "status": {r.id: r.status for r in controls[label]}}
                              for label, swap in swaps.items()},
                 "provenance": self._provenance()}
        self._write("scoreboard.json", table)
        (self.out / "scoreboard.md").write_text(scoreboard_markdown(rows) + "\n")
        return table

    # -- optional: the initialisation comparison -------------------------------------------------

    def inits(self, baseline: str | os.PathLike) -> dict:
        """Each model trained from timm's default initialisation against the runs here (the presets'
        official initialisations), with the recipe otherwise the same and every seed: attention distance
        and NMI per block, and the probes (the protocol and [CLS]). ``baseline`` holds the slim checkpoints
        of the timm-init runs under the names of :meth:`checkpoint_path` (e.g. ``mocov3-cifar10-seed1.pt``).
        Writes ``init_comparison.json``."""
        if self._done("init_comparison.json"):
            return self._read("init_comparison.json")

        evaluation, analysis = self.evaluate(), self.analyze()
        baseline = Path(baseline)

        def summary(metrics: dict, probes: dict, init: str) -> dict:
            distance = [sum(h) / len(h) for h in metrics["attention_distance"]]  # per block
            nmi = [sum(h) / len(h) for h in metrics["nmi"]]
            return {"init": init, "attention_distance": [round(d, 3) for d in distance],
                    "nmi": [round(v, 4) for v in nmi], **probes}

        def work():
            images = self._analysis_images()
            mean, std = self._stats()
            config = self.run_config(self._plan()[run_key("mocov3")])
            train, test = evaluation_split(self.dataset, self.data_source, config["img_size"], self.eval_train,
                                           self.eval_test, seed=0)
            table = {"runs": {}, "images": analysis["images"], "protocol": evaluation["protocol"]}
            for run in self.planned_runs():
                if run["objective"] == "hybrid":
                    continue
                name, objective = run["name"], run["objective"]
                about = evaluation["encoders"][name]
                official = summary(analysis["models"][name],
                                   {"knn": about["blocks"]["knn"][-1], "linear_probe": about["blocks"]["linear_probe"][-1],
                                    "cls_knn": about["cls"]["knn"], "cls_linear_probe": about["cls"]["linear_probe"]},
                                   about["init"])
                vit, info = load_backbone(baseline / self.checkpoint_path(name).name)
                vit = vit.float().eval()
                init = info["config"]["vit_kwargs"].get("init", "timm")
                metrics = compute_metrics(vit, images.images, mean, std, batch_size=128, seed=0, tsne=False)["metrics"]
                by_mean = evaluate_backbone(vit, train, test, mean, std, pool="mean")
                by_cls = evaluate_backbone(vit, train, test, mean, std, pool="cls")
                timm_side = summary(metrics, {"knn": by_mean["knn"], "linear_probe": by_mean["linear_probe"],
                                              "cls_knn": by_cls["knn"], "cls_linear_probe": by_cls["linear_probe"]}, init)
                table["runs"][name] = {"objective": objective, "seed": run["seed"], "official": official, "timm": timm_side,
                                       "timm_checkpoint": {"config": info["config"], "provenance": info["provenance"]}}
                table["uniform_distance"] = round(uniform_distance(patch_grid(vit), float(config["patch_size"])), 4)
            return table

        table = self._timed("inits", work)
        return self._write("init_comparison.json", table)

    # -- 8. figures ----------------------------------------------------------------------------

    def figures(self) -> list[Path]:
        """The emergence figure (``figures/emergence.png``) from ``emergence.json``."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt


        start = time.perf_counter()
        table = self.emergence()
        caption = f"{provenance_caption(self._provenance())} · {table['images']['count']} test images"
        fig = plot_emergence({run_key(n): table["runs"][run_key(n)] for n in ("simmim", "mocov3")},
                             {run_key("simmim"): "SimMIM (MIM)", run_key("mocov3"): "MoCo v3 (CL)"}, caption)
        path = self.out / "figures" / "emergence.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=110)
        plt.close(fig)
        self._add_seconds("figures", time.perf_counter() - start)
        return [path]


def main(argv: Sequence[str] | None = None) -> int:
    import argparse


    parser = argparse.ArgumentParser(prog="sslvit-lite reproduce", description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="cpu", choices=list(PRESETS))
    parser.add_argument("--out", required=True, metavar="DIR")
    parser.add_argument("--dataset", default="cifar10")
    parser.add_argument("--data-source", default="auto")
    parser.add_argument("--seeds", type=int, default=1, help="seeds of MoCo v3 and SimMIM (headline numbers)")
    parser.add_argument("--stages", nargs="+", default=list(STAGES), choices=STAGES)
    parser.add_argument("--no-progress", action="store_true")
    parser.add_argument("--lambdas", type=float, nargs="+", default=[0.2], help="the hybrid's λ values to train")
    parser.add_argument("--init-baseline", metavar="DIR",
                        help="also compare with the same runs trained from timm's init (their slim checkpoints in DIR)")
    args = parser.parse_args(argv)

    try:
        repro = Reproduction(args.preset, args.out, args.dataset, args.data_source, seeds=args.seeds,
                             lambdas=args.lambdas, progress=not args.no_progress)
        for stage in args.stages:
            getattr(repro, stage)()
        if args.init_baseline:
            repro.inits(args.init_baseline)
    except (ValueError, FileNotFoundError, DatasetUnavailableError, CheckpointError) as err:
        parser.exit(2, f"{parser.prog}: error: {err}\n")
    print(f"wrote {repro.out}: " + ", ".join(sorted(p.name for p in repro.out.iterdir() if p.name != "runs")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
