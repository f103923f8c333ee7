"""The pre-training engine: one loop for MoCo v3, SimMIM, MAE and the CL+MIM hybrid.

Per step: an index batch from the on-device sampler → uint8 images gathered on the device →
the objective's augmentation recipe on the device → ``objective(views)["loss"]`` under autocast →
backward (with a GradScaler for fp16) → gradient clipping → AdamW → ``objective.after_step``
(e.g. MoCo v3's momentum update). Nothing in the hot path waits for the CPU: metrics and the
NaN/Inf guard are read back once every ``log_every`` steps.

- **Optimiser**: AdamW, no weight decay for biases, norms (ndim ≤ 1), tokens and position
  embeddings; peak lr ``blr × batch / 256``; linear warm-up then cosine decay, set every step.
- **Precision** ("auto"): bf16 autocast on GPUs that support it (compute capability ≥ 8), fp16 +
  GradScaler otherwise (a Colab T4), fp32 on the CPU. Optional ``torch.compile``.
- **Checkpoints** (rank 0 only, atomic): ``last.pt`` every ``ckpt_every`` steps with model,
  optimizer, scaler, step and the RNG states of every rank (torch CPU/CUDA, Python, NumPy; the
  sampler is a pure function of (seed, epoch)); a run resumes from it
  (:func:`sslvit_lite.checkpoint.restore_training`) and ends with the same weights as an
  uninterrupted run (bit-exact on the CPU). ``final.pt`` (model, config, provenance) when the run ends.
- **NaN guard**: a non-finite loss stops the run with :class:`NonFiniteLossError` naming the step;
  ``last.pt`` still holds the last good state (it is only written after the loss was checked).
- **DDP**: under ``torchrun`` (WORLD_SIZE > 1) the same code runs DistributedDataParallel (NCCL on
  GPUs, gloo on the CPU); the sampler gives each rank its slice of every global batch.
- **Logs**: a tqdm bar (loss, lr, images/s) and ``metrics.jsonl`` (one JSON record per log step),
  from a :class:`sslvit_lite.meter.StepMeter` that keeps the step scalars on the device.
"""

from __future__ import annotations

import json
import os
import random
import time
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from tqdm.auto import tqdm

from sslvit_lite.augment import build_recipe
from sslvit_lite.checkpoint import (FINAL, LAST, build_backbone, load_checkpoint, restore_training, resumable,
                                    rng_state, save_atomic)
from sslvit_lite.data import dataset_stats, load_dataset
from sslvit_lite.device_data import EpochSampler, to_device
from sslvit_lite.meter import MetricsLog, StepMeter, finite_means, first_non_finite
from sslvit_lite.naming import run_name
from sslvit_lite.objectives import build_objective
from sslvit_lite.presets import TrainConfig, lr_at, resolve, steps_for
from sslvit_lite.provenance import provenance

# settings that may change between a run and its resumption
RESUMABLE_CHANGES = ("compile", "log_every", "ckpt_every", "placement", "device", "data_root")


class NonFiniteLossError(FloatingPointError):
    """The loss became NaN or infinite; the run stopped and kept its last good checkpoint."""


# ----------------------------------------------------------------------------------------------
# optimisation pieces


def param_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """Two AdamW groups: decayed weights, and no decay for ndim ≤ 1 (biases, norms) and token/pos_embed."""
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        if p.ndim <= 1 or "token" in name or "pos_embed" in name:
            no_decay.append(p)
        else:
            decay.append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def resolve_precision(precision: str, device: torch.device) -> str:
    """"auto" → "bf16" on GPUs with compute capability ≥ 8, "fp16" on older GPUs (T4), "fp32" on the CPU."""
    if precision != "auto":
        return precision
    if device.type != "cuda":
        return "fp32"
    return "bf16" if torch.cuda.get_device_capability(device)[0] >= 8 else "fp16"


def resolve_device(config: TrainConfig, local_rank: int = 0) -> torch.device:
    if config.device == "cuda" or (config.device == "auto" and torch.cuda.is_available()):
        if not torch.cuda.is_available():
            raise ValueError(f"preset {config.preset!r} needs a CUDA GPU and none is available; "
                             "use preset 'smoke' or 'cpu', or device='cpu'")
        return torch.device("cuda", local_rank)
    return torch.device("cpu")


