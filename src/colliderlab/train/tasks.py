"""What differs between runs: the task (classifier, regressor, generator) and the backend (torch,
or a baseline's own fit: xgboost, scikit-learn, numpy).

Every model spec declares both (:func:`colliderlab.models.registry.resolve_model`);
:func:`colliderlab.train.experiment.run_experiment` looks them up in :data:`TASKS` and
:data:`BACKENDS` and never asks a model what it is:

* a :class:`Task` prepares the labels (a regressor learns its standardised, transformed target),
  says how many outputs the model needs, and turns the fitted model into ``results.json``,
  ``test_scores.h5`` and plots;
* a backend (:func:`fit_torch`, :func:`fit_baseline`) builds and fits the model and writes its
  checkpoint, returning a :class:`Fitted`.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from colliderlab.atomic import write_json
from colliderlab.metrics import softmax
from colliderlab.train.checkpoint import CHECKPOINT_FORMAT, load_weights
from colliderlab.train.config import ExperimentConfig, plain
from colliderlab.train.runs import (
    flat,
    meta_of_file,
    regression_outputs,
    run_plots,
    score_metrics,
    write_scores,
)

if TYPE_CHECKING:
    from colliderlab.features.targets import TargetTransform
    from colliderlab.models.registry import ModelSpec

__all__ = [
    "Prepared", "Fitted", "Task", "ClassifierTask", "RegressorTask", "GeneratorTask", "TASKS", "BACKENDS",
    "resolve_task", "fit_torch", "fit_baseline",
]


@dataclass
class Prepared:
    """The standardised splits of a run, as the model learns them.

    ``truth`` holds the test labels in the target's units (regression; the splits hold the
    standardised, transformed target) and ``scale`` the target's name, mean, std and transform.
    """

    train: Any
    val: Any
    test: Any
    truth: np.ndarray | None = None
    scale: dict[str, Any] | None = None

    def map(self, fn: Callable[[Any], Any]) -> Prepared:
        """``fn`` applied to each split."""
        return dataclasses.replace(self, train=fn(self.train), val=fn(self.val), test=fn(self.test))


@dataclass
class Fitted:
    """A fitted model. ``predict(ds, batch_size)`` gives its raw outputs over ``ds``: logits
    (``logits``) or class probabilities, or standardised regression outputs (N, 1 or 2)."""

    model: Any
    params: int
    train_seconds: float
    history: list[dict[str, float]]
    predict: Callable[[Any, int | None], np.ndarray]
    logits: bool
    trainer: Any = None  # torch backends: the Trainer (generators sample and evaluate through it)


# ---------------------------------------------------------------------------- tasks

IMAGE_PLOT_JETS = 20_000  # the average jet images of an image run are drawn from the first test jets


@dataclass(frozen=True)
class Task:
    """What a run of one task does besides fitting. ``name`` is the declared task."""

    name: str

    def prepare(self, cfg: ExperimentConfig, train: Any, val: Any, test: Any) -> Prepared:
        return Prepared(train, val, test, truth=test.labels)

    def n_outputs(self, cfg: ExperimentConfig, class_names: Sequence[str]) -> int:
        return len(class_names)

    def finish(self, cfg: ExperimentConfig, run_dir: Path, fitted: Fitted, data: Prepared, meta: Mapping[str, Any],
               plots: bool) -> dict[str, Any]:
        raise NotImplementedError


@dataclass(frozen=True)
class ClassifierTask(Task):
    """Class probabilities; metrics from :func:`colliderlab.train.runs.score_metrics`."""

    name: str = "classifier"

    def prepare(self, cfg: ExperimentConfig, train: Any, val: Any, test: Any) -> Prepared:
        from colliderlab.data.dataset import check_labels

        check_labels(train.labels, train.class_names)
        return Prepared(train, val, test, truth=test.labels)

    def finish(self, cfg: ExperimentConfig, run_dir: Path, fitted: Fitted, data: Prepared, meta: Mapping[str, Any],
               plots: bool) -> dict[str, Any]:
        probs, val_out = fitted.predict(data.test, None), fitted.predict(data.val, None)
        calibration = None
        if cfg.calibration == "temperature":
            from colliderlab.train.calibrate import calibrate_run

            calibration, probs = calibrate_run(run_dir, val_out, data.val, probs, data.truth)
        elif fitted.logits:
            probs = softmax(probs)
        results = score_metrics(probs, data.truth, data.train.class_names)
        # what searches select on (colliderlab.train.tune): never the test split
        val_probs = softmax(val_out) if fitted.logits else val_out
        results["val_auc"] = score_metrics(val_probs, np.asarray(data.val.labels), data.train.class_names)["auc"]
        if calibration:
            results["calibration"] = calibration
        if cfg.decorrelation and len(data.train.class_names) == 2:
            from colliderlab.sculpting import decorrelation_metrics

            var = cfg.decorrelation["variable"]
            dm = decorrelation_metrics(probs[:, 1], data.truth == 1, np.asarray(data.test.arrays[var]).reshape(-1))
            results["decorrelation"] = {"variable": var, **{k: v for k, v in dm.items() if k != "bins"}}
        results = _write_results(cfg, run_dir, fitted, data, meta, results, probs, None)
        if plots:
            run_plots(run_dir, probs, data.truth, data.train.class_names, fitted.history, cfg.model.name)
            if meta["representation"]["kind"] == "image":  # average jet image per class
                from colliderlab.plots import plot_images

                shown = data.test.subset(slice(0, IMAGE_PLOT_JETS))  # bounded for streamed test splits
                plot_images(shown.arrays["image"], shown.labels, data.train.class_names,
                            run_dir / "plots" / "images.png", extent=meta["representation"].get("extent", 1.6))
        return results


@dataclass(frozen=True)
class RegressorTask(Task):
    """A per-jet quantity (``data.target``), learnt standardised and transformed; predictions,
    uncertainties and metrics in the target's units."""

    name: str = "regressor"

    def prepare(self, cfg: ExperimentConfig, train: Any, val: Any, test: Any) -> Prepared:
        transform = cfg.data.transform()
        truth = test.labels  # (N, 1) in the target's units
        data = Prepared(train, val, test, truth=truth).map(
            lambda ds: dataclasses.replace(ds, labels=_transformed_labels(ds, transform)))
        scale = {"name": cfg.data.target, "mean": float(data.train.labels.mean()),
                 "std": float(max(data.train.labels.std(), 1e-12)), **transform.to_dict()}
        data = data.map(lambda ds: dataclasses.replace(
            ds, labels=((ds.labels - scale["mean"]) / scale["std"]).astype(np.float32)))
        return dataclasses.replace(data, scale=scale)

    def n_outputs(self, cfg: ExperimentConfig, class_names: Sequence[str]) -> int:
        return 2 if cfg.trainer.loss == "gaussian_nll" else 1

    def finish(self, cfg: ExperimentConfig, run_dir: Path, fitted: Fitted, data: Prepared, meta: Mapping[str, Any],
               plots: bool) -> dict[str, Any]:
        from colliderlab.metrics import pull_metrics, regression_metrics

        scale, labels = data.scale, data.truth
        pred, sigma = regression_outputs(fitted.predict(data.test, None), scale, data.test)
        results = {"target": scale["name"], "target_transform": scale["transform"],
                   "target_reference": scale["reference"], **regression_metrics(pred[:, 0], labels[:, 0])}
        if sigma is not None:
            results.update(pull_metrics(pred[:, 0], labels[:, 0], sigma[:, 0]))
        results = _write_results(cfg, run_dir, fitted, data, meta, results, pred, sigma)
        if plots:
            from colliderlab import plots as plotting

            plotting.plot_regression(pred[:, 0], labels[:, 0], run_dir / "plots" / "regression.png", scale["name"])
            if fitted.history:
                plotting.plot_training(fitted.history, run_dir / "plots" / "training.png")
        return results


