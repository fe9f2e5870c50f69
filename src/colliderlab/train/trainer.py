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
  and, for a classifier, ``classifier_metrics = True`` to be validated as one as well (``val_auc``,
  ``val_accuracy`` from its forward),
* ``initialise_from(train)``, called once with the training set before the first step of a fresh
  (not resumed) run: a data-dependent initialisation (standardisation constants, supports) that
  the model keeps in buffers, so it is saved with the weights.

Everything else (epochs, schedules, checkpoints, metrics, resume) is shared.

Started by PyTorch's elastic launcher as several processes, the trainer trains data-parallel
(DDP; :mod:`colliderlab.train.distributed`): ``batch_size`` is the global batch, rank 0 alone
writes, checkpoints hold the unwrapped model. Models with their own ``training_step`` are refused there.

Two hooks let later work (decorrelation, calibration, searches) plug in without touching the loop:

* ``loss_terms``: named callables ``(outputs, batch) -> scalar tensor`` added to the default
  loss. ``batch`` is the whole batch: the model's inputs, ``label``, ``weight`` and any other
  array the dataset carries (e.g. the jet mass for a decorrelation penalty). Each term's batch
  mean is logged as ``train_<name>`` and ``val_<name>`` (over validation batches of
  ``eval_batch_size``); ``train_loss`` and ``val_loss`` are the totals, so the best epoch is the
  best of what is trained for.
* ``callbacks``: :class:`Callback` objects, called with ``on_step_end(trainer, step, logs)``
  after every optimiser step and ``on_epoch_end(trainer, epoch, row)`` once the epoch's metrics
  are in ``row`` (before the monitor, the checkpoint and the CSV see it: a callback may add
  entries). Setting ``trainer.should_stop = True`` ends training after the current step or epoch.
