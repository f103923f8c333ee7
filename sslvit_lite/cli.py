"""Command line: ``python -m sslvit_lite train|analyze|reproduce ...`` (also installed as ``sslvit-lite``).

``train`` pre-trains one objective with a preset (see :mod:`sslvit_lite.presets`), resuming from
``--out`` when a run is there; run it under ``torchrun --nproc_per_node N`` for DDP. ``analyze``
hands the rest of the command line to :func:`sslvit_lite.measure.main`, ``reproduce`` to
:func:`sslvit_lite.reproduce.main` (every objective, every analysis, the probes and the claims).

Every value is checked before anything is written: a wrong name fails with a message listing
the valid ones and leaves no folder behind.

Examples::

    python -m sslvit_lite train --objective mae --preset smoke --data-source sample
    python -m sslvit_lite reproduce --preset cpu --out results/laptop --seeds 2
    python -m sslvit_lite train --objective hybrid --preset colab-t4 --hparam lam=0.2 --out runs/hybrid-0.2
    torchrun --nproc_per_node 4 -m sslvit_lite train --objective mocov3 --preset cifar10-h100
"""

from __future__ import annotations

import argparse
import json
import sys

from sslvit_lite.presets import OBJECTIVE_NAMES, PRECISIONS, PRESETS, auto_preset


def _hparam(text: str) -> tuple[str, object]:
    """KEY=VALUE with VALUE read as JSON when it parses (numbers, true/false, lists), else as a string."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    from sslvit_lite.data import DATASETS, SOURCES

    parser = argparse.ArgumentParser(prog="sslvit-lite", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True, metavar="{train,analyze,reproduce}")
    train = commands.add_parser("train", help="pre-train a ViT with a self-supervised objective")
    train.add_argument("--objective", required=True, choices=OBJECTIVE_NAMES)
    train.add_argument("--dataset", default="cifar10", choices=list(DATASETS))
    train.add_argument("--preset", default="auto", choices=["auto", *PRESETS],
                       help="auto: a GPU preset when CUDA is available, else cpu (the laptop preset, 5-20 min "
                            "per objective; smoke runs in seconds and learns nothing)")
    train.add_argument("--out", metavar="DIR", help="run folder (default runs/<objective>-<dataset>-<preset>)")
    train.add_argument("--data-source", default="auto", choices=list(SOURCES))
    train.add_argument("--data-root", metavar="DIR", help="folder holding <dataset>/ (else $SSLVIT_DATA)")
    length = train.add_mutually_exclusive_group()
    length.add_argument("--epochs", type=_positive_int)
    length.add_argument("--steps", type=_positive_int, help="run length in optimizer steps (overrides epochs)")
    train.add_argument("--batch-size", type=_positive_int, help="global batch size")
    train.add_argument("--lr", type=float,
                       help="peak learning rate (default: the preset's, 1e-3 × sqrt(batch / 128) for every preset)")
    train.add_argument("--subset", type=_positive_int, help="train on this many images")
    train.add_argument("--seed", type=int)
    train.add_argument("--precision", choices=PRECISIONS)
    train.add_argument("--compile", action=argparse.BooleanOptionalAction, default=None)
    train.add_argument("--placement", choices=["device", "host"],
                       help="keep the images on the device (default) or in pinned host memory")
    train.add_argument("--hparam", action="append", type=_hparam, default=[], metavar="KEY=VALUE",
                       help="objective hyperparameter, repeatable (e.g. --hparam mask_ratio=0.75)")
    train.add_argument("--no-progress", action="store_true", help="no progress bar")
    commands.add_parser("analyze", help="run the paper's analyses (see `analyze --help`)", add_help=False)
    commands.add_parser("reproduce", help="train, analyse, probe and score the claims (see `reproduce --help`)",
                        add_help=False)
    return parser


def _train(args: argparse.Namespace) -> int:
    from sslvit_lite.train import pretrain

    overrides = {key: getattr(args, key) for key in ("epochs", "steps", "batch_size", "lr", "subset", "seed",
                                                      "precision", "compile", "placement", "data_root")
                 if getattr(args, key) is not None}
    if args.hparam:
        overrides["hparams"] = dict(args.hparam)
    preset = args.preset
    if preset == "auto" and auto_preset() == "smoke":  # no CUDA: train something that learns, not the smoke test
        preset = "cpu"
        print("no CUDA device: training the `cpu` preset (the laptop runs of the book)", file=sys.stderr)
    path = pretrain(args.objective, dataset=args.dataset, preset=preset, out_dir=args.out,
                    data_source=args.data_source, progress=not args.no_progress, **overrides)
    print(path)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit status (argparse exits with 2 on a malformed command line)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "analyze":
        from sslvit_lite.measure import main as analyze_main

        return analyze_main(argv[1:]) or 0
    if argv and argv[0] == "reproduce":
        from sslvit_lite.reproduce import main as reproduce_main

        return reproduce_main(argv[1:]) or 0
    parser = build_parser()
    args = parser.parse_args(argv)
    from sslvit_lite.checkpoint import CheckpointError
    from sslvit_lite.data import DatasetUnavailableError
    from sslvit_lite.device_data import DoesNotFitError
    from sslvit_lite.train import NonFiniteLossError

    try:
        return _train(args)
    except (ValueError, DatasetUnavailableError, DoesNotFitError, CheckpointError) as err:
        parser.exit(2, f"sslvit-lite train: error: {err}\n")
    except NonFiniteLossError as err:
        parser.exit(1, f"sslvit-lite train: {err}\n")
