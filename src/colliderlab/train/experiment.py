"""Experiments: a YAML file (data, representation, model, trainer) -> a run directory.

Run directory layout (later tools read it; keep it stable). Nothing in it is unpickled: a run
directory passed on by someone else cannot run code when it is loaded::

    RUN_DIR/
      config.yaml          the resolved experiment (representation options made concrete)
      checkpoint_best.safetensors
                           torch models: the weights at the best validation epoch (safetensors)
      checkpoint_best.json everything else needed to rebuild and use the model (see CHECKPOINT
                           KEYS below); used for scoring (predict, evaluate, export)
      checkpoint_last.safetensors, checkpoint_last.json
                           the same at the latest epoch, for resume
      resume_state.pt      optimiser, scheduler, GradScaler and RNG states of checkpoint_last:
                           tensors and plain containers, read with torch.load(weights_only=True)
      baseline/            non-torch baselines (BDT, cut-based, Fisher, ...): model file (JSON, or
                           xgboost's UBJ) + meta.json
      metrics.csv          one row per epoch: epoch, step, train_loss, val_loss, val_accuracy,
                           val_auc, lr, train_seconds
      results.json         test-split metrics (auc, accuracy, rejection_at_0.3/0.5, per-class AUCs
                           for multi-class), classifiers' ``val_auc`` (the validation split's, what
                           searches select on), params, train_seconds, inference_jets_per_second,
                           numbers of jets, detector card and MPI setting of the sample
      test_scores.h5       datasets ``scores`` (N, C) class probabilities and ``labels`` (N,);
                           regression runs: ``predictions`` (N, 1) and ``targets`` (N, 1)
      plots/               roc.png, scores.png, training.png (regression: regression.png,
                           training.png; image runs add images.png)
      calibration.json     ``calibration: temperature`` runs (or ``colliderlab calibrate``): the
                           temperature applied to every later scoring, where it was fitted, NLL and
                           ECE before and after (:mod:`colliderlab.calibration`)

Regression: ``data.target`` (a name from :data:`colliderlab.features.targets.TARGETS`, e.g.
``truth_pt``) trains the model's head on that per-jet quantity; results.json then holds
``target``, ``mse``, ``mae``, ``bias``, ``r2``, ``correlation``, ``response_median`` and
``resolution`` instead of the classifier metrics. ``data.target_transform`` (``ratio`` or
``log_ratio``, :class:`colliderlab.features.targets.TargetTransform`) makes the head learn the
target relative to a measured reference (``data.target_reference``, by default the target's
measured counterpart: ``visible_energy`` for ``incident_energy``); predictions, uncertainties
and every metric are turned back into the target's units. A ``trainer.loss = gaussian_nll`` head
adds ``sigma`` (N, 1) to test_scores.h5 and pull metrics to results.json, both in the target's
units (sigma propagated to first order from the transformed space).

Streaming: ``data.stream`` (``true``, or ``auto`` for sharded samples above
:data:`~colliderlab.train.config.STREAM_AUTO_JETS` jets) trains, validates and tests over
streams of the sample (:mod:`colliderlab.train.stream`) instead of holding every jet's
representation; the run directory is the same, the split a hash of (shard file name, row) with
the same fractions, the standardiser fitted on the first
:data:`~colliderlab.train.stream.STANDARDIZER_JETS` training jets.

Decorrelation: an experiment's ``decorrelation`` section (:mod:`colliderlab.train.decorrelation`)
carries the variable as an auxiliary array, adds the DisCo loss term or wraps the model in an
:class:`~colliderlab.train.adversarial.AdversarialTagger` (whose checkpoint holds the adversary too;
``load_run`` rebuilds the wrapper from the checkpoint's ``decorrelation``), and adds the test split's
rejection and 1/JSD to results.json.

CHECKPOINT KEYS (``checkpoint_*.json``): ``format`` (``colliderlab-checkpoint-2``),
``checkpoint_id`` (the same in the ``.safetensors`` header and, for the last checkpoint, in
``resume_state.pt``: files of one save), ``colliderlab_version``, ``model_name``,
``model_config`` (dict), ``representation`` (dict with ``kind``), ``standardizer`` (mean/std per
array), ``class_names``, ``task``, ``target`` (regression: name, mean and std of the learnt,
transformed target, transform and reference; else None), ``quantization`` (QAT formats or
None), ``decorrelation`` (the experiment's section or None), ``trainer_config``, ``epoch``,
``step``, ``best_metric``, ``best_epoch``, ``bad_epochs``, ``history``. See :mod:`colliderlab.train.checkpoint`.

Runs written before format 2 hold one pickled ``checkpoint_*.pt`` per checkpoint. They are
refused (by ``load_run``, hence ``predict``, ``evaluate`` and ``export``, and by resume) with a
message naming the file; ``colliderlab convert-run RUN_DIR`` converts them, trusting the files.

The module is split along its seams: :mod:`colliderlab.train.config` (the experiment dataclasses
and their parsing), :mod:`colliderlab.train.tasks` (what differs between classifier, regressor
and generator runs and between torch and baseline backends, dispatched on what the model spec
declares) and :mod:`colliderlab.train.runs` (loading, scoring and evaluating run directories).
This module trains: :func:`run_experiment`; it re-exports the public names of the others.

Example experiment::

    name: pfn-toptag
    data: {path: data/toptag.h5, n_jets: 20000}
    representation: {kind: particles, n_particles: 64}
    model: {name: pfn, preset: lite}
    trainer: {epochs: 10, lr: 1.0e-3, batch_size: 256}
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from colliderlab.atomic import write_text
from colliderlab.train.config import (
    DataConfig,
    ExperimentConfig,
    ModelSection,
    apply_overrides,
    experiment_from_dict,
    load_experiment,
)
from colliderlab.train.contract import input_fields
from colliderlab.train.runs import LoadedRun, evaluate_run, load_run, predict_run, score_metrics
from colliderlab.train.tasks import BACKENDS, FitRequest, resolve_task

__all__ = [
    "DataConfig",
    "ModelSection",
    "ExperimentConfig",
    "load_experiment",
    "experiment_from_dict",
    "apply_overrides",
    "run_experiment",
    "load_run",
    "LoadedRun",
    "predict_run",
    "evaluate_run",
    "score_metrics",
    "default_representation",
]


def default_representation(model_name: str) -> dict[str, Any]:
    """The representation a model takes when the experiment names none: the first its spec declares."""
    from colliderlab.models.registry import resolve_model

    return {"kind": resolve_model(model_name).representations[0]}


def _representation(cfg: ExperimentConfig) -> Any:
    from colliderlab.features.representations import representation_from_dict
    from colliderlab.models.registry import resolve_model

    spec = resolve_model(cfg.model.name)
    rep = dict(cfg.representation) or default_representation(cfg.model.name)
    if rep.get("kind") not in spec.representations:
        raise ValueError(
            f"model {cfg.model.name!r} takes representation(s) {list(spec.representations)}, "
            f"not {rep.get('kind')!r}"
        )
    return representation_from_dict(rep)


def _cache_dir(data: DataConfig, path: str) -> Path | None:
    if data.cache_dir is None:
        return None
    if data.cache_dir == "auto":
        return Path(path).resolve().parent / ".cache"
    return Path(data.cache_dir)


def _datasets(cfg: ExperimentConfig, progress: bool) -> tuple[Any, Any, Any, Any]:
    from colliderlab.data.dataset import split_indices
    from colliderlab.features.build import build_dataset

    d = cfg.data
    if not d.path:
        raise ValueError("the experiment has no data.path; give a jet file (colliderlab generate ...)")
    rep = _representation(cfg)
    var = cfg.decorrelation.get("variable") if cfg.decorrelation else None

    def load(path: str, rep: Any, stop: int | None = None, show: bool = False) -> tuple[Any, Any]:
        ds, rep = build_dataset(path, rep, stop=stop, cache_dir=_cache_dir(d, path), progress=show, target=d.target)
        if var:  # the decorrelation variable, an auxiliary array the model does not read
            from colliderlab.train.decorrelation import attach_variable, variable_values

            ds = attach_variable(ds, variable_values(path, var, stop=stop), var)
        return ds, rep

    full, rep = load(d.path, rep, d.n_jets, progress)
    if d.val_path or d.test_path:
        tr_idx, va_idx, te_idx = split_indices(len(full), 0.0 if d.val_path else d.val_fraction,
                                               0.0 if d.test_path else d.test_fraction, d.split_seed)
        train = full.subset(tr_idx)
        val = load(d.val_path, rep)[0] if d.val_path else full.subset(va_idx)
        test = load(d.test_path, rep)[0] if d.test_path else full.subset(te_idx)
    else:
        tr_idx, va_idx, te_idx = split_indices(len(full), d.val_fraction, d.test_fraction, d.split_seed)
        train, val, test = full.subset(tr_idx), full.subset(va_idx), full.subset(te_idx)
    return train, val, test, rep


def _streams(cfg: ExperimentConfig, spec: Any, task: Any) -> tuple[Any, Any, Any, Any]:
    """Train, validation and test streams (``data.stream``, :mod:`colliderlab.train.stream`)."""
    from colliderlab.train.stream import check_streamable, stream_splits

    rep = _representation(cfg)
    check_streamable(spec, task, rep)
    if cfg.decorrelation:
        raise ValueError("decorrelation needs the variable of every jet in memory: it does not stream yet; "
                         "set data.stream: false")
    return stream_splits(cfg.data, rep)


def _check_run_dir(run_dir: Path, cfg: ExperimentConfig, resume: bool) -> None:
    import yaml

    existing = run_dir / "config.yaml"
    if not existing.exists():
        return
    old = yaml.safe_load(existing.read_text())
    try:  # a run written before a config key existed holds its default
        old = experiment_from_dict(old).to_dict()
    except (KeyError, TypeError, ValueError):
        pass
    new = cfg.to_dict()
    old_cmp = {k: v for k, v in old.items() if k != "representation"}
    new_cmp = {k: v for k, v in new.items() if k != "representation"}
    if old_cmp != new_cmp:
        raise FileExistsError(
            f"{run_dir} holds a different experiment; choose a new run directory "
            "(or delete it to start over)"
        )
    if not resume:
        raise FileExistsError(f"{run_dir} already holds this experiment; pass resume to continue it")


def run_experiment(
    cfg: ExperimentConfig,
    run_dir: str | os.PathLike,
    *,
    resume: bool = True,
    progress: bool = True,
    plots: bool = True,
    callbacks: Sequence[Any] = (),
) -> dict[str, Any]:
    """Train ``cfg`` into ``run_dir`` and evaluate on the test split; returns ``results.json``.

    Started as several processes by PyTorch's elastic launcher (``torchrun ... -m
    colliderlab.train``, or ``colliderlab train --nproc-per-node N``), every rank builds the
    datasets (rank 0 first, so the others read its cache), trains its share data-parallel
    (:mod:`colliderlab.train.distributed`), and rank 0 alone writes the run directory and
    returns the results (the other ranks return ``{}``). Baselines train in one process only.

    The model's spec declares its task and backend
    (:func:`colliderlab.models.registry.resolve_model`); ``data.target`` makes a run a regression.
    The task (:data:`colliderlab.train.tasks.TASKS`) prepares the labels and writes the results,
    the backend (:data:`colliderlab.train.tasks.BACKENDS`) fits the model. A run killed part-way
    is continued from ``checkpoint_last`` when called again with the same configuration.
    ``callbacks`` (:class:`~colliderlab.train.hooks.Callback`) are handed to the trainer of torch
    models (e.g. a hyper-parameter search's pruning, :mod:`colliderlab.train.tune`).
    """
    from colliderlab.models.registry import resolve_model
    from colliderlab.train.distributed import distributed

    run_dir = Path(run_dir)
    spec = resolve_model(cfg.model.name)
    cfg, task = resolve_task(cfg, spec)
    with distributed(cfg.trainer.device, cfg.trainer.num_threads) as dist:
        if dist.enabled and spec.backend != "torch":
            raise ValueError(f"{cfg.model.name!r} is a {spec.backend} baseline, trained in one process: "
                             "drop --nproc-per-node (or torchrun)")
        _check_run_dir(run_dir, cfg, resume)
        with dist.main_first():  # rank 0 writes the representation cache, the others read it
            train, val, test, rep = (_streams(cfg, spec, task) if cfg.data.streams()
                                     else _datasets(cfg, progress and dist.is_main))
        return _train(cfg, spec, task, run_dir, (train, val, test, rep), resume, plots, dist.is_main,
                      tuple(callbacks))


def _train(cfg: ExperimentConfig, spec: Any, task: Any, run_dir: Path, splits: tuple[Any, Any, Any, Any],
           resume: bool, plots: bool, is_main: bool, callbacks: tuple[Any, ...] = ()) -> dict[str, Any]:
    """Standardise, write ``config.yaml``, fit and (rank 0) finish the run; see :func:`run_experiment`."""
    import yaml

    from colliderlab import __version__
    from colliderlab.data.dataset import Standardizer
    from colliderlab.features.representations import representation_to_dict

    streaming = cfg.data.streams()
    train, val, test, rep = splits
    data = task.prepare(cfg, train, val, test)
    if streaming:  # fitted on the first training jets; every block is standardised as it is read
        from colliderlab.train.stream import STANDARDIZER_JETS

        std = Standardizer.fit(data.train.subset(slice(0, STANDARDIZER_JETS)).arrays, rep.standardize)
        data = data.map(lambda ds: ds.with_standardizer(std))
    else:
        std = Standardizer.fit(data.train.arrays, rep.standardize)
        data = data.map(lambda ds: dataclasses.replace(ds, arrays=std.apply(ds.arrays)))
    resolved = dataclasses.replace(cfg, representation=representation_to_dict(rep))
    if is_main:
        run_dir.mkdir(parents=True, exist_ok=True)
        write_text(run_dir / "config.yaml", yaml.safe_dump(resolved.to_dict(), sort_keys=False))
    meta = {
        "colliderlab_version": __version__,
        "model_name": cfg.model.name,
        "representation": representation_to_dict(rep),
        "standardizer": std.to_dict(),
        "class_names": list(data.train.class_names),
        "task": cfg.trainer.task,
        "target": data.scale,
        "input_fields": input_fields(rep),  # the input contract: what predict/evaluate/export check
    }
    fitted = BACKENDS[spec.backend](FitRequest(cfg, spec, task, data, rep, run_dir, meta, resume,
                                                 callbacks))
    return task.finish(cfg, run_dir, fitted, data, meta, plots) if is_main else {}