# ----------------------------------------------------------------------------------------------
# the engine


def seed_all(seed: int) -> None:
    """Seed Python, NumPy and torch (CPU and every GPU)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


# ----------------------------------------------------------------------------------------------
# the engine


def config_differences(old: dict, new: dict) -> dict:
    """{key: (old, new)} for settings that differ and may not change when resuming."""
    old, new = json.loads(json.dumps(old)), json.loads(json.dumps(new))
    keys = (set(old) | set(new)) - set(RESUMABLE_CHANGES)
    return {k: (old.get(k), new.get(k)) for k in sorted(keys) if old.get(k) != new.get(k)}


class Trainer:
    """Pre-train ``config.objective`` into ``out_dir`` (see the module docstring).

    ``objective`` (optional): a ready objective module (``recipe``, ``num_views``, ``backbone``,
    ``after_step``) instead of ``build_objective(config.objective, build_backbone(config), **config.hparams)``.
    ``images`` (optional): uint8 (N, 3, H, W) images (or an ``ImageDataset``) instead of
    ``load_dataset(config.dataset, "train", ...)``. Nothing is written before :meth:`fit`.
    """

    def __init__(self, config: TrainConfig, out_dir: str | os.PathLike, *, objective: nn.Module | None = None,
                 images=None, progress: bool = True, verbose: bool = True):
        self.config, self.out_dir = config, Path(out_dir)
        self.world_size = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0")) if self.world_size > 1 else 0
        local_rank = int(os.environ.get("LOCAL_RANK", "0")) if self.world_size > 1 else 0
        self.device = resolve_device(config, local_rank)
        self.is_main = self.rank == 0
        self.progress, self.verbose = progress and self.is_main, verbose and self.is_main
        if config.batch_size % self.world_size:
            raise ValueError(f"batch_size {config.batch_size} is not divisible by {self.world_size} processes")
        self._check_existing_run()
        self._owns_process_group = False
        if self.world_size > 1 and not dist.is_initialized():
            if self.device.type == "cuda":
                torch.cuda.set_device(self.device)
            dist.init_process_group("nccl" if self.device.type == "cuda" else "gloo")
            self._owns_process_group = True
        try:
            self._build(objective, images)
        except BaseException:
            self._release()
            raise

    def _build(self, objective: nn.Module | None, images) -> None:
        config = self.config
        seed_all(config.seed)  # the same initial weights on every rank
        self.objective = objective if objective is not None else self._build_objective()  # validates hparams
        self.mean, self.std = dataset_stats(config.dataset)
        self.recipe = build_recipe(self.objective.recipe, config.img_size, self.mean, self.std)
        if self.recipe.num_views != self.objective.num_views:
            raise ValueError(f"recipe {self.recipe.name!r} makes {self.recipe.num_views} views but the objective "
                             f"expects {self.objective.num_views}")

        images, labels, self.data_source = self._load_images(images)
        # the data line comes with the progress bar only, so that notebooks (progress=False) stay clean
        self.data = to_device(images, labels, config.img_size, self.device, config.placement, verbose=self.progress)
        index_device = self.device if config.placement == "device" else torch.device("cpu")  # host: gather there
        self.sampler = EpochSampler(len(self.data), config.batch_size // self.world_size, config.seed,
                                    index_device, self.rank, self.world_size)
        self.steps_per_epoch, self.total_steps, self.warmup_steps = steps_for(config, len(self.data))
        self.objective = self.objective.to(self.device)
        self.model: nn.Module = self.objective
        if self.world_size > 1:
            if self.device.type == "cuda":
                self.objective = nn.SyncBatchNorm.convert_sync_batchnorm(self.objective)
            self.model = nn.parallel.DistributedDataParallel(
                self.objective, device_ids=[self.device.index] if self.device.type == "cuda" else None)
        self.forward_fn = torch.compile(self.model) if config.compile else self.model

        self.precision = resolve_precision(config.precision, self.device)
        amp_dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(self.precision)
        self.autocast = (torch.autocast(self.device.type, dtype=amp_dtype) if amp_dtype else nullcontext())
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=self.precision == "fp16")
        self.params = [p for p in self.objective.parameters() if p.requires_grad]
        fused = {"fused": True} if self.device.type == "cuda" else {}
        self.optimizer = torch.optim.AdamW(param_groups(self.objective, config.weight_decay), lr=config.peak_lr,
                                           betas=config.betas, **fused)
        if self.device.type == "cuda":
            torch.backends.cudnn.benchmark = True
            torch.backends.cuda.matmul.allow_tf32 = True
            torch.backends.cudnn.allow_tf32 = True
        seed_all(config.seed * 1000 + 1 + self.rank)  # augmentation and masks differ across ranks
        self.step = 0
        self.log = MetricsLog(self.out_dir / "metrics.jsonl")

    # -- set-up helpers ------------------------------------------------------------------------

    def _load_images(self, images):
        """(uint8 images (N, 3, H, W), labels (N,) or None, provenance string), subset applied."""
        cfg = self.config
        if images is None:
            images = load_dataset(cfg.dataset, "train", source=cfg.data_source, root=cfg.data_root,
                                  img_size=cfg.img_size)
        if isinstance(images, torch.Tensor):
            source = f"{tuple(images.shape)} uint8 tensor given to Trainer"
            if cfg.subset is not None and cfg.subset < images.shape[0]:
                images, source = images[: cfg.subset], f"{source}, first {cfg.subset}"
            return images, None, source
        if cfg.subset is not None and cfg.subset < len(images):
            images = images.subset(cfg.subset, seed=cfg.seed)
        return images.images, images.labels, images.source

    def _build_objective(self) -> nn.Module:
        cfg = self.config
        return build_objective(cfg.objective, build_backbone(cfg.to_dict()), **cfg.hparams)

    def _check_existing_run(self) -> None:
        """Refuse to resume a run in ``out_dir`` that was started with different settings."""
        path = self.out_dir / "config.json"
        if not path.is_file():
            return
        diff = config_differences(json.loads(path.read_text()), self.config.to_dict())
        if diff:
            listed = "; ".join(f"{k}: {a!r} → {b!r}" for k, a, b in ((k, *v) for k, v in diff.items()))
            raise ValueError(f"{self.out_dir} holds a run with other settings ({listed}); "
                             "use another out_dir, or delete that folder to start over")

    # -- checkpoints ---------------------------------------------------------------------------

    def _provenance(self) -> dict:
        cfg = self.config
        record = provenance(self.device, preset=cfg.preset, objective=cfg.objective, data=self.data_source,
                            epochs=round(self.total_steps / self.steps_per_epoch, 2), steps=self.total_steps,
                            images=len(self.data), precision=self.precision, world_size=self.world_size)
        return json.loads(json.dumps(record, default=str))  # plain types (e.g. torch's TorchVersion → str)

    def _record(self) -> dict:
        return {"model": self.objective.state_dict(), "config": self.config.to_dict(), "step": self.step,
                "total_steps": self.total_steps, "provenance": self._provenance(),
                "normalization": {"mean": list(self.mean), "std": list(self.std)}}

    def _gather_rng(self) -> list[dict]:
        local = rng_state(self.device)
        if self.world_size == 1:
            return [local]
        states: list = [None] * self.world_size
        dist.all_gather_object(states, local)
        return states

    def save_last(self) -> Path:
        """Write the resumable ``last.pt`` (every rank must call it: the RNG states are gathered).

        Refuses when the weights are no longer finite: a non-finite update (e.g. inf gradients without
        a GradScaler to skip it) would otherwise replace the last good checkpoint before a loss shows it.
        """
        norms = torch.stack([torch.linalg.vector_norm(p.detach().float()) for p in self.params])  # (P,)
        if not torch.isfinite(norms.sum()):  # one host sync per checkpoint; DDP ranks hold equal weights
            raise NonFiniteLossError(
                f"{self.config.objective}: the weights became non-finite by step {self.step:,}; the run stopped "
                f"and {self._kept_checkpoint()}. Lower the learning rate, set clip_grad, or use precision='fp32'.")
        rng = self._gather_rng()
        path = self.out_dir / LAST
        if self.is_main:
            save_atomic(resumable(self._record(), self.optimizer, self.scaler, self.sampler, rng), path)
        return path

    def save_snapshot(self) -> Path | None:
        """A slim fp16 copy of the encoder at this step, ``snapshots/step-NNNNNN.pt`` (for figures of how
        the representation emerges); loadable with :func:`sslvit_lite.checkpoint.load_backbone`."""
        if not self.is_main:
            return None
        backbone = {f"backbone.{k}": v.detach().half() if v.is_floating_point() else v.detach()
                    for k, v in self.objective.backbone.state_dict().items()}
        record = {"model": backbone, "config": self.config.to_dict(), "step": self.step,
                  "total_steps": self.total_steps, "finished": False, "provenance": self._provenance(),
                  "normalization": {"mean": list(self.mean), "std": list(self.std)}}
        return save_atomic(record, self.out_dir / "snapshots" / f"step-{self.step:06d}.pt")

    def save_final(self) -> Path:
        path = self.out_dir / FINAL
        if self.is_main:
            save_atomic({**self._record(), "finished": True}, path)
            (self.out_dir / LAST).unlink(missing_ok=True)
        return path

    def resume(self) -> int:
        """Load ``last.pt`` when present; returns the step to continue from."""
        path = self.out_dir / LAST
        if not path.is_file():
            return 0
        self.step, writers = restore_training(load_checkpoint(path), path, self.objective, self.optimizer,
                                              self.scaler, self.sampler, self.total_steps, self.rank,
                                              self.world_size, self.device)
        if writers != self.world_size and self.verbose:
            print(f"[sslvit-lite] {path} was written by {writers} process(es), this run has "
                  f"{self.world_size}: random streams restart, so the result will not match an uninterrupted run")
        if self.verbose:
            print(f"[sslvit-lite] resuming {self.config.objective} from step {self.step:,} of {self.total_steps:,}")
        return self.step

    # -- logging -------------------------------------------------------------------------------

    def _log(self, record: dict) -> None:
        if self.is_main:
            self.log.append(record)

    def _kept_checkpoint(self) -> str:
        last = self.out_dir / LAST
        return (f"the last good checkpoint {last} (step {load_checkpoint(last)['step']:,}) is kept"
                if last.is_file() else "no checkpoint had been written yet")

    def _read_back(self, meter: StepMeter, first_step: int) -> dict[str, float]:
        """The means of the meter's steps (over ranks, finite values only); raises on a non-finite loss."""
        values = meter.read(self.world_size)
        losses = values["loss"]
        bad = first_non_finite(losses)
        if bad is not None:
            step, loss = first_step + bad, float(losses[bad])
            self._log({"step": step, "event": "non-finite loss", "loss": loss})
            raise NonFiniteLossError(
                f"{self.config.objective}: loss became {loss} at step {step:,} (0-based, epoch "
                f"{step // self.steps_per_epoch}); the run stopped and {self._kept_checkpoint()}. "
                "Lower the learning rate, set clip_grad, or use precision='fp32'.")
        return finite_means(values)

    # -- the loop ------------------------------------------------------------------------------

    def train_step(self, step: int, indices: torch.Tensor) -> dict[str, torch.Tensor | float]:
        """One optimizer step on the index batch (B,); returns the objective's detached scalars.

        Objectives may return Python numbers next to tensors; they are logged without a device copy.
        """
        lr = lr_at(step, self.total_steps, self.warmup_steps, self.config.peak_lr, self.config.min_lr)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        views = self.recipe(self.data.batch(indices))  # num_views × (B, 3, S, S)
        with self.autocast:
            out = self.forward_fn(views)
        self.scaler.scale(out["loss"]).backward()
        scalars = {k: v.detach().float() if isinstance(v, torch.Tensor) else float(v) for k, v in out.items()}
        if self.config.clip_grad is not None:
            self.scaler.unscale_(self.optimizer)
            scalars["grad_norm"] = torch.nn.utils.clip_grad_norm_(self.params, self.config.clip_grad).detach()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.optimizer.zero_grad(set_to_none=True)
        self.objective.after_step((step + 1) / self.total_steps)
        return scalars

    def fit(self, stop_at: int | None = None) -> Path:
        """Train to the end (or until ``stop_at`` steps are done); returns ``final.pt`` (or ``last.pt``)."""
        cfg = self.config
        end = self.total_steps if stop_at is None else min(stop_at, self.total_steps)
        try:
            if (self.out_dir / FINAL).is_file():
                return self.out_dir / FINAL
            if self.is_main:
                self.out_dir.mkdir(parents=True, exist_ok=True)
                (self.out_dir / "config.json").write_text(json.dumps(cfg.to_dict(), indent=1) + "\n")
            start = self.resume()
            if self.is_main:
                self.log.trim(start)
            self._loop(start, end)
            return self.save_final() if self.step >= self.total_steps else self.save_last()
        finally:
            self._release()

    def _release(self) -> None:
        """Tear down the process group if this trainer created it."""
        if self._owns_process_group and dist.is_initialized():
            dist.destroy_process_group()
        self._owns_process_group = False

    def _loop(self, start: int, end: int) -> None:
        cfg = self.config
        bar = tqdm(total=self.total_steps, initial=start, disable=not self.progress, dynamic_ncols=True,
                   desc=f"{cfg.objective} {cfg.preset}")
        self.objective.train()
        meter = StepMeter(cfg.log_every, self.device)
        snapshots = set(cfg.snapshot_steps)
        if start == 0 and 0 in snapshots:
            self.save_snapshot()  # the random initialisation this run starts from
        interval_start, tick = start, time.perf_counter()
        for step, indices in self.sampler.batches(start):
            if step >= end:
                break
            meter.add(self.train_step(step, indices))
            self.step = step + 1
            bar.update(1)
            checkpoint_now = self.step % cfg.ckpt_every == 0 and self.step < self.total_steps
            if meter.count == cfg.log_every or self.step == end or checkpoint_now:
                count = meter.count
                means = self._read_back(meter, interval_start)
                now = time.perf_counter()
                lr = self.optimizer.param_groups[0]["lr"]
                speed = count * cfg.batch_size / max(now - tick, 1e-9)
                self._log({"step": self.step, "epoch": round(self.step / self.steps_per_epoch, 3), "lr": lr,
                           **means, "images_per_s": round(speed, 1)})
                bar.set_postfix(loss=f"{means['loss']:.4f}", lr=f"{lr:.2e}", img_s=f"{speed:,.0f}")
                interval_start, tick = self.step, now
            if checkpoint_now:
                self.save_last()
            if self.step in snapshots:
                self.save_snapshot()
            if checkpoint_now or self.step in snapshots:
                tick = time.perf_counter()  # images/s measures training, not checkpoint writing
        bar.close()


