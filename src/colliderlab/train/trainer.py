"""One training loop for every task: classifiers, regressors, and models that bring their own step.

The loop is plain PyTorch: seeded epochs over an :class:`~colliderlab.data.dataset.ArrayDataset`
(or any object with a compatible ``batches`` method and ``__len__``), Adam/AdamW/SGD, cosine /
one-cycle / reduce-on-plateau schedules, gradient clipping, class weights, early stopping on a
validation metric, mixed precision on CUDA, a per-epoch CSV (and TensorBoard when installed),
best and last checkpoints written atomically, and resume after a kill. Checkpoints are
safetensors weights plus JSON metadata, and the resume state a ``weights_only`` torch file
(:mod:`colliderlab.train.checkpoint`): nothing the trainer loads can run code.

A model may supply its own training logic (a GAN with two optimisers, a flow with a likelihood
loss) by defining

* ``configure_optimizers(config: TrainerConfig) -> list[torch.optim.Optimizer]``,
* ``training_step(batch, ctx: StepContext) -> dict[str, float]`` doing its own backward and
  optimiser steps through ``ctx.step(loss, optimizer)``, and returning at least ``"loss"``,
* ``validation_step(batch) -> dict[str, float]`` (at least ``"loss"``, batch-averaged),
* ``initialise_from(train)``, called once with the training set before the first step of a fresh
  (not resumed) run: a data-dependent initialisation (standardisation constants, supports) that
  the model keeps in buffers, so it is saved with the weights.

Everything else (epochs, schedules, checkpoints, metrics, resume) is shared.

Two hooks let later work (decorrelation, calibration, searches) plug in without touching the loop:

* ``loss_terms``: named callables ``(outputs, batch) -> scalar tensor`` added to the default
  loss. ``batch`` is the whole batch: the model's inputs, ``label``, ``weight`` and any other
  array the dataset carries (e.g. the jet mass for a decorrelation penalty). Each term's batch
  mean is logged as ``train_<name>``; ``train_loss`` is the total.
* ``callbacks``: :class:`Callback` objects, called with ``on_step_end(trainer, step, logs)``
  after every optimiser step and ``on_epoch_end(trainer, epoch, row)`` once the epoch's metrics
  are in ``row`` (before the monitor, the checkpoint and the CSV see it: a callback may add
  entries). Setting ``trainer.should_stop = True`` ends training after the current step or epoch.
"""

from __future__ import annotations

import contextlib
import csv
import math
import os
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from colliderlab.atomic import replacing
from colliderlab.metrics import mean_ovr_auc, softmax
from colliderlab.train.checkpoint import (
    CHECKPOINT_FORMAT,
    RESUME_STATE,
    checkpoint_exists,
    load_checkpoint,
    load_resume_state,
    rng_state,
    save_checkpoint,
    save_resume_state,
    set_rng_state,
)
from colliderlab.train.hooks import Callback, LossTerm, StepContext
from colliderlab.train.trainer_config import TrainerConfig, resolve_device

__all__ = [
    "TrainerConfig", "StepContext", "Trainer", "TrainResult", "Callback", "LossTerm", "resolve_device",
    "CHECKPOINT_FORMAT", "softmax",
]


@dataclass
class TrainResult:
    """Outcome of :meth:`Trainer.fit`."""

    epochs_run: int
    steps: int
    best_epoch: int
    best_metric: float
    history: list[dict[str, float]] = field(default_factory=list)
    stopped_early: bool = False
    seconds: float = 0.0