@dataclass(frozen=True)
class GeneratorTask(Task):
    """A generator: its test loss and sampling speed (fidelity: ``colliderlab calo evaluate``)."""

    name: str = "generator"

    def prepare(self, cfg: ExperimentConfig, train: Any, val: Any, test: Any) -> Prepared:
        return Prepared(train, val, test, truth=None)  # labels condition the generator: no check

    def finish(self, cfg: ExperimentConfig, run_dir: Path, fitted: Fitted, data: Prepared, meta: Mapping[str, Any],
               plots: bool) -> dict[str, Any]:
        import torch

        trainer, model, test = fitted.trainer, fitted.model, data.test
        res = trainer.evaluate(test)
        cond = torch.from_numpy(test.arrays["cond"][:1000]).to(trainer.device)
        label = torch.from_numpy(test.labels[:1000]).to(trainer.device)
        model.sample(cond[:8], label[:8])  # warm-up
        t0 = time.perf_counter()
        model.sample(cond, label)
        rate = len(cond) / max(time.perf_counter() - t0, 1e-9)
        results = {
            "model": cfg.model.name, "preset": cfg.model.preset, "representation": "calo",
            "test_loss": res.get("val_loss"), "params": int(fitted.params),
            "train_seconds": float(fitted.train_seconds), "n_train": len(data.train), "n_val": len(data.val),
            "n_test": len(test), "class_names": list(test.class_names), "showers_per_second": rate,
            "seed": cfg.trainer.seed,
        }
        write_json(run_dir / "results.json", results)
        if plots and fitted.history:
            from colliderlab.plots import plot_training

            plot_training(fitted.history, run_dir / "plots" / "training.png")
        return results