"""

from __future__ import annotations

import contextlib
import math
import os
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from colliderlab.metrics import mean_ovr_auc, softmax
from colliderlab.train.checkpoint import (
    CHECKPOINT_FORMAT,
    checkpoint_exists,
    discard_previous,
    load_training_state,
    rng_state,
    save_training_state,
    set_rng_state,
)
from colliderlab.train.distributed import init_distributed, write_debug
from colliderlab.train.epoch_log import tensorboard_writer, write_metrics_csv
from colliderlab.train.hooks import Callback, LossTerm, StepContext
from colliderlab.train.loop_state import LoopProgress as _Progress
from colliderlab.train.loop_state import TrainResult, batch_means
from colliderlab.train.trainer_config import (
    TrainerConfig,
    class_weights,
    make_optimizer,
    make_schedulers,
    resolve_device,
)

__all__ = [
    "TrainerConfig", "StepContext", "Trainer", "TrainResult", "Callback", "LossTerm", "resolve_device",
    "CHECKPOINT_FORMAT", "softmax",
]


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
        self.dist = init_distributed(config.device, config.num_threads)  # one process unless launched as several
        self.device = self.dist.device
        if config.num_threads:
            torch.set_num_threads(config.num_threads)
        self.model = model.to(self.device)
        self.net = self.model  # what the training step calls: the DDP wrapper during a multi-process fit
        self.run_dir = Path(run_dir) if run_dir is not None else None
        if self.run_dir is not None and self.dist.is_main:
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
        if self.dist.enabled and self.custom:
            raise NotImplementedError(
                f"{type(model).__name__} brings its own training_step, which multi-process (DDP) training does "
                "not support; train it in one process (without --nproc-per-node or torchrun)"
            )
        if config.batch_size % self.dist.world_size:
            raise ValueError(
                f"trainer.batch_size = {config.batch_size} is the global batch and must divide evenly among "
                f"the {self.dist.world_size} processes"
            )
        self.callbacks = list(callbacks)
        self.should_stop = False
        if hasattr(model, "configure_optimizers"):
            self.optimizers = list(model.configure_optimizers(config))
        else:
            self.optimizers = [make_optimizer(config, model.parameters())]
        self.schedulers: list[Any] = []
        self.class_weight_tensor = None

    # ------------------------------------------------------------------ setup
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
            out = self.net(*self._inputs(batch))
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
        """Validation metrics: loss, and accuracy and AUC for classifiers. Under several processes
        each predicts its share (``data.for_rank``) and the outputs are gathered, so every rank
        gets the metrics of the whole set."""
        import torch

        if self.custom:
            self.model.eval()
            res = {f"val_{k}": v for k, v in batch_means(self.model.validation_step, data, self.config.eval_batch_size,
                                                          self.device).items()}
            if getattr(self.model, "classifier_metrics", False):  # e.g. an adversarially trained tagger
                out = self.predict(data)
                res["val_accuracy"] = float((out.argmax(1) == data.labels).mean())
                res["val_auc"] = mean_ovr_auc(softmax(out), data.labels)
            return res
        out = self.predict(data) if not self.dist.enabled else self.dist.gather_rows(
            self.predict(data.for_rank(self.dist.rank, self.dist.world_size)), len(data),
            getattr(data, "rank_layout", "interleaved"))
        labels = data.labels
        t_out = torch.from_numpy(out)
        batch = {"label": torch.from_numpy(labels), "weight": torch.from_numpy(data.weights)}
        res = {"val_loss": float(self._loss(t_out, batch))}
        if self.loss_terms:  # validated as trained: the total, so the best epoch is the best compromise
            terms = self._validation_terms(data)
            res.update({f"val_{k}": v for k, v in terms.items()})
            res["val_loss"] += sum(terms.values())
        if self.config.task == "classification":
            res["val_accuracy"] = float((out.argmax(1) == labels).mean())
            res["val_auc"] = mean_ovr_auc(softmax(out), labels)  # binary: AUC of the last class
        else:
            mean = out[:, : labels.reshape(len(labels), -1).shape[1]] if self.config.loss == "gaussian_nll" else out
            res["val_mae"] = float(np.abs(mean.reshape(labels.shape) - labels).mean())
        return res

    # ------------------------------------------------------------------ state
    def _validation_terms(self, data: Any) -> dict[str, float]:
        """Each loss term's mean over the validation jets (batches of ``eval_batch_size``)."""
        self.model.eval()

        def terms(batch: Mapping[str, Any]) -> dict[str, float]:
            out = self.model(*self._inputs(batch))
            return {name: float(term(out, batch)) for name, term in self.loss_terms.items()}

        return batch_means(terms, data, self.config.eval_batch_size, self.device)

    def checkpoint_meta(self, epoch: int, step: int, best: float | None, best_epoch: int, bad_epochs: int,
                        history: list[dict[str, float]]) -> dict[str, Any]:
        """A checkpoint's JSON metadata: the trainer's progress and config plus ``meta``."""
        return {
            **self.meta,
            "trainer_config": asdict(self.config),
            "world_size": self.dist.world_size,
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
        save_training_state(self.run_dir, weights, meta, self.resume_state(), best=better)

    def _resume(self) -> tuple[int, int, float | None, int, int, list[dict[str, float]]]:
        """Restore ``checkpoint_last`` and the resume state; returns the loop's counters."""
        assert self.run_dir is not None
        weights, ck, rs = load_training_state(self.run_dir, self.device)
        self.model.load_state_dict(weights)
        for o, s in zip(self.optimizers, rs["optimizer_states"], strict=True):
            o.load_state_dict(s)
        for sch, s in zip(self.schedulers, rs["scheduler_states"], strict=False):
            sch.load_state_dict(s)
        self.scaler.load_state_dict(rs["scaler_state"])
        set_rng_state(rs["rng"])
        return ck["epoch"] + 1, ck["step"], ck["best_metric"], ck["best_epoch"], ck["bad_epochs"], ck["history"]

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
        if self.dist.enabled:
            self.net = self._wrap_ddp()
            train = train.for_rank(self.dist.rank, self.dist.world_size)
        writer = tensorboard_writer(self.run_dir) if self.dist.is_main else None
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
        self.net = self.model
        self.dist.barrier()  # rank 0's last checkpoint is written before any rank goes on
        if self.dist.is_main and self.run_dir is not None:
            discard_previous(self.run_dir)  # the loop's last save is complete
        write_debug(self.dist, self.model, steps=progress.step, epochs=len(progress.history),
                    train_loss=[r.get("train_loss") for r in progress.history])
        return TrainResult(
            epochs_run=len(progress.history), steps=progress.step, best_epoch=progress.best_epoch,
            best_metric=float("nan") if progress.best is None else float(progress.best), history=progress.history,
            stopped_early=stopped, seconds=time.perf_counter() - t0,
        )

    def _wrap_ddp(self) -> Any:
        """The model in ``DistributedDataParallel`` (which copies rank 0's weights to every rank)."""
        from torch.nn.parallel import DistributedDataParallel

        ids = [self.device] if self.device.type == "cuda" else None
        return DistributedDataParallel(self.model, device_ids=ids)

    def _prepare(self, train: Any) -> int:
        """Seed, check the labels, set class weights and schedules; returns the steps per epoch."""
        import torch

        c = self.config
        torch.manual_seed(c.seed + self.dist.rank)  # ranks draw different dropout masks
        np.random.seed(c.seed % 2**32)
        random.seed(c.seed)
        n_classes = len(getattr(train, "class_names", ()) or ())
        if c.task == "classification" and not self.custom:
            from colliderlab.data.dataset import check_labels

            check_labels(train.labels, train.class_names or [str(i) for i in range(int(train.labels.max()) + 1)])
            self.class_weight_tensor = class_weights(c, train.labels, max(n_classes, int(train.labels.max()) + 1),
                                                     self.device)
        steps_per_epoch = max(len(train) // c.batch_size, 1)
        total = steps_per_epoch * c.epochs if c.max_steps is None else min(c.max_steps, steps_per_epoch * c.epochs)
        self.schedulers = make_schedulers(c, self.optimizers, total)
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
        A bar over the batches on a terminal; elsewhere only :meth:`_end_epoch`'s line per epoch.
        Under several processes each takes its ``batch_size / world_size`` share of every global
        batch, a rank out of batches joins (``Join``), and the row is reduced over the ranks."""
        from colliderlab.progress import interactive
        from colliderlab.progress import progress as progress_bar
        from colliderlab.train.distributed import catch_up

        c, dist = self.config, self.dist
        self.model.train()
        te = time.perf_counter()
        bar = progress_bar(
            train.batches(c.batch_size // dist.world_size, shuffle=True, seed=c.seed * 1000 + epoch, drop_last=True,
                          device=self.device),
            total=steps_per_epoch, desc=f"epoch {epoch + 1}/{c.epochs}", unit="batch",
            enabled=c.progress and interactive() and dist.is_main, leave=False,
        )
        start = progress.step
        with self._join():
            sums, n_batches = self._steps(bar, progress, step_fn)
        if dist.enabled:  # sums and counts of the per-step losses over the ranks
            keys = ["loss", *self.loss_terms]
            totals = dist.reduce([sums.get(k, 0.0) for k in keys] + [n_batches])
            sums, n_batches = dict(zip(keys, totals[:-1], strict=True)), int(totals[-1])
            stepped = self.schedulers if c.schedule in ("cosine", "onecycle") else []
            progress.step = start + catch_up(dist, progress.step - start, self.optimizers, stepped)
        row: dict[str, float] = {"epoch": epoch + 1, "step": progress.step}
        row.update({f"train_{k}": v / max(n_batches, 1) for k, v in sums.items()})
        row["lr"] = self.optimizers[0].param_groups[0]["lr"]
        row["train_seconds"] = dist.reduce([time.perf_counter() - te], "max")[0]
        return row

    def _join(self) -> Any:
        """``Join`` over the DDP model when several processes train (uneven shards), else nothing."""
        if not self.dist.enabled:
            return contextlib.nullcontext()
        from torch.distributed.algorithms.join import Join

        return Join([self.net])

    def _steps(self, bar: Any, progress: _Progress, step_fn: Callable[..., dict[str, float]]) -> tuple[
            dict[str, float], int]:
        """The optimiser steps over ``bar``'s batches; returns the sums of the step results and the
        number of steps."""
        c = self.config
        sums: dict[str, float] = {}
        n_batches = 0
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
        return sums, n_batches

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
        if c.progress and self.dist.is_main:
            shown = ", ".join(f"{k} {v:.4g}" for k, v in row.items() if k not in ("epoch", "step"))
            write_line(f"epoch {epoch + 1}: {shown}")
        if self.run_dir is not None and self.dist.is_main:
            self._save(better, self.checkpoint_meta(epoch, progress.step, progress.best, progress.best_epoch,
                                                    progress.bad, progress.history))
            write_metrics_csv(self.run_dir / "metrics.csv", progress.history)
        stop = bool(self.should_stop or (c.patience and progress.bad >= c.patience))
        return bool(self.dist.reduce([stop], "max")[0])  # every rank stops if one does
