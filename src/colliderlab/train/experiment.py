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
                           for multi-class), params, train_seconds, inference_jets_per_second,
                           numbers of jets, detector card and MPI setting of the sample
      test_scores.h5       datasets ``scores`` (N, C) class probabilities and ``labels`` (N,);
                           regression runs: ``predictions`` (N, 1) and ``targets`` (N, 1)
      plots/               roc.png, scores.png, training.png (regression: regression.png,
                           training.png; image runs add images.png)

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

CHECKPOINT KEYS (``checkpoint_*.json``): ``format`` (``colliderlab-checkpoint-2``),
``checkpoint_id`` (the same in the ``.safetensors`` header and, for the last checkpoint, in
``resume_state.pt``: files of one save), ``colliderlab_version``, ``model_name``,
``model_config`` (dict), ``representation`` (dict with ``kind``), ``standardizer`` (mean/std per
array), ``class_names``, ``task``, ``target`` (regression: name, mean and std of the learnt,
transformed target, transform and reference; else None), ``quantization`` (QAT formats or
None), ``trainer_config``, ``epoch``, ``step``, ``best_metric``, ``best_epoch``, ``bad_epochs``,
``history``. See :mod:`colliderlab.train.checkpoint`.

Runs written before format 2 hold one pickled ``checkpoint_*.pt`` per checkpoint. They are
refused (by ``load_run``, hence ``predict``, ``evaluate`` and ``export``, and by resume) with a
message naming the file; ``colliderlab convert-run RUN_DIR`` converts them, trusting the files.

Example experiment::

    name: pfn-toptag
    data: {path: data/toptag.h5, n_jets: 20000}
    representation: {kind: particles, n_particles: 64}
    model: {name: pfn, preset: lite}
    trainer: {epochs: 10, lr: 1.0e-3, batch_size: 256}
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from colliderlab.atomic import write_json
from colliderlab.train.checkpoint import (
    CHECKPOINT_FORMAT,
    LEGACY_FORMAT,
    load_checkpoint,
    load_weights,
)
from colliderlab.train.contract import (
    check_run_inputs,
    input_fields,
    record_in_scores,
    with_allow_missing,
)
from colliderlab.train.trainer import TrainerConfig, softmax

if TYPE_CHECKING:
    from colliderlab.features.targets import TargetTransform

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
]


@dataclass(frozen=True)
class DataConfig:
    """Where the jets come from and how they are split.

    ``path`` is any file :func:`colliderlab.data.readers.read_jets` reads. With ``val_path`` /
    ``test_path`` those files are used as given; otherwise ``path`` is split randomly with
    ``split_seed``. ``n_jets`` keeps only the first jets of ``path``. ``cache_dir = "auto"``
    caches representations in ``<data dir>/.cache``; ``None`` disables caching. ``target``
    (a name from :data:`colliderlab.features.targets.TARGETS`, e.g. ``truth_pt``) trains a
    regression head on that per-jet quantity instead of a classifier. ``target_transform``
    (``none``, ``ratio``, ``log_ratio``) has the head learn target / reference or its log
    instead, ``target_reference`` a measured quantity (default: the target's measured
    counterpart, e.g. ``visible_energy`` for ``incident_energy``); see
    :class:`colliderlab.features.targets.TargetTransform`.
    """

    path: str = ""
    val_path: str | None = None
    test_path: str | None = None
    n_jets: int | None = None
    val_fraction: float = 0.15
    test_fraction: float = 0.15
    split_seed: int = 0
    cache_dir: str | None = "auto"
    target: str | None = None
    target_transform: str = "none"
    target_reference: str | None = None

    def __post_init__(self) -> None:
        if self.target is None:
            if self.target_transform != "none" or self.target_reference is not None:
                raise ValueError("data.target_transform and data.target_reference need data.target")
            return
        self.transform()  # unknown transforms, references or targets fail here, listing the valid ones

    def transform(self) -> TargetTransform:
        """The :class:`~colliderlab.features.targets.TargetTransform` of the target (reference resolved)."""
        from colliderlab.features.targets import TargetTransform

        return TargetTransform.for_target(self.target, self.target_transform, self.target_reference)


@dataclass(frozen=True)
class ModelSection:
    """A registered model (``colliderlab list-models``) or a baseline, its preset and overrides."""

    name: str = "pfn"
    preset: str = "lite"
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ExperimentConfig:
    """A whole experiment. ``representation`` is ``{kind: ..., options...}``; empty picks the
    model's default representation. ``quantization`` (e.g. ``{weights: "ap_fixed<8,2>",
    activations: "ap_fixed<10,5>"}``) trains the model quantisation-aware
    (:func:`colliderlab.nn.quant.prepare_qat`); empty trains in floating point."""

    name: str = "experiment"
    data: DataConfig = field(default_factory=DataConfig)
    representation: Mapping[str, Any] = field(default_factory=dict)
    model: ModelSection = field(default_factory=ModelSection)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    quantization: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["model"]["options"] = dict(self.model.options)
        d["representation"] = dict(self.representation)
        d["quantization"] = dict(self.quantization)
        return _plain(d)