TASKS: dict[str, Task] = {t.name: t for t in (ClassifierTask(), RegressorTask(), GeneratorTask())}
"""The tasks an experiment trains, by the name a model spec declares."""


def resolve_task(cfg: ExperimentConfig, spec: ModelSpec) -> tuple[ExperimentConfig, Task]:
    """The task of ``cfg`` (``data.target`` makes it a regression, else the spec's default task),
    with the config made concrete; errors say which pieces disagree."""
    name, target = cfg.model.name, cfg.data.target
    if cfg.quantization and spec.backend != "torch":
        raise ValueError(f"quantization-aware training needs a torch model; {name!r} is a baseline ({spec.backend})")
    if (cfg.decorrelation or cfg.calibration != "none") and (spec.backend != "torch" or target is not None
                                                              or spec.task != "classifier"):
        raise ValueError(f"decorrelation and calibration apply to torch classifiers; {name!r} is a "
                         f"{spec.backend} {'regression' if target else spec.task}")
    if target is None:
        if spec.task == "regressor":
            raise ValueError(f"{name!r} is a regression baseline: set data.target")
        if cfg.trainer.loss == "gaussian_nll":
            raise ValueError("trainer.loss = gaussian_nll is a regression loss: set data.target")
        if cfg.trainer.task == "regression":
            from colliderlab.features.targets import TARGETS

            raise ValueError(f"trainer.task = regression needs data.target, one of: {', '.join(TARGETS)}")
        if spec.task not in TASKS:
            raise ValueError(f"{name!r} is an anomaly {spec.task}, trained by colliderlab.anomaly (colliderlab "
                             f"anomaly ...), not by an experiment; experiments train {', '.join(TASKS)}s")
        return cfg, TASKS[spec.task]
    from colliderlab.features.targets import check_target

    check_target(target)
    if "regressor" not in spec.tasks:
        what = "baseline" if spec.backend != "torch" else "model"
        raise ValueError(
            f"{what} {name!r} is a {spec.task}; a regression target ({target!r}) needs a torch model "
            "(colliderlab models lists them) or a regression baseline (linear_regression, bdt_regression)"
        )
    if cfg.trainer.monitor in ("val_auc", "val_accuracy"):
        raise ValueError(f"trainer.monitor = {cfg.trainer.monitor} is a classifier metric; use val_loss for regression")
    data = dataclasses.replace(cfg.data, target_reference=cfg.data.transform().reference)  # the default made concrete
    cfg = dataclasses.replace(cfg, data=data, trainer=dataclasses.replace(cfg.trainer, task="regression"))
    return cfg, TASKS["regressor"]


def _write_results(cfg: ExperimentConfig, run_dir: Path, fitted: Fitted, data: Prepared, meta: Mapping[str, Any],
                   results: dict[str, Any], scores: np.ndarray, sigma: np.ndarray | None) -> dict[str, Any]:
    """Complete ``results`` (model, sizes, speed, sample), write it and ``test_scores.h5``."""
    class_names = data.train.class_names
    results.update(
        model=cfg.model.name,
        preset=cfg.model.preset,
        representation=meta["representation"]["kind"],
        params=int(fitted.params),
        train_seconds=float(fitted.train_seconds),
        n_train=len(data.train),
        n_val=len(data.val),
        class_names=list(class_names),
        seed=cfg.trainer.seed,
        **meta_of_file(cfg.data.path),
    )
    tp = _throughput(fitted.predict, data.test)
    results["inference_jets_per_second"] = tp["batch_1024"]
    results["inference_jets_per_second_batch1"] = tp["batch_1"]
    target = data.scale["name"] if data.scale else None
    write_scores(run_dir / "test_scores.h5", scores, data.truth, class_names, target, sigma)
    write_json(run_dir / "results.json", results)
    return results


def _throughput(predict_fn: Any, data: Any, batch_sizes: Sequence[int] = (1, 1024)) -> dict[str, float]:
    """Jets per second of ``predict_fn(subset, batch_size)`` (at most ~1 s per batch size)."""
    out = {}
    for bs in batch_sizes:
        n = min(len(data), 64 if bs == 1 else max(bs, 2048))
        sub = data.subset(slice(0, n))
        predict_fn(sub.subset(slice(0, min(n, bs))), bs)  # warm-up
        t0 = time.perf_counter()
        predict_fn(sub, bs)
        out[f"batch_{bs}"] = n / max(time.perf_counter() - t0, 1e-9)
    return out


def _transformed_labels(ds: Any, transform: TargetTransform) -> np.ndarray:
    """(N, 1) float32: what the head learns for the targets of ``ds`` (see ``data.target_transform``)."""
    r = transform.reference_values(ds.meta["jet_p4"], ds.meta["truth_p4"])
    return transform.forward(ds.labels, r).astype(np.float32)