def default_out_dir(config: TrainConfig) -> Path:
    """``runs/<objective>-<dataset>-<preset>`` (:func:`sslvit_lite.naming.run_name`)."""
    return Path("runs") / run_name(config.objective, dataset=config.dataset, preset=config.preset)


def pretrain(objective: str, dataset: str = "cifar10", preset: str = "smoke", out_dir: str | os.PathLike | None = None,
             data_source: str = "auto", *, progress: bool = True, **overrides) -> Path:
    """Pre-train ``objective`` on ``dataset`` with ``preset`` (+ ``overrides`` of any config field).

    Resumes from ``out_dir/last.pt`` when present; returns ``out_dir/final.pt`` at once when the
    run already finished. ``out_dir`` defaults to ``runs/<objective>-<dataset>-<preset>``.
    """
    config = resolve(objective, preset, dataset, data_source, **overrides)
    out = Path(out_dir) if out_dir is not None else default_out_dir(config)
    final = out / FINAL
    if final.is_file():
        diff = config_differences(load_checkpoint(final)["config"], config.to_dict())
        if diff:
            raise ValueError(f"{out} holds a finished run with other settings ({diff}); use another out_dir")
        if progress:
            print(f"[sslvit-lite] {final} exists: the run already finished")
        return final
    return Trainer(config, out, progress=progress).fit()