def _plain(x: Any) -> Any:
    if isinstance(x, Mapping):
        return {k: _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    return x


def _tuplify(x: Any) -> Any:
    return tuple(_tuplify(v) for v in x) if isinstance(x, list) else x


def _coerce(cls: type, d: dict[str, Any]) -> dict[str, Any]:
    """YAML 1.1 reads ``3e-4`` as a string: turn numeric strings into the field's number type."""
    import typing

    hints = typing.get_type_hints(cls)
    out = dict(d)
    for k, v in d.items():
        if not isinstance(v, str):
            continue
        hint = str(hints.get(k, ""))
        for typ in (int, float):
            if typ.__name__ in hint and not ("str" in hint and typ is int):
                try:
                    out[k] = typ(v)
                    break
                except ValueError:
                    continue
    return out


def _section(cls: type, d: Any, where: str) -> Any:
    if d is None:
        return cls()
    if not isinstance(d, Mapping):
        raise TypeError(f"'{where}' must be a mapping of keys to values, got {type(d).__name__}")
    valid = [f.name for f in dataclasses.fields(cls)]
    unknown = [k for k in d if k not in valid]
    if unknown:
        raise KeyError(f"unknown key(s) {', '.join(f'{where}.{k}' for k in unknown)}; valid keys of '{where}': {', '.join(valid)}")
    try:
        return cls(**_coerce(cls, {k: _tuplify(v) for k, v in d.items()}))
    except (TypeError, ValueError) as err:
        raise ValueError(f"in '{where}': {err}") from err


def experiment_from_dict(d: Mapping[str, Any]) -> ExperimentConfig:
    """Parse a nested dict; every unknown key is an error naming it and the valid keys."""
    if not isinstance(d, Mapping):
        raise TypeError("an experiment must be a mapping with keys name, data, representation, model, trainer")
    valid = [f.name for f in dataclasses.fields(ExperimentConfig)]
    unknown = [k for k in d if k not in valid]
    if unknown:
        raise KeyError(f"unknown top-level key(s) {', '.join(map(repr, unknown))}; valid keys: {', '.join(valid)}")
    rep = d.get("representation") or {}
    if not isinstance(rep, Mapping):
        raise TypeError("'representation' must be a mapping like {kind: particles, n_particles: 64}")
    model = d.get("model") or {}
    if isinstance(model, Mapping) and "options" in model and not isinstance(model["options"], Mapping):
        raise TypeError("'model.options' must be a mapping of model-config fields to values")
    quant = d.get("quantization") or {}
    if quant:
        from colliderlab.nn.quant import QuantConfig

        quant = QuantConfig.from_dict(quant).to_dict()  # unknown keys / bad formats fail here
    return ExperimentConfig(
        name=str(d.get("name", "experiment")),
        data=_section(DataConfig, d.get("data"), "data"),
        representation=dict(rep),
        model=_section(ModelSection, model, "model"),
        trainer=_section(TrainerConfig, d.get("trainer"), "trainer"),
        quantization=dict(quant),
    )


def apply_overrides(d: dict[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """Apply ``section.key=value`` strings (values parsed as YAML) to a nested dict, in place."""
    import yaml

    for item in overrides:
        if "=" not in item:
            raise ValueError(f"--set expects key=value (e.g. trainer.lr=3e-4), got {item!r}")
        key, raw = item.split("=", 1)
        parts = key.strip().split(".")
        node = d
        for p in parts[:-1]:
            node = node.setdefault(p, {})
            if not isinstance(node, dict):
                raise ValueError(f"--set {key}: {p!r} is not a section")
        node[parts[-1]] = yaml.safe_load(raw)
    return d


def load_experiment(path: str | os.PathLike, overrides: Sequence[str] = ()) -> ExperimentConfig:
    """Read a YAML experiment file and apply ``--set`` overrides."""
    import yaml

    with open(path) as f:
        d = yaml.safe_load(f) or {}
    return experiment_from_dict(apply_overrides(d, overrides))


# ---------------------------------------------------------------------------- data


def _is_baseline(name: str) -> bool:
    from colliderlab.models.baselines import BASELINES

    return name in BASELINES


def _is_regressor(name: str) -> bool:
    from colliderlab.models.regressors import REGRESSORS

    return name in REGRESSORS


def _is_generator(name: str) -> bool:
    if _is_baseline(name):
        return False
    from colliderlab.models.registry import model_spec

    return bool(getattr(model_spec(name).cls, "generative", False))


def _baseline_representation(name: str) -> dict[str, Any]:
    if name == "efp_linear":
        return {"kind": "efp"}
    return {"kind": "observables"}


def default_representation(model_name: str) -> dict[str, Any]:
    """The representation a model takes when the experiment names none."""
    if _is_baseline(model_name):
        return _baseline_representation(model_name)
    from colliderlab.models.registry import model_spec

    return {"kind": model_spec(model_name).representations[0]}


def _representation(cfg: ExperimentConfig) -> Any:
    from colliderlab.features.representations import representation_from_dict

    rep = dict(cfg.representation) or default_representation(cfg.model.name)
    if not _is_baseline(cfg.model.name):
        from colliderlab.models.registry import model_spec

        spec = model_spec(cfg.model.name)
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
    full, rep = build_dataset(d.path, rep, stop=d.n_jets, cache_dir=_cache_dir(d, d.path), progress=progress,
                              target=d.target)
    if d.val_path or d.test_path:
        tr_idx, va_idx, te_idx = split_indices(len(full), 0.0 if d.val_path else d.val_fraction,
                                               0.0 if d.test_path else d.test_fraction, d.split_seed)
        train = full.subset(tr_idx)
        val = (build_dataset(d.val_path, rep, cache_dir=_cache_dir(d, d.val_path), target=d.target)[0]
               if d.val_path else full.subset(va_idx))
        test = (build_dataset(d.test_path, rep, cache_dir=_cache_dir(d, d.test_path), target=d.target)[0]
                if d.test_path else full.subset(te_idx))
    else:
        tr_idx, va_idx, te_idx = split_indices(len(full), d.val_fraction, d.test_fraction, d.split_seed)
        train, val, test = full.subset(tr_idx), full.subset(va_idx), full.subset(te_idx)
    return train, val, test, rep


# ---------------------------------------------------------------------------- metrics


def score_metrics(probs: np.ndarray, labels: np.ndarray, class_names: Sequence[str]) -> dict[str, Any]:
    """Tagger metrics from (N, C) class probabilities.

    Binary (C = 2): AUC, accuracy, 1/eps_B at eps_S = 0.3 and 0.5 for the last class as signal.
    Multi-class: accuracy and, per class, one-vs-rest AUC and rejection at 0.5; ``auc`` is their mean.
    """
    from colliderlab import metrics

    labels = np.asarray(labels)
    out: dict[str, Any] = {"n_test": int(len(labels)), "accuracy": float((probs.argmax(1) == labels).mean())}
    if probs.shape[1] == 2:
        s, y = probs[:, 1], labels == 1
        out["auc"] = metrics.auc(s, y)
        out["rejection_at_0.3"] = metrics.rejection_at(s, y, 0.3)
        out["rejection_at_0.5"] = metrics.rejection_at(s, y, 0.5)
        out["n_background_test"] = int((~y).sum())
        return out
    per = {}
    for k, name in enumerate(class_names):
        y = labels == k
        if y.any() and not y.all():
            per[name] = {"auc": metrics.auc(probs[:, k], y), "rejection_at_0.5": metrics.rejection_at(probs[:, k], y, 0.5)}
    out["per_class"] = per
    out["auc"] = float(np.mean([v["auc"] for v in per.values()])) if per else float("nan")
    return out


# ---------------------------------------------------------------------------- runs


def _meta_of_file(path: str) -> dict[str, Any]:
    """Detector card and MPI setting of a colliderlab file (tables must state them)."""
    from colliderlab.data.readers import detect_format

    try:
        if detect_format(path) != "colliderlab":
            return {"sample_format": detect_format(path)}
        from colliderlab.data.h5 import read_h5_attrs

        prov = read_h5_attrs(path).get("provenance", {})
        cfg = prov.get("config", {})
        return {"detector": cfg.get("detector"), "mpi": cfg.get("mpi"), "pileup_mu": cfg.get("pileup_mu")}
    except Exception:  # metadata is informative only
        return {}


def _write_scores(path: Path, scores: np.ndarray, labels: np.ndarray | None, class_names: Sequence[str],
                  target: str | None = None, sigma: np.ndarray | None = None) -> None:
    """Classifiers: ``scores`` (N, C) and ``labels`` (N,). Regression: ``predictions`` (N, 1),
    ``targets`` (N, 1) and, for heads with an uncertainty, ``sigma`` (N, 1), with the target's
    name in the ``target`` attribute."""
    import h5py

    tmp = path.with_name(f".{path.name}.tmp")
    with h5py.File(tmp, "w") as f:
        if target is None:
            f.create_dataset("scores", data=scores.astype(np.float32))
            if labels is not None:
                f.create_dataset("labels", data=labels.astype(np.int64))
        else:
            f.create_dataset("predictions", data=scores.astype(np.float32))
            if labels is not None:
                f.create_dataset("targets", data=labels.astype(np.float32))
            if sigma is not None:
                f.create_dataset("sigma", data=sigma.astype(np.float32))
            f.attrs["target"] = target
        f.attrs["class_names"] = json.dumps(list(class_names))
    os.replace(tmp, path)


def resolve_task(cfg: ExperimentConfig) -> ExperimentConfig:
    """``data.target`` makes the experiment a regression; check that the pieces agree."""
    target = cfg.data.target
    if cfg.quantization and _is_baseline(cfg.model.name):
        raise ValueError(f"quantization-aware training needs a torch model; {cfg.model.name!r} is a baseline")
    regressor = _is_regressor(cfg.model.name)
    if target is None:
        if regressor:
            raise ValueError(f"{cfg.model.name!r} is a regression baseline: set data.target")
        if cfg.trainer.loss == "gaussian_nll":
            raise ValueError("trainer.loss = gaussian_nll is a regression loss: set data.target")
        if cfg.trainer.task == "regression":
            from colliderlab.features.targets import TARGETS

            raise ValueError(f"trainer.task = regression needs data.target, one of: {', '.join(TARGETS)}")
        return cfg
    from colliderlab.features.targets import check_target

    check_target(target)
    if _is_baseline(cfg.model.name) and not regressor:
        raise ValueError(
            f"baseline {cfg.model.name!r} is a classifier; a regression target ({target!r}) needs a "
            "torch model (colliderlab models lists them) or a regression baseline (linear_regression, "
            "bdt_regression)"
        )
    if cfg.trainer.monitor in ("val_auc", "val_accuracy"):
        raise ValueError(f"trainer.monitor = {cfg.trainer.monitor} is a classifier metric; use val_loss for regression")
    data = dataclasses.replace(cfg.data, target_reference=cfg.data.transform().reference)  # the default made concrete
    return dataclasses.replace(cfg, data=data, trainer=dataclasses.replace(cfg.trainer, task="regression"))


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


def run_experiment(
    cfg: ExperimentConfig,
    run_dir: str | os.PathLike,
    *,
    resume: bool = True,
    progress: bool = True,
    plots: bool = True,
) -> dict[str, Any]:
    """Train ``cfg`` into ``run_dir`` and evaluate on the test split; returns ``results.json``.

    A run killed part-way is continued from ``checkpoint_last`` when called again with the
    same configuration.
    """
    import yaml

    from colliderlab import __version__
    from colliderlab.data.dataset import Standardizer, check_labels
    from colliderlab.features.representations import representation_to_dict

    run_dir = Path(run_dir)
    cfg = resolve_task(cfg)
    target = cfg.data.target
    _check_run_dir(run_dir, cfg, resume)
    train, val, test, rep = _datasets(cfg, progress)
    if target is None:
        if not _is_generator(cfg.model.name):
            check_labels(train.labels, train.class_names)
        scale = None
    else:  # regress the standardised (transformed) target; predictions are turned back into its units
        transform = cfg.data.transform()
        true_test = test.labels  # (N, 1) in the target's units
        train, val, test = (dataclasses.replace(ds, labels=_transformed_labels(ds, transform))
                            for ds in (train, val, test))
        scale = {"name": target, "mean": float(train.labels.mean()), "std": float(max(train.labels.std(), 1e-12)),
                 **transform.to_dict()}
        train, val, test = (dataclasses.replace(ds, labels=((ds.labels - scale["mean"]) / scale["std"]).astype(np.float32))
                            for ds in (train, val, test))
    std = Standardizer.fit(train.arrays, rep.standardize)
    train, val, test = (dataclasses.replace(ds, arrays=std.apply(ds.arrays)) for ds in (train, val, test))
    resolved = dataclasses.replace(cfg, representation=representation_to_dict(rep))
    run_dir.mkdir(parents=True, exist_ok=True)
    tmp = run_dir / ".config.yaml.tmp"
    tmp.write_text(yaml.safe_dump(resolved.to_dict(), sort_keys=False))
    os.replace(tmp, run_dir / "config.yaml")
    class_names = train.class_names
    hetero = target is not None and cfg.trainer.loss == "gaussian_nll"
    n_classes = len(class_names) if target is None else (2 if hetero else 1)
    meta = {
        "colliderlab_version": __version__,
        "model_name": cfg.model.name,
        "representation": representation_to_dict(rep),
        "standardizer": std.to_dict(),
        "class_names": list(class_names),
        "task": cfg.trainer.task,
        "target": scale,
    }
    meta["input_fields"] = input_fields(rep)  # the input contract: what predict/evaluate/export check
    t0 = time.perf_counter()
    sigma = None  # predicted uncertainties (heteroscedastic regression heads only)
    if _is_baseline(cfg.model.name):
        model = _fit_baseline(cfg, train, val, run_dir, meta)
        train_seconds = time.perf_counter() - t0
        params = _baseline_params(model)
        history: list[dict[str, float]] = []

        def predict_fn(ds: Any, bs: int) -> Any:
            if scale is None:
                return model.predict_proba(_flat(ds))
            return model.predict(_flat(ds))[:, None]  # standardised

        probs = predict_fn(test, 0)
        if scale is not None:
            probs, sigma = _regression_outputs(probs, scale, test)
    else:
        import torch

        from colliderlab.models.registry import build_config, count_params, model_spec
        from colliderlab.train.trainer import Trainer

        spec = model_spec(cfg.model.name)
        dims = rep.dims(train.arrays)
        fields = {f.name for f in dataclasses.fields(spec.config_cls)}
        dims = {k: v for k, v in dims.items() if k in fields}  # e.g. layer shapes only for CNNs
        mconf = build_config(cfg.model.name, cfg.model.preset, **dims, n_classes=n_classes, **dict(cfg.model.options))
        torch.manual_seed(cfg.trainer.seed)
        model = spec.cls(mconf)
        meta["model_config"] = _plain(asdict(mconf))
        meta["quantization"] = dict(cfg.quantization) or None
        if cfg.quantization:
            from colliderlab.nn.quant import QuantConfig, prepare_qat

            prepare_qat(model, QuantConfig.from_dict(cfg.quantization))
        trainer = Trainer(model, cfg.trainer, run_dir, meta=meta)
        result = trainer.fit(train, val, resume=resume)
        history = result.history
        train_seconds = float(sum(r.get("train_seconds", 0.0) for r in history))
        load_weights(model, run_dir / "checkpoint_best", trainer.device)
        params = count_params(model)
        if getattr(model, "generative", False):
            return _generator_results(cfg, run_dir, trainer, model, test, history, params, train_seconds,
                                      len(train), len(val), plots)
        probs = trainer.predict(test)
        if scale is None:
            probs = softmax(probs)
        else:  # a mean (and a log variance) per shower, standardised and transformed
            probs, sigma = _regression_outputs(probs, scale, test)

        def predict_fn(ds: Any, bs: int) -> Any:
            return trainer.predict(ds, bs)
    if scale is None:
        labels = test.labels
        results = score_metrics(probs, labels, class_names)
    else:
        from colliderlab.metrics import regression_metrics

        labels = true_test
        results = {"target": target, "target_transform": scale["transform"], "target_reference": scale["reference"],
                   **regression_metrics(probs[:, 0], labels[:, 0])}
        if sigma is not None:
            from colliderlab.metrics import pull_metrics

            results.update(pull_metrics(probs[:, 0], labels[:, 0], sigma[:, 0]))
    results.update(
        model=cfg.model.name,
        preset=cfg.model.preset,
        representation=meta["representation"]["kind"],
        params=int(params),
        train_seconds=float(train_seconds),
        n_train=len(train),
        n_val=len(val),
        class_names=list(class_names),
        seed=cfg.trainer.seed,
        **_meta_of_file(cfg.data.path),
    )
    tp = _throughput(predict_fn, test)
    results["inference_jets_per_second"] = tp["batch_1024"]
    results["inference_jets_per_second_batch1"] = tp["batch_1"]
    _write_scores(run_dir / "test_scores.h5", probs, labels, class_names, target, sigma)
    write_json(run_dir / "results.json", results)
    if plots and scale is not None:
        from colliderlab import plots as plotting

        plotting.plot_regression(probs[:, 0], labels[:, 0], run_dir / "plots" / "regression.png", target)
        if history:
            plotting.plot_training(history, run_dir / "plots" / "training.png")
    elif plots:
        _run_plots(run_dir, probs, labels, class_names, history, cfg.model.name)
        if rep.kind == "image":  # average jet image per class
            from colliderlab.plots import plot_images

            plot_images(test.arrays["image"], test.labels, class_names, run_dir / "plots" / "images.png",
                        extent=getattr(rep, "extent", 1.6))
    return results


def _generator_results(cfg: ExperimentConfig, run_dir: Path, trainer: Any, model: Any, test: Any,
                       history: list[dict[str, float]], params: int, train_seconds: float,
                       n_train: int, n_val: int, plots: bool) -> dict[str, Any]:
    """A generator's run: its test loss and sampling speed (fidelity: ``colliderlab calo evaluate``)."""
    import torch

    res = trainer.evaluate(test)
    cond = torch.from_numpy(test.arrays["cond"][:1000]).to(trainer.device)
    label = torch.from_numpy(test.labels[:1000]).to(trainer.device)
    model.sample(cond[:8], label[:8])  # warm-up
    t0 = time.perf_counter()
    model.sample(cond, label)
    rate = len(cond) / max(time.perf_counter() - t0, 1e-9)
    results = {
        "model": cfg.model.name, "preset": cfg.model.preset, "representation": "calo",
        "test_loss": res.get("val_loss"), "params": int(params), "train_seconds": float(train_seconds),
        "n_train": n_train, "n_val": n_val, "n_test": len(test), "class_names": list(test.class_names),
        "showers_per_second": rate, "seed": cfg.trainer.seed,
    }
    write_json(run_dir / "results.json", results)
    if plots and history:
        from colliderlab.plots import plot_training

        plot_training(history, run_dir / "plots" / "training.png")
    return results


def _transformed_labels(ds: Any, transform: TargetTransform) -> np.ndarray:
    """(N, 1) float32: what the head learns for the targets of ``ds`` (see ``data.target_transform``)."""
    r = transform.reference_values(ds.meta["jet_p4"], ds.meta["truth_p4"])
    return transform.forward(ds.labels, r).astype(np.float32)


def _regression_outputs(out: np.ndarray, target: Mapping[str, Any], ds: Any) -> tuple[np.ndarray, np.ndarray | None]:
    """A regression head's outputs over ``ds`` in the target's units.

    Args:
        out: (N, 1) standardised (transformed) predictions, or (N, 2) with a log variance too
            (``gaussian_nll`` heads).
        target: the checkpoint's ``target`` entry (name, mean, std, transform, reference).
    Returns:
        predictions (N, 1) float64 and sigma (N, 1) (None without a variance head), in the
        target's units; sigma is propagated to first order (exact for no or a ratio transform).
    """
    from colliderlab.features.targets import TargetTransform

    tf = TargetTransform.from_dict(target)
    r = tf.reference_values(ds.meta["jet_p4"], ds.meta["truth_p4"])
    y = out[:, :1] * target["std"] + target["mean"]  # (N, 1) transformed
    pred = tf.inverse(y, r)
    if out.shape[1] < 2:
        return pred, None
    sigma_y = np.exp(0.5 * np.clip(out[:, 1:2], -12.0, 12.0)) * target["std"]  # the trainer's clamp
    return pred, tf.inverse_sigma(y, sigma_y, r)


def _flat(ds: Any) -> np.ndarray:
    x = ds.arrays["x"]
    return x.reshape(len(x), -1)


def _baseline_params(model: Any) -> int:
    n = getattr(model, "n_params", None)
    return int(n() if callable(n) else n) if n is not None else 0


def _fit_baseline(cfg: ExperimentConfig, train: Any, val: Any, run_dir: Path, meta: dict[str, Any]) -> Any:
    from colliderlab.models.baselines import BASELINES, create_baseline

    names = tuple(_feature_names(meta["representation"]))
    opts = dict(cfg.model.options)
    if "seed" in {f.name for f in dataclasses.fields(BASELINES[cfg.model.name][0])}:
        opts.setdefault("seed", cfg.trainer.seed)  # ensemble members differ by seed
    model = create_baseline(cfg.model.name, feature_names=names, **opts)
    y_train, y_val = (train.labels.reshape(-1), val.labels.reshape(-1)) if _is_regressor(cfg.model.name) \
        else (train.labels, val.labels)
    model.fit(_flat(train), y_train, _flat(val), y_val)
    out = run_dir / "baseline"
    out.mkdir(exist_ok=True)
    model.save(out / "model")
    write_json(out / "meta.json", {**meta, "format": CHECKPOINT_FORMAT, "options": opts})
    return model


def _feature_names(rep: Mapping[str, Any]) -> tuple[str, ...]:
    from colliderlab.features.representations import representation_from_dict

    return tuple(representation_from_dict(rep).feature_names())


def _run_plots(run_dir: Path, probs: np.ndarray, labels: np.ndarray, class_names: Sequence[str],
               history: list[dict[str, float]], title: str) -> None:
    from colliderlab import metrics, plots

    pdir = run_dir / "plots"
    if probs.shape[1] == 2:
        es, eb, _ = metrics.roc_curve(probs[:, 1], labels == 1)
        plots.plot_roc({title: (es, eb)}, pdir / "roc.png")
    else:
        curves = {}
        for k, name in enumerate(class_names):
            y = labels == k
            if y.any() and not y.all():
                es, eb, _ = metrics.roc_curve(probs[:, k], y)
                curves[f"{name} vs rest"] = (es, eb)
        plots.plot_roc(curves, pdir / "roc.png", title=title)
    plots.plot_scores(probs, labels, class_names, pdir / "scores.png")
    if history:
        plots.plot_training(history, pdir / "training.png")


# ---------------------------------------------------------------------------- loading


@dataclass
class LoadedRun:
    """A trained model with what it needs to score new jets."""

    run_dir: Path
    model: Any
    model_name: str
    representation: Any
    standardizer: Any
    class_names: tuple[str, ...]
    is_baseline: bool
    config: dict[str, Any]
    target: dict[str, Any] | None = None  # regression: {"name", "mean", "std"}; None for classifiers
    allow_missing: tuple[str, ...] = ()  # input fields a file may lack: zeros filled on purpose

    def predict_proba(self, jets_path: str | os.PathLike, *, batch_size: int = 1024,
                      progress: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
        """Classifiers: class probabilities (N, C) of every jet of a file (any format), and its
        labels. Regression runs: predictions (N, 1) and true targets (N, 1), in the target's units."""
        if self.target:
            pred, _, labels = self.predict_regression(jets_path, batch_size=batch_size, progress=progress)
            return pred, labels
        ds, labels = self._dataset(jets_path, progress)
        if self.is_baseline:
            return self.model.predict_proba(_flat(ds)), labels
        return softmax(self._outputs(ds, batch_size)), labels

    def predict_regression(self, jets_path: str | os.PathLike, *, batch_size: int = 1024,
                           progress: bool = False) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
        """Regression runs: predictions (N, 1), their predicted uncertainties (N, 1; None unless
        the head is a ``gaussian_nll`` one) and the true targets (N, 1), all in the target's
        units (a ``data.target_transform`` is undone with the file's own reference values)."""
        if not self.target:
            raise ValueError(f"{self.run_dir} is a classifier; use predict_proba")
        ds, labels = self._dataset(jets_path, progress)
        pred, sigma = _regression_outputs(self._outputs(ds, batch_size), self.target, ds)
        return pred, sigma, labels

    def _dataset(self, jets_path: str | os.PathLike, progress: bool) -> tuple[Any, np.ndarray | None]:
        """The standardised dataset of a file and its labels (class indices or targets)."""
        from colliderlab.features.build import build_dataset

        check_run_inputs(self, jets_path)  # a file lacking a field the run reads is refused

        name = self.target["name"] if self.target else None
        ds, _ = build_dataset(jets_path, self.representation, progress=progress, target=name)
        labels = self.map_labels(ds) if name is None else ds.labels
        return dataclasses.replace(ds, arrays=self.standardizer.apply(ds.arrays)), labels

    def _outputs(self, ds: Any, batch_size: int) -> np.ndarray:
        """Raw outputs: logits (N, C), or standardised regression outputs (N, 1 or 2)."""
        if self.is_baseline:  # regression baselines (classifiers give probabilities: predict_proba)
            return self.model.predict(_flat(ds))[:, None]
        import torch

        self.model.eval()
        device = next(self.model.parameters()).device
        outs = []
        with torch.no_grad():
            for batch in ds.batches(batch_size, device=device):
                outs.append(self.model(*[batch[k] for k in self.model.input_names]).float().cpu())
        return torch.cat(outs).numpy()

    def map_labels(self, ds: Any) -> np.ndarray | None:
        """The dataset's labels in this model's class order (None when it has no classes)."""
        names = tuple(ds.class_names)
        if not names:
            return None
        if names == self.class_names:
            return ds.labels
        missing = [n for n in names if n not in self.class_names]
        if missing:
            raise ValueError(
                f"the data's classes {list(names)} include {missing}, which the model "
                f"(classes {list(self.class_names)}) does not know"
            )
        lut = np.array([self.class_names.index(n) for n in names])
        return lut[ds.labels]


def load_run(run_dir: str | os.PathLike, *, checkpoint: str = "best", device: str = "cpu") -> LoadedRun:
    """Rebuild a trained model from its run directory alone.

    ``checkpoint`` is ``"best"`` (for scoring) or ``"last"``. Nothing is unpickled.

    Raises:
        FileNotFoundError: no checkpoint.
        colliderlab.train.checkpoint.LegacyCheckpointError: an old pickled checkpoint (the message
            says how to convert it).
        colliderlab.train.checkpoint.CheckpointError (a ValueError): a checkpoint of an
            incompatible version, torn or unreadable.
    """
    import yaml

    from colliderlab.data.dataset import Standardizer
    from colliderlab.features.representations import representation_from_dict

    run_dir = Path(run_dir)
    config = yaml.safe_load((run_dir / "config.yaml").read_text()) if (run_dir / "config.yaml").exists() else {}
    base = run_dir / "baseline" / "meta.json"
    if base.exists():
        meta = json.loads(base.read_text())
        _check_format(meta, base, (CHECKPOINT_FORMAT, LEGACY_FORMAT))  # baselines were never pickled
        from colliderlab.models.baselines import BASELINES

        name = meta["model_name"]
        model = BASELINES[name][1].load(run_dir / "baseline" / "model")
        return LoadedRun(run_dir, model, name, representation_from_dict(meta["representation"]),
                         Standardizer.from_dict(meta["standardizer"]), tuple(meta["class_names"]), True, config,
                         meta.get("target"))
    from colliderlab.models.registry import model_from_config

    try:
        state, ck = load_checkpoint(run_dir / f"checkpoint_{checkpoint}", device)
    except FileNotFoundError:
        raise FileNotFoundError(
            f"{run_dir} has no checkpoint_{checkpoint}.safetensors / .json (and no baseline/): "
            "is it a colliderlab run directory?"
        ) from None
    model = model_from_config(ck["model_name"], ck["model_config"])
    if ck.get("quantization"):
        from colliderlab.nn.quant import QuantConfig, prepare_qat

        prepare_qat(model, QuantConfig.from_dict(ck["quantization"]))
    model.load_state_dict(state)
    model.to(device).eval()
    return LoadedRun(run_dir, model, ck["model_name"], representation_from_dict(ck["representation"]),
                     Standardizer.from_dict(ck["standardizer"]), tuple(ck["class_names"]), False, config,
                     ck.get("target"))


def _check_format(meta: Mapping[str, Any], path: Path, valid: Sequence[str] = (CHECKPOINT_FORMAT,)) -> None:
    fmt = meta.get("format")
    if fmt not in valid:
        raise ValueError(
            f"{path} has checkpoint format {fmt!r} (written by colliderlab "
            f"{meta.get('colliderlab_version', 'unknown')}); this version reads {CHECKPOINT_FORMAT!r}: "
            "it is incompatible, retrain with this version"
        )


def predict_run(run_dir: str | os.PathLike, data: str | os.PathLike, out: str | os.PathLike,
                *, progress: bool = True, allow_missing: str | Sequence[str] = ()) -> Path:
    """Write ``scores`` (N, C) and, when the file has them, ``labels`` (N,) to ``out`` (HDF5);
    regression runs write ``predictions`` (N, 1), ``targets`` (N, 1) and, for ``gaussian_nll``
    heads, ``sigma`` (N, 1), in the target's units. A file lacking a field the run reads is
    refused unless ``allow_missing`` names it; the attributes record what was filled with zeros
    (:mod:`colliderlab.train.contract`)."""
    run = with_allow_missing(load_run(run_dir), allow_missing)
    inputs = check_run_inputs(run, data)
    sigma = None
    if run.target:
        probs, sigma, labels = run.predict_regression(data, progress=progress)
    else:
        probs, labels = run.predict_proba(data, progress=progress)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    _write_scores(out, probs, labels, run.class_names, run.target["name"] if run.target else None, sigma)
    record_in_scores(out, inputs)
    return out


def evaluate_run(run_dir: str | os.PathLike, data: str | os.PathLike, *, out_dir: str | os.PathLike | None = None,
                 progress: bool = True, bootstrap: int = 0, allow_missing: str | Sequence[str] = ()) -> dict[str, Any]:
    """Metrics and plots of a trained run on a labelled file (any format). A file lacking a field
    the run reads is refused unless ``allow_missing`` names it; results.json records what was
    filled with zeros (:mod:`colliderlab.train.contract`)."""
    from colliderlab import metrics

    run = with_allow_missing(load_run(run_dir), allow_missing)
    inputs = check_run_inputs(run, data)
    out_dir = Path(out_dir) if out_dir else Path(run_dir) / f"eval-{Path(data).stem}"
    out_dir.mkdir(parents=True, exist_ok=True)
    if run.target:
        from colliderlab import plots

        probs, sigma, labels = run.predict_regression(data, progress=progress)
        res = {"target": run.target["name"], **metrics.regression_metrics(probs[:, 0], labels[:, 0])}
        if sigma is not None:
            res.update(metrics.pull_metrics(probs[:, 0], labels[:, 0], sigma[:, 0]))
        res.update(model=run.model_name, data=str(data), **_meta_of_file(str(data)), **(inputs.to_dict() if inputs else {}))
        write_json(out_dir / "results.json", res)
        plots.plot_regression(probs[:, 0], labels[:, 0], out_dir / "regression.png", run.target["name"])
        return res
    probs, labels = run.predict_proba(data, progress=progress)
    if labels is None:
        raise ValueError(f"{data} has no labels; use predict instead")
    res = score_metrics(probs, labels, run.class_names)
    res.update(model=run.model_name, data=str(data), **_meta_of_file(str(data)), **(inputs.to_dict() if inputs else {}))
    if bootstrap and probs.shape[1] == 2:
        res["bootstrap"] = metrics.bootstrap_metrics(probs[:, 1], labels == 1, n=bootstrap)
    write_json(out_dir / "results.json", res)
    _run_plots(out_dir, probs, labels, run.class_names, [], run.model_name)
    return res