# ---------------------------------------------------------------------------- backends


@dataclass
class FitRequest:
    """Everything a backend needs to build and fit a model."""

    cfg: ExperimentConfig
    spec: ModelSpec
    task: Task
    data: Prepared
    representation: Any
    run_dir: Path
    meta: dict[str, Any] = field(default_factory=dict)
    resume: bool = True
    callbacks: tuple[Any, ...] = ()  # trainer callbacks (torch models)


def fit_torch(req: FitRequest) -> Fitted:
    """Build the registered model for the representation's dimensions and train it with
    :class:`~colliderlab.train.trainer.Trainer` (checkpoints in the run directory); the best
    epoch's weights are loaded back."""
    import torch

    from colliderlab.models.registry import build_config, count_params
    from colliderlab.train.trainer import Trainer

    cfg, spec, train = req.cfg, req.spec, req.data.train
    dims = req.representation.dims(train.subset(slice(0, 64)).arrays)  # shapes only (streamed splits too)
    fields = {f.name for f in dataclasses.fields(spec.config_cls)}
    dims = {k: v for k, v in dims.items() if k in fields}  # e.g. layer shapes only for CNNs
    n_out = req.task.n_outputs(cfg, train.class_names)
    mconf = build_config(cfg.model.name, cfg.model.preset, **dims, n_classes=n_out, **dict(cfg.model.options))
    torch.manual_seed(cfg.trainer.seed)
    model = spec.cls(mconf)
    req.meta["model_config"] = plain(asdict(mconf))
    req.meta["quantization"] = dict(cfg.quantization) or None
    if cfg.quantization:
        from colliderlab.nn.quant import QuantConfig, prepare_qat

        prepare_qat(model, QuantConfig.from_dict(cfg.quantization))
    from colliderlab.train.decorrelation import loss_terms, wrap_model

    req.meta["decorrelation"] = dict(cfg.decorrelation) or None
    model = wrap_model(model, cfg.decorrelation)  # the adversary's game, if asked for
    trainer = Trainer(model, cfg.trainer, req.run_dir, meta=req.meta, loss_terms=loss_terms(cfg.decorrelation),
                      callbacks=req.callbacks)
    history = trainer.fit(train, req.data.val, resume=req.resume).history
    train_seconds = float(sum(r.get("train_seconds", 0.0) for r in history))
    load_weights(model, req.run_dir / "checkpoint_best", trainer.device)
    return Fitted(model, count_params(model), train_seconds, history, trainer.predict, logits=True, trainer=trainer)


def fit_baseline(req: FitRequest) -> Fitted:
    """Fit a classical baseline on the flattened features (seeded by ``trainer.seed`` when its
    config has a seed) and save it in ``baseline/`` (its own JSON/UBJ format and meta.json)."""
    from colliderlab.models.baselines import create_baseline

    cfg, data = req.cfg, req.data
    t0 = time.perf_counter()
    names = tuple(_feature_names(req.meta["representation"]))
    opts = dict(cfg.model.options)
    if "seed" in {f.name for f in dataclasses.fields(req.spec.config_cls)}:
        opts.setdefault("seed", cfg.trainer.seed)  # ensemble members differ by seed
    model = create_baseline(cfg.model.name, feature_names=names, **opts)
    regression = req.task.name == "regressor"
    y_train, y_val = (data.train.labels.reshape(-1), data.val.labels.reshape(-1)) if regression \
        else (data.train.labels, data.val.labels)
    model.fit(flat(data.train), y_train, flat(data.val), y_val)
    out = req.run_dir / "baseline"
    out.mkdir(exist_ok=True)
    model.save(out / "model")
    write_json(out / "meta.json", {**req.meta, "format": CHECKPOINT_FORMAT, "options": opts})
    train_seconds = time.perf_counter() - t0

    def predict(ds: Any, batch_size: int | None) -> np.ndarray:
        if regression:
            return model.predict(flat(ds))[:, None]  # standardised
        return model.predict_proba(flat(ds))

    return Fitted(model, _baseline_params(model), train_seconds, [], predict, logits=False)


BACKENDS: dict[str, Callable[[FitRequest], Fitted]] = {
    "torch": fit_torch,
    "xgboost": fit_baseline,
    "sklearn": fit_baseline,
    "numpy": fit_baseline,
}
"""How a model of each declared backend is fitted."""


def _baseline_params(model: Any) -> int:
    n = getattr(model, "n_params", None)
    return int(n() if callable(n) else n) if n is not None else 0


def _feature_names(rep: Mapping[str, Any]) -> tuple[str, ...]:
    from colliderlab.features.representations import representation_from_dict

    return tuple(representation_from_dict(rep).feature_names())
