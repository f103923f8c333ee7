"""Named training presets and the run configuration they resolve to.

A :class:`Preset` fixes the model, data size, schedule and precision for one kind of machine;
``per_objective`` adapts it to each objective's upstream optimiser recipe (the official MoCo v3, SimMIM and MAE code):

==========  =================  =====  ===========  ==========  ==============
objective   base lr (per 256)  wd     betas        warm-up     clip
==========  =================  =====  ===========  ==========  ==============
mocov3      1.5e-4             0.1    0.9, 0.999   40 of 300   none
simmim      5e-5 (1e-4 / 512)  0.05   0.9, 0.999   10 of 800   5.0, drop-path 0.1
mae         1.5e-4             0.05   0.9, 0.95    40 of 800   none
hybrid      as simmim (built on the SimMIM code base, issue #4)
==========  =================  =====  ===========  ==========  ==============

Upstream's peak learning rate is ``blr × batch_size / 256`` (the linear scaling rule of MoCo v3 and
MAE), tuned for batches of 2048-4096; every preset here sets ``lr`` by :func:`small_batch_lr`
instead (measured, see below). Warm-up keeps upstream's fraction of the schedule, rounded up, or a
number of steps (``warmup_steps``). :func:`resolve` turns (preset, objective,
overrides) into a flat :class:`TrainConfig`, the one object the engine reads and the checkpoint stores.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Mapping

import torch

PRECISIONS = ("auto", "bf16", "fp16", "fp32")
DEVICES = ("auto", "cpu", "cuda")
OBJECTIVE_NAMES = ("mocov3", "simmim", "mae", "hybrid")


@dataclass(frozen=True)
class TrainConfig:
    """Everything one pre-training run depends on (stored in every checkpoint as ``config``).

    ``batch_size`` is the global batch (split over DDP ranks). ``steps`` (when set) overrides
    ``epochs`` as the length of the run; ``subset`` keeps that many training images.
    """

    objective: str
    dataset: str = "cifar10"
    preset: str = "custom"
    data_source: str = "auto"
    data_root: str | None = None
    seed: int = 0
    arch: str = "vit_tiny"
    vit_kwargs: Mapping[str, Any] = field(default_factory=dict)
    img_size: int = 32
    patch_size: int = 4
    batch_size: int = 256
    epochs: int = 100
    steps: int | None = None
    subset: int | None = None
    blr: float = 1.5e-4
    lr: float | None = None
    min_lr: float = 0.0
    warmup_epochs: float = 10.0
    warmup_steps: int | None = None
    weight_decay: float = 0.05
    betas: tuple[float, float] = (0.9, 0.999)
    clip_grad: float | None = None
    precision: str = "auto"
    compile: bool = False
    device: str = "auto"
    placement: str = "device"
    hparams: Mapping[str, Any] = field(default_factory=dict)
    log_every: int = 50
    ckpt_every: int = 1000
    snapshot_steps: tuple[int, ...] = ()

    def __post_init__(self):
        if self.objective not in OBJECTIVE_NAMES:
            raise ValueError(f"unknown objective {self.objective!r}; valid: {', '.join(OBJECTIVE_NAMES)}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"unknown precision {self.precision!r}; valid: {', '.join(PRECISIONS)}")
        if self.device not in DEVICES:
            raise ValueError(f"unknown device {self.device!r}; valid: {', '.join(DEVICES)}")
        if self.placement not in ("device", "host"):
            raise ValueError(f"unknown placement {self.placement!r}; valid: device, host")
        positive = {"img_size": self.img_size, "patch_size": self.patch_size, "batch_size": self.batch_size,
                    "epochs": self.epochs, "log_every": self.log_every, "ckpt_every": self.ckpt_every}
        if self.steps is not None:
            positive["steps"] = self.steps
        if self.subset is not None:
            positive["subset"] = self.subset
        bad = {k: v for k, v in positive.items() if not isinstance(v, int) or v <= 0}
        if bad:
            raise ValueError(f"these settings must be positive integers: {bad}")
        if self.img_size % self.patch_size:
            raise ValueError(f"img_size {self.img_size} must be a multiple of patch_size {self.patch_size}")
        if self.blr <= 0 or (self.lr is not None and self.lr <= 0) or self.min_lr < 0 or self.weight_decay < 0:
            raise ValueError("blr and lr must be > 0, min_lr and weight_decay >= 0")
        if not 0 <= self.warmup_epochs <= self.epochs:
            raise ValueError(f"warmup_epochs must be in [0, epochs={self.epochs}], got {self.warmup_epochs}")
        if self.warmup_steps is not None and (not isinstance(self.warmup_steps, int) or self.warmup_steps < 0):
            raise ValueError(f"warmup_steps must be an integer >= 0 or None, got {self.warmup_steps!r}")
        snapshots = tuple(self.snapshot_steps)
        if any(not isinstance(s, int) or s < 0 for s in snapshots) or len(set(snapshots)) != len(snapshots):
            raise ValueError(f"snapshot_steps must be distinct integers >= 0, got {list(snapshots)}")
        object.__setattr__(self, "snapshot_steps", tuple(sorted(snapshots)))
        if self.clip_grad is not None and self.clip_grad <= 0:
            raise ValueError(f"clip_grad must be > 0 or None, got {self.clip_grad}")
        object.__setattr__(self, "betas", tuple(float(b) for b in self.betas))
        object.__setattr__(self, "vit_kwargs", dict(self.vit_kwargs))
        object.__setattr__(self, "hparams", dict(self.hparams))

    @property
    def peak_lr(self) -> float:
        """``lr`` when given, else ``blr × batch_size / 256``."""
        return self.lr if self.lr is not None else self.blr * self.batch_size / 256

    def to_dict(self) -> dict:
        """A JSON-friendly dict (tuples as lists), the form stored in checkpoints."""
        d = dataclasses.asdict(self)
        d["betas"], d["snapshot_steps"] = list(self.betas), list(self.snapshot_steps)
        d["vit_kwargs"], d["hparams"] = dict(self.vit_kwargs), dict(self.hparams)
        return d

    @classmethod
    def from_dict(cls, d: Mapping) -> "TrainConfig":
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


CONFIG_FIELDS = tuple(f.name for f in dataclasses.fields(TrainConfig))


@dataclass(frozen=True)
class Preset:
    """A named starting point: base settings plus per-objective overrides (any :class:`TrainConfig` field)."""

    name: str
    description: str
    settings: Mapping[str, Any]
    per_objective: Mapping[str, Mapping[str, Any]]
    needs_cuda: bool = False

    def __post_init__(self):
        unknown = (set(self.settings) | {k for o in self.per_objective.values() for k in o}) - set(CONFIG_FIELDS)
        if unknown:
            raise ValueError(f"preset {self.name}: unknown settings {sorted(unknown)}; "
                             f"valid: {', '.join(CONFIG_FIELDS)}")

    def for_objective(self, objective: str) -> dict:
        """Settings for ``objective``: the base settings updated by its overrides (dicts merged one level deep)."""
        merged = {k: dict(v) if isinstance(v, Mapping) else v for k, v in self.settings.items()}
        for key, value in self.per_objective.get(objective, {}).items():
            merged[key] = {**merged.get(key, {}), **value} if isinstance(value, Mapping) else value
        return merged


# upstream optimiser recipes (fractions of the schedule for warm-up)
_UPSTREAM = {
    "mocov3": {"blr": 1.5e-4, "weight_decay": 0.1, "betas": (0.9, 0.999), "warmup_frac": 40 / 300, "clip_grad": None},
    "simmim": {"blr": 5e-5, "weight_decay": 0.05, "betas": (0.9, 0.999), "warmup_frac": 10 / 800, "clip_grad": 5.0},
    "mae": {"blr": 1.5e-4, "weight_decay": 0.05, "betas": (0.9, 0.95), "warmup_frac": 40 / 800, "clip_grad": None},
}
_UPSTREAM["hybrid"] = _UPSTREAM["simmim"]

# The small-batch learning-rate rule. Upstream peaks are tuned for batches of 2048-4096; scaled
# linearly down to a laptop's batch of 128 they fall to 2.5e-5-7.5e-5 and a run of a thousand steps
# never leaves its random initialisation. Measured instead: a peak of 1e-3 at batch 128 trains all
# three objectives (our `cpu` preset, the "laptop" results of the book). Other batches scale it by the
# square root of the batch ratio, the rule for Adam-type optimisers (Malladi et al., NeurIPS 2022),
# which keeps a 1024 batch at 2.8e-3 rather than the 8e-3 a linear rule would give.
SMALL_BATCH_LR = 1e-3
SMALL_BATCH_REFERENCE = 128


def small_batch_lr(batch_size: int) -> float:
    """Peak learning rate for ``batch_size``: ``1e-3 × sqrt(batch_size / 128)`` (see above)."""
    return SMALL_BATCH_LR * math.sqrt(batch_size / SMALL_BATCH_REFERENCE)


# The encoder's initialisation per objective (:data:`sslvit_lite.vit.INITS`). MoCo v3 and MAE use their
# official code's; SimMIM's code keeps timm's, but SimMIM and the hybrid start from MoCo v3's here too:
# measured on the `cpu` preset (results/README.md, "Initialisation") it is at least as good for SimMIM,
# and one initialisation for SimMIM, MoCo v3 and the hybrid lets the hybrid's λ sweep reuse both as its ends.
INITS = {"mocov3": "mocov3", "simmim": "mocov3", "hybrid": "mocov3", "mae": "mae"}


def _optim(objective: str, num_epochs: int, **extra) -> dict:
    up = _UPSTREAM[objective]
    warmup = round(up["warmup_frac"] * num_epochs, 2)
    return {"blr": up["blr"], "weight_decay": up["weight_decay"], "betas": up["betas"],
            "warmup_epochs": warmup, "clip_grad": up["clip_grad"], **extra}


def _objectives(epochs: Mapping[str, int], hparams: Mapping[str, Mapping], drop_path: float,
                batch_size: int | None = None) -> dict:
    """Per-objective settings: the upstream optimiser recipe, plus ``lr`` from :func:`small_batch_lr`
    when ``batch_size`` is given."""
    out = {}
    for name in OBJECTIVE_NAMES:
        extra = {"epochs": epochs[name], "hparams": hparams.get(name, {}), "vit_kwargs": {"init": INITS[name]}}
        if batch_size is not None:
            extra["lr"] = small_batch_lr(batch_size)
        if name in ("simmim", "hybrid") and drop_path:
            extra["vit_kwargs"]["drop_path_rate"] = drop_path
        out[name] = _optim(name, epochs[name], **extra)
    return out


def _laptop_objectives(steps: int, warmup_steps: int, hparams: Mapping[str, Mapping]) -> dict:
    """The `cpu` preset: one optimiser for all four objectives, so that the hybrid at λ = 0 and λ = 1
    is configured exactly like the SimMIM and MoCo v3 runs and its sweep can reuse them as endpoints.

    AdamW (0.9, 0.999), weight decay 0.05, clipping at 5 (SimMIM's), except MAE's betas (0.9, 0.95);
    the hybrid freezes the patch projection like MoCo v3 (a random 48 → 96 projection of 4 px patches
    loses nothing the MIM loss needs).
    """
    out = {}
    for name in OBJECTIVE_NAMES:
        out[name] = {"steps": steps, "warmup_steps": warmup_steps, "warmup_epochs": 0.0,
                     "lr": small_batch_lr(LAPTOP_BATCH), "weight_decay": 0.05, "clip_grad": 5.0,
                     "betas": (0.9, 0.95) if name == "mae" else (0.9, 0.999), "hparams": dict(hparams.get(name, {})),
                     "vit_kwargs": {"init": INITS[name]}}
    out["hybrid"]["hparams"]["stop_grad_conv1"] = True
    # MAE encodes a quarter of the tokens, so it takes four times the images per second: it gets the
    # batch of 128 at which its locality was measured, and twice the steps, in under 10 minutes.
    out["mae"].update(batch_size=2 * LAPTOP_BATCH, steps=2 * steps, lr=small_batch_lr(2 * LAPTOP_BATCH))
    return out


_TINY_HEADS = {
    "mocov3": {"proj_hidden_dim": 64, "proj_dim": 32, "pred_hidden_dim": 64},
    "mae": {"decoder_dim": 32, "decoder_depth": 1, "decoder_heads": 2},
    "hybrid": {"proj_hidden_dim": 64, "proj_dim": 32, "pred_hidden_dim": 64},
}
_SMALL_HEADS = {
    "mocov3": {"proj_hidden_dim": 256, "proj_dim": 64, "pred_hidden_dim": 256},
    "mae": {"decoder_dim": 64, "decoder_depth": 2, "decoder_heads": 2},
    "hybrid": {"proj_hidden_dim": 256, "proj_dim": 64, "pred_hidden_dim": 256},
}
# steps at which the laptop runs keep a slim copy of the encoder (the "watch it emerge" figures)
LAPTOP_STEPS, LAPTOP_BATCH = 1200, 64
LAPTOP_SNAPSHOTS = (0, 25, 50, 100, 150, 200, 300, 450, 600, 900)

PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset(
            name="smoke",
            description="CPU, seconds: 256 images at 16 px, a 2-block 32-d ViT, 8 steps (tests, CI)",
            settings={"arch": "vit_tiny", "vit_kwargs": {"depth": 2, "embed_dim": 32, "num_heads": 2,
                                                         "pos_embed": "sincos"},
                      "img_size": 16, "patch_size": 4, "batch_size": 64, "subset": 256, "epochs": 2,
                      "precision": "fp32", "compile": False, "device": "cpu", "log_every": 2, "ckpt_every": 4},
            per_objective=_objectives(dict.fromkeys(OBJECTIVE_NAMES, 2), _TINY_HEADS, 0.0, batch_size=64),
        ),
        Preset(
            name="cpu",
            description="a laptop's 2 CPU cores: the full CIFAR-10 training set at 32 px, a 6-block 96-d ViT "
                        "with 4 px patches, batch 64, 1,200 steps (MAE: 128, 2,400), 5 to 20 minutes per objective",
            settings={"arch": "vit_tiny", "vit_kwargs": {"depth": 6, "embed_dim": 96, "num_heads": 3,
                                                         "pos_embed": "sincos"},
                      "img_size": 32, "patch_size": 4, "batch_size": LAPTOP_BATCH, "epochs": 2,
                      "precision": "fp32", "compile": False, "device": "cpu", "log_every": 25, "ckpt_every": 150,
                      "snapshot_steps": LAPTOP_SNAPSHOTS},
            per_objective=_laptop_objectives(LAPTOP_STEPS, 100, _SMALL_HEADS),
        ),
        Preset(
            name="colab-t4",
            description="one Colab T4 (15 GB, fp16): ViT-Tiny/4 on CIFAR-10 at 32 px, batch 256, 100 epochs",
            settings={"arch": "vit_tiny", "vit_kwargs": {"pos_embed": "sincos"}, "img_size": 32, "patch_size": 4,
                      "batch_size": 256, "epochs": 100, "precision": "auto", "compile": False, "device": "cuda",
                      "log_every": 50, "ckpt_every": 1000},
            per_objective=_objectives(dict.fromkeys(OBJECTIVE_NAMES, 100), {}, 0.1, batch_size=256),
            needs_cuda=True,
        ),
        Preset(
            name="cifar10-h100",
            description="one H100 (bf16, compiled): ViT-Tiny/4 on CIFAR-10 at 32 px, batch 1024, "
                        "MoCo v3 300 epochs, MIM 800 epochs (upstream schedule lengths)",
            settings={"arch": "vit_tiny", "vit_kwargs": {"pos_embed": "sincos"}, "img_size": 32, "patch_size": 4,
                      "batch_size": 1024, "precision": "auto", "compile": True, "device": "cuda",
                      "log_every": 100, "ckpt_every": 2000},
            per_objective=_objectives({"mocov3": 300, "simmim": 800, "mae": 800, "hybrid": 300}, {}, 0.1,
                                      batch_size=1024),
            needs_cuda=True,
        ),
    )
}


def auto_preset() -> str:
    """"cifar10-h100" on a GPU with bf16 and ≥ 40 GB, "colab-t4" on other GPUs, "smoke" without CUDA."""
    if not torch.cuda.is_available():
        return "smoke"
    props = torch.cuda.get_device_properties(torch.cuda.current_device())
    return "cifar10-h100" if props.major >= 8 and props.total_memory >= 40e9 else "colab-t4"


def get_preset(name: str) -> Preset:
    """The preset ``name`` (one of :data:`PRESETS` or "auto")."""
    if name == "auto":
        name = auto_preset()
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; valid: auto, {', '.join(PRESETS)}")
    return PRESETS[name]


def resolve(objective: str, preset: str = "smoke", dataset: str = "cifar10", data_source: str = "auto",
            **overrides) -> TrainConfig:
    """The :class:`TrainConfig` of ``objective`` under ``preset``, with ``overrides`` (any config field) applied.

    ``hparams`` and ``vit_kwargs`` overrides are merged into the preset's; ``epochs`` changes keep
    the preset's warm-up fraction unless ``warmup_epochs`` is given too.
    """
    if objective not in OBJECTIVE_NAMES:
        raise ValueError(f"unknown objective {objective!r}; valid: {', '.join(OBJECTIVE_NAMES)}")
    p = get_preset(preset)
    unknown = set(overrides) - set(CONFIG_FIELDS)
    if unknown:
        raise ValueError(f"unknown setting(s) {sorted(unknown)}; valid: {', '.join(CONFIG_FIELDS)}")
    settings = p.for_objective(objective)
    if "epochs" in overrides and "warmup_epochs" not in overrides:
        fraction = settings["warmup_epochs"] / settings["epochs"]
        settings["warmup_epochs"] = round(fraction * overrides["epochs"], 2)
    for key, value in overrides.items():
        if key in ("hparams", "vit_kwargs"):
            settings[key] = {**settings.get(key, {}), **(value or {})}
        else:
            settings[key] = value
    settings.update(objective=objective, preset=p.name, dataset=dataset, data_source=data_source)
    return TrainConfig(**settings)


def steps_for(config: TrainConfig, num_images: int) -> tuple[int, int, int]:
    """(steps per epoch, total steps, warm-up steps) of ``config`` on ``num_images`` training images.

    Warm-up is ``warmup_steps`` when set, else upstream's fraction of the schedule rounded *up*, so a
    short run with a warm-up fraction never gets 0 warm-up steps; it always leaves one step of decay.
    """
    per_epoch = num_images // config.batch_size
    if per_epoch == 0:
        raise ValueError(f"{num_images} images are fewer than one batch of {config.batch_size}")
    total = config.steps if config.steps is not None else config.epochs * per_epoch
    if config.warmup_steps is not None:
        warmup = config.warmup_steps
    else:
        warmup = math.ceil(total * config.warmup_epochs / config.epochs - 1e-9)
    return per_epoch, total, min(warmup, total - 1)


def lr_at(step: int, total: int, warmup: int, peak: float, min_lr: float = 0.0) -> float:
    """Learning rate of (0-based) ``step``: linear warm-up to ``peak`` over ``warmup`` steps, then a cosine
    decay to ``min_lr`` at ``total`` (MAE's per-iteration schedule)."""
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return min_lr + (peak - min_lr) * 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))


def lr_budget(config: TrainConfig, num_images: int) -> float:
    """Σ lr over the schedule of ``config`` (a learning rate × steps): how far the run can move its weights.

    AdamW's update per step is about ``lr`` per weight, so a schedule whose sum is ≪ 0.1 leaves a ViT at
    its random initialisation whatever the objective (48 steps at ≤ 7.5e-5, upstream's rates scaled
    linearly to batch 128, give 0.002). The `cpu` preset's schedule has about 0.6.
    """
    _, total, warmup = steps_for(config, num_images)
    return sum(lr_at(step, total, warmup, config.peak_lr, config.min_lr) for step in range(total))