class Trainer:
    """Train ``model`` on ``train`` and monitor ``val``; write checkpoints and metrics to ``run_dir``.

    Args:
        model: a ``torch.nn.Module`` with ``input_names`` (and optionally its own steps).
        config: :class:`TrainerConfig`.
        run_dir: where ``checkpoint_best.{safetensors,json}``, ``checkpoint_last.{safetensors,json}``,
            ``resume_state.pt`` and ``metrics.csv`` go (``None``: keep nothing on disk).
        meta: extra entries stored in every checkpoint's JSON (model name and config,
            representation, normalisation, class names): enough to rebuild the model with nothing else.
        loss_terms: name -> :data:`LossTerm`, added to the default loss (models with their own
            ``training_step`` compute their own loss and take none).
        callbacks: :class:`Callback` objects, called in order.
    """

    def __init__(
        self,
        model: Any,
        config: TrainerConfig,
        run_dir: str | os.PathLike | None = None,
        meta: Mapping[str, Any] | None = None,
        *,
        loss_terms: Mapping[str, LossTerm] | None = None,
        callbacks: Sequence[Callback] = (),
    ) -> None:
        import torch

        self.config = config
        self.device = resolve_device(config.device)
        if config.num_threads:
            torch.set_num_threads(config.num_threads)
        self.model = model.to(self.device)
        self.run_dir = Path(run_dir) if run_dir is not None else None
        if self.run_dir is not None:
            self.run_dir.mkdir(parents=True, exist_ok=True)
        self.meta = dict(meta or {})
        self.use_amp = bool(config.amp and self.device.type == "cuda")
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.use_amp)
        self.custom = hasattr(model, "training_step")
        self.loss_terms = dict(loss_terms or {})
        if self.loss_terms and self.custom:
            raise ValueError(f"{type(model).__name__} brings its own training_step; add loss terms there")
        if "loss" in self.loss_terms:
            raise ValueError("a loss term cannot be named 'loss' (the total's name)")
        self.callbacks = list(callbacks)
        self.should_stop = False
        if hasattr(model, "configure_optimizers"):
            self.optimizers = list(model.configure_optimizers(config))
        else:
            self.optimizers = [self._make_optimizer(model.parameters())]
        self.schedulers: list[Any] = []
        self.class_weight_tensor = None

    # ------------------------------------------------------------------ setup
    def _make_optimizer(self, params: Any) -> Any:
        import torch

        c = self.config
        if c.optimizer == "adam":
            return torch.optim.Adam(params, lr=c.lr, weight_decay=c.weight_decay)
        if c.optimizer == "adamw":
            return torch.optim.AdamW(params, lr=c.lr, weight_decay=c.weight_decay)
        return torch.optim.SGD(params, lr=c.lr, momentum=c.momentum, weight_decay=c.weight_decay)

    def _make_schedulers(self, total_steps: int) -> None:
        import torch

        c = self.config
        self.schedulers = []
        for opt in self.optimizers:
            if c.schedule == "cosine":
                self.schedulers.append(torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(total_steps, 1)))
            elif c.schedule == "onecycle":
                self.schedulers.append(
                    torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=c.lr, total_steps=max(total_steps, 1))
                )
            elif c.schedule == "plateau":
                mode = "min" if c.monitor == "val_loss" else "max"
                self.schedulers.append(
                    torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode=mode, factor=0.5, patience=2)
                )

    def _class_weights(self, labels: np.ndarray, n_classes: int) -> Any:
        import torch

        cw = self.config.class_weights
        if cw is None or self.config.task != "classification":
            return None
        if cw == "balanced":
            counts = np.bincount(labels, minlength=n_classes).astype(np.float64)
            w = len(labels) / (n_classes * np.maximum(counts, 1))
        else:
            if len(cw) != n_classes:
                raise ValueError(f"trainer.class_weights has {len(cw)} entries for {n_classes} classes")
            w = np.asarray(cw, np.float64)
        return torch.tensor(w, dtype=torch.float32, device=self.device)

    def autocast(self) -> Any:
        import torch

        if self.use_amp:
            return torch.autocast("cuda", dtype=torch.float16)
        return contextlib.nullcontext()

    # ------------------------------------------------------------------ steps
    def _inputs(self, batch: Mapping[str, Any]) -> list[Any]:
        names = getattr(self.model, "input_names", None)
        if names is None:
            raise TypeError(f"{type(self.model).__name__} has no 'input_names'")
        missing = [k for k in names if k not in batch]
        if missing:
            raise KeyError(
                f"model {type(self.model).__name__} needs inputs {list(names)} but the batch lacks "
                f"{missing} (it has {sorted(k for k in batch if k not in ('label', 'weight'))})"
            )
        return [batch[k] for k in names]

    def _loss(self, out: Any, batch: Mapping[str, Any]) -> Any:
        import torch
        import torch.nn.functional as F

        w = batch["weight"].float()
        if self.config.task == "classification":
            per = F.cross_entropy(out.float(), batch["label"], weight=self.class_weight_tensor, reduction="none")
        else:
            target = batch["label"].float().reshape(len(out), -1)  # (B, T)
            if self.config.loss == "gaussian_nll":
                mu, logvar = out.float().chunk(2, dim=1)  # (B, T) each
                logvar = logvar.clamp(-12.0, 12.0)
                per = (0.5 * (logvar + (target - mu) ** 2 * torch.exp(-logvar))).mean(1)
            else:
                per = F.mse_loss(out.float().reshape(target.shape), target, reduction="none").mean(1)
        return (per * w).sum() / w.sum()

    def _default_step(self, batch: Mapping[str, Any], ctx: StepContext) -> dict[str, float]:
        with self.autocast():
            out = self.model(*self._inputs(batch))
        loss = self._loss(out, batch)
        logs = {}
        for name, term in self.loss_terms.items():
            extra = term(out, batch)
            logs[name] = float(extra.detach())
            loss = loss + extra
        value = float(loss.detach())
        if not math.isfinite(value):
            raise FloatingPointError(
                f"training loss is {value} (not finite) at step {ctx.step_index}; check the inputs for NaN "
                "or lower the learning rate"
            )
        ctx.step(loss, self.optimizers[0], self.model.parameters())
        return {"loss": value, **logs}

    def predict(self, data: Any, batch_size: int | None = None) -> np.ndarray:
        """Model outputs over ``data`` in order: (J, C) logits (or regression outputs)."""
        import torch

        self.model.eval()
        outs = []
        with torch.no_grad():
            for batch in data.batches(batch_size or self.config.eval_batch_size, device=self.device):
                with self.autocast():
                    outs.append(self.model(*self._inputs(batch)).float().cpu())
        return torch.cat(outs).numpy() if outs else np.zeros((0, 0), np.float32)

    def evaluate(self, data: Any) -> dict[str, float]:
        """Validation metrics: loss, and accuracy and AUC for classifiers."""
        import torch

        if self.custom:
            self.model.eval()
            sums: dict[str, float] = {}
            n = 0
            with torch.no_grad():
                for batch in data.batches(self.config.eval_batch_size, device=self.device):
                    res = self.model.validation_step(batch)
                    k = len(batch["label"])
                    for key, v in res.items():
                        sums[key] = sums.get(key, 0.0) + float(v) * k
                    n += k
            return {f"val_{k}": v / max(n, 1) for k, v in sums.items()}
        out = self.predict(data)
        labels = data.labels
        t_out = torch.from_numpy(out)
        batch = {"label": torch.from_numpy(labels), "weight": torch.from_numpy(data.weights)}
        res = {"val_loss": float(self._loss(t_out, batch))}
        if self.config.task == "classification":
            res["val_accuracy"] = float((out.argmax(1) == labels).mean())
            res["val_auc"] = mean_ovr_auc(softmax(out), labels)  # binary: AUC of the last class
        else:
            mean = out[:, : labels.reshape(len(labels), -1).shape[1]] if self.config.loss == "gaussian_nll" else out
            res["val_mae"] = float(np.abs(mean.reshape(labels.shape) - labels).mean())
        return res

    # ------------------------------------------------------------------ state
    def checkpoint_meta(self, epoch: int, step: int, best: float | None, best_epoch: int, bad_epochs: int,
                        history: list[dict[str, float]]) -> dict[str, Any]:
        """A checkpoint's JSON metadata: the trainer's progress and config plus ``meta``."""
        return {
            **self.meta,
            "trainer_config": asdict(self.config),
            "epoch": epoch,
            "step": step,
            "best_metric": best,
            "best_epoch": best_epoch,
            "bad_epochs": bad_epochs,
            "history": history,
        }

    def resume_state(self) -> dict[str, Any]:
        """Optimiser, scheduler, GradScaler and RNG states (tensors and plain containers)."""
        return {
            "optimizer_states": [o.state_dict() for o in self.optimizers],
            "scheduler_states": [s.state_dict() for s in self.schedulers],
            "scaler_state": self.scaler.state_dict(),
            "rng": rng_state(),
        }

    def _save(self, better: bool, meta: dict[str, Any]) -> None:
        assert self.run_dir is not None
        weights = self.model.state_dict()
        if better:
            save_checkpoint(self.run_dir / "checkpoint_best", weights, meta)
        cid = save_checkpoint(self.run_dir / "checkpoint_last", weights, meta)
        save_resume_state(self.run_dir / RESUME_STATE, self.resume_state(), cid)

    def _resume(self) -> tuple[int, int, float | None, int, int, list[dict[str, float]]]:
        """Restore ``checkpoint_last`` and the resume state; returns the loop's counters."""
        assert self.run_dir is not None
        weights, ck = load_checkpoint(self.run_dir / "checkpoint_last", self.device)
        rs = load_resume_state(self.run_dir / RESUME_STATE, ck["checkpoint_id"], self.device)
        self.model.load_state_dict(weights)
        for o, s in zip(self.optimizers, rs["optimizer_states"], strict=True):
            o.load_state_dict(s)
        for sch, s in zip(self.schedulers, rs["scheduler_states"], strict=False):
            sch.load_state_dict(s)
        self.scaler.load_state_dict(rs["scaler_state"])
        set_rng_state(rs["rng"])
        return ck["epoch"] + 1, ck["step"], ck["best_metric"], ck["best_epoch"], ck["bad_epochs"], ck["history"]

    def _write_csv(self, history: list[dict[str, float]]) -> None:
        if self.run_dir is None or not history:
            return
        keys: list[str] = []
        for row in history:
            keys += [k for k in row if k not in keys]
        with replacing(self.run_dir / "metrics.csv") as tmp, open(tmp, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=keys)
            w.writeheader()
            w.writerows(history)

    # ------------------------------------------------------------------ loop
    def fit(self, train: Any, val: Any | None = None, *, resume: bool = True) -> TrainResult:
        """Train; with ``resume`` and a ``checkpoint_last`` in ``run_dir``, continue from it.

        Raises:
            LegacyCheckpointError: ``run_dir`` holds an old pickled ``checkpoint_last.pt``.
            CheckpointError: the last checkpoint or its resume state is unreadable or torn.
        """
        c = self.config
        if len(train) == 0:
            raise ValueError("the training set is empty")
        steps_per_epoch = self._prepare(train)
        progress = self._start(train, resume)
        writer = _tensorboard(self.run_dir)
        t0 = time.perf_counter()
        stopped = self.should_stop = False
        step_fn = self.model.training_step if self.custom else self._default_step
        for epoch in range(progress.epoch, c.epochs):
            if c.max_steps is not None and progress.step >= c.max_steps:
                break
            row = self._train_epoch(train, epoch, progress, step_fn, steps_per_epoch)
            if self._end_epoch(row, val, epoch, progress, writer):
                stopped = True
                break
        if writer is not None:
            writer.close()
        return TrainResult(
            epochs_run=len(progress.history), steps=progress.step, best_epoch=progress.best_epoch,
            best_metric=float("nan") if progress.best is None else float(progress.best), history=progress.history,
            stopped_early=stopped, seconds=time.perf_counter() - t0,
        )

    def _prepare(self, train: Any) -> int:
        """Seed, check the labels, set class weights and schedules; returns the steps per epoch."""
        import torch

        c = self.config
        torch.manual_seed(c.seed)
        np.random.seed(c.seed % 2**32)
        random.seed(c.seed)
        n_classes = len(getattr(train, "class_names", ()) or ())
        if c.task == "classification" and not self.custom:
            from colliderlab.data.dataset import check_labels

            check_labels(train.labels, train.class_names or [str(i) for i in range(int(train.labels.max()) + 1)])
            self.class_weight_tensor = self._class_weights(train.labels, max(n_classes, int(train.labels.max()) + 1))
        steps_per_epoch = max(len(train) // c.batch_size, 1)
        total = steps_per_epoch * c.epochs if c.max_steps is None else min(c.max_steps, steps_per_epoch * c.epochs)
        self._make_schedulers(total)
        return steps_per_epoch

    def _start(self, train: Any, resume: bool) -> _Progress:
        """The loop's counters: restored from ``checkpoint_last`` when resuming, else fresh (and the
        model's data-dependent initialisation run)."""
        progress = _Progress()
        if resume and self.run_dir is not None and checkpoint_exists(self.run_dir / "checkpoint_last"):
            progress = _Progress(*self._resume())
        if progress.epoch == 0 and progress.step == 0 and hasattr(self.model, "initialise_from"):
            self.model.initialise_from(train)
        return progress

    def _train_epoch(self, train: Any, epoch: int, progress: _Progress, step_fn: Callable[..., dict[str, float]],
                     steps_per_epoch: int) -> dict[str, float]:
        """One epoch of optimiser steps (callbacks after each); returns the epoch's row of metrics.
        A bar over the batches on a terminal; elsewhere only :meth:`_end_epoch`'s line per epoch."""
        from colliderlab.progress import interactive
        from colliderlab.progress import progress as progress_bar

        c = self.config
        self.model.train()
        te = time.perf_counter()
        sums: dict[str, float] = {}
        n_batches = 0
        bar = progress_bar(
            train.batches(c.batch_size, shuffle=True, seed=c.seed * 1000 + epoch, drop_last=True,
                          device=self.device),
            total=steps_per_epoch, desc=f"epoch {epoch + 1}/{c.epochs}", unit="batch",
            enabled=c.progress and interactive(), leave=False,
        )
        for batch in bar:
            ctx = StepContext(self.optimizers, self.device, self.scaler, self.autocast, c.grad_clip, progress.step,
                              self.model)
            res = step_fn(batch, ctx)
            for k, v in res.items():
                sums[k] = sums.get(k, 0.0) + float(v)
            n_batches += 1
            progress.step += 1
            if c.schedule in ("cosine", "onecycle"):
                for sch in self.schedulers:
                    sch.step()
            if n_batches % 10 == 0:
                bar.set_postfix(loss=f"{sums['loss'] / n_batches:.4f}")
            for cb in self.callbacks:
                cb.on_step_end(self, progress.step, res)
            if self.should_stop or (c.max_steps is not None and progress.step >= c.max_steps):
                break
        row: dict[str, float] = {"epoch": epoch + 1, "step": progress.step}
        row.update({f"train_{k}": v / max(n_batches, 1) for k, v in sums.items()})
        row["lr"] = self.optimizers[0].param_groups[0]["lr"]
        row["train_seconds"] = time.perf_counter() - te
        return row

    def _end_epoch(self, row: dict[str, float], val: Any | None, epoch: int, progress: _Progress, writer: Any) -> bool:
        """Validate, run the epoch callbacks, track the monitor, log and checkpoint; returns
        whether training stops (a callback asked, or early stopping)."""
        from colliderlab.progress import write_line

        c = self.config
        if val is not None and len(val):
            row.update(self.evaluate(val))
        for cb in self.callbacks:
            cb.on_epoch_end(self, epoch + 1, row)
        monitor = c.monitor if c.monitor in row else ("val_loss" if "val_loss" in row else "train_loss")
        value = row[monitor]
        if c.schedule == "plateau":
            for sch in self.schedulers:
                sch.step(value)
        best = progress.best
        better = best is None or (value < best if monitor.endswith("loss") else value > best)
        if better:
            progress.best, progress.best_epoch, progress.bad = value, epoch + 1, 0
        else:
            progress.bad += 1
        progress.history.append(row)
        if writer is not None:
            for k, v in row.items():
                writer.add_scalar(k, v, progress.step)
        if c.progress:
            shown = ", ".join(f"{k} {v:.4g}" for k, v in row.items() if k not in ("epoch", "step"))
            write_line(f"epoch {epoch + 1}: {shown}")
        if self.run_dir is not None:
            self._save(better, self.checkpoint_meta(epoch, progress.step, progress.best, progress.best_epoch,
                                                    progress.bad, progress.history))
            self._write_csv(progress.history)
        return bool(self.should_stop or (c.patience and progress.bad >= c.patience))


@dataclass
class _Progress:
    """The training loop's counters, as a checkpoint stores them: the next ``epoch`` (0-based),
    optimiser ``step``, ``best`` monitored value and its ``best_epoch``, epochs without
    improvement (``bad``) and the per-epoch ``history``."""

    epoch: int = 0
    step: int = 0
    best: float | None = None
    best_epoch: int = -1
    bad: int = 0
    history: list[dict[str, float]] = field(default_factory=list)


def _tensorboard(run_dir: Path | None) -> Any:
    if run_dir is None:
        return None
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:  # tensorboard is optional
        return None
    return SummaryWriter(str(run_dir / "tensorboard"))
