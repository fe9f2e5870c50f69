"""Run directories: load a trained run, score files with it, evaluate it; the score file and metrics.

This is the module :mod:`colliderlab.export` and :mod:`colliderlab.generative` read runs through.
See :mod:`colliderlab.train.experiment` for the run directory layout. Nothing in a run directory is
unpickled: a run directory passed on by someone else cannot run code when it is loaded.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from colliderlab.atomic import replacing, write_json
from colliderlab.metrics import softmax
from colliderlab.train.checkpoint import (
    CHECKPOINT_FORMAT,
    LEGACY_FORMAT,
    load_checkpoint,
)
from colliderlab.train.contract import check_run_inputs, with_allow_missing

__all__ = [
    "LoadedRun",
    "load_run",
    "predict_run",
    "evaluate_run",
    "score_metrics",
    "regression_outputs",
    "write_scores",
    "meta_of_file",
    "run_plots",
    "flat",
]


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



def meta_of_file(path: str) -> dict[str, Any]:
    """Detector card and MPI setting of a colliderlab file (tables must state them)."""
    from colliderlab.data.readers import detect_format

    try:
        if detect_format(path) not in ("colliderlab", "colliderlab-sharded"):
            return {"sample_format": detect_format(path)}
        from colliderlab.data.h5 import read_h5_attrs

        prov = read_h5_attrs(path).get("provenance", {})
        cfg = prov.get("config", {})
        return {"detector": cfg.get("detector"), "mpi": cfg.get("mpi"), "pileup_mu": cfg.get("pileup_mu")}
    except Exception:  # metadata is informative only
        return {}


def write_scores(path: Path, scores: np.ndarray, labels: np.ndarray | None, class_names: Sequence[str],
                  target: str | None = None, sigma: np.ndarray | None = None,
                  attrs: Mapping[str, Any] | None = None) -> None:
    """Classifiers: ``scores`` (N, C) and ``labels`` (N,). Regression: ``predictions`` (N, 1),
    ``targets`` (N, 1) and, for heads with an uncertainty, ``sigma`` (N, 1), with the target's
    name in the ``target`` attribute."""
    import h5py

    with replacing(path) as tmp, h5py.File(tmp, "w") as f:
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
        for key, value in (attrs or {}).items():
            f.attrs[key] = value if isinstance(value, str) else json.dumps(value)



def regression_outputs(out: np.ndarray, target: Mapping[str, Any], ds: Any) -> tuple[np.ndarray, np.ndarray | None]:
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


def flat(ds: Any) -> np.ndarray:
    """The (N, F) feature matrix a baseline takes: ``x`` of ``ds``, one row per jet."""
    x = ds.arrays["x"]
    return x.reshape(len(x), -1)



def run_plots(run_dir: Path, probs: np.ndarray, labels: np.ndarray, class_names: Sequence[str],
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

PREDICT_CHUNK = 16_384  # jets read, featurised and scored at once by predict / evaluate (a multiple of 1024)


def _joined(parts: list[np.ndarray | None]) -> np.ndarray | None:
    """The chunks' arrays end to end (None when the chunks have none)."""
    return None if any(p is None for p in parts) else np.concatenate(parts)


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
    temperature: float = 1.0  # calibration.json's temperature (1: not calibrated)

    def predict_proba(self, jets_path: str | os.PathLike, *, batch_size: int = 1024,
                      progress: bool = False, chunk_size: int = PREDICT_CHUNK) -> tuple[np.ndarray, np.ndarray | None]:
        """Classifiers: class probabilities (N, C) of every jet of a file (any format), and its
        labels. Regression runs: predictions (N, 1) and true targets (N, 1), in the target's units.
        The file is read and scored in chunks of ``chunk_size`` jets (a sharded master file too):
        memory holds one chunk and the outputs."""
        if self.target:
            pred, _, labels = self.predict_regression(jets_path, batch_size=batch_size, progress=progress,
                                                      chunk_size=chunk_size)
            return pred, labels
        probs, labels = [], []
        for ds, lab in self._chunks(jets_path, progress, chunk_size):
            probs.append(self.model.predict_proba(flat(ds)) if self.is_baseline
                         else softmax(self._outputs(ds, batch_size) / self.temperature))
            labels.append(lab)
        return np.concatenate(probs), _joined(labels)

    def predict_regression(self, jets_path: str | os.PathLike, *, batch_size: int = 1024, progress: bool = False,
                           chunk_size: int = PREDICT_CHUNK) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
        """Regression runs: predictions (N, 1), their predicted uncertainties (N, 1; None unless
        the head is a ``gaussian_nll`` one) and the true targets (N, 1), all in the target's
        units (a ``data.target_transform`` is undone with the file's own reference values).
        Scored in chunks, as :meth:`predict_proba`."""
        if not self.target:
            raise ValueError(f"{self.run_dir} is a classifier; use predict_proba")
        preds, sigmas, labels = [], [], []
        for ds, lab in self._chunks(jets_path, progress, chunk_size):
            pred, sigma = regression_outputs(self._outputs(ds, batch_size), self.target, ds)
            preds.append(pred)
            sigmas.append(sigma)
            labels.append(lab)
        return np.concatenate(preds), _joined(sigmas), np.concatenate(labels)

    def _chunks(self, jets_path: str | os.PathLike, progress: bool,
                chunk_size: int = PREDICT_CHUNK) -> Iterator[tuple[Any, np.ndarray | None]]:
        """The standardised datasets of consecutive chunks of a file and their labels (class
        indices in this run's order, or targets)."""
        from colliderlab.features.build import iter_datasets

        check_run_inputs(self, jets_path)  # a file lacking a field the run reads is refused
        name = self.target["name"] if self.target else None
        for ds in iter_datasets(jets_path, self.representation, chunk_size=chunk_size, progress=progress,
                                target=name):
            labels = self.map_labels(ds) if name is None else ds.labels
            yield dataclasses.replace(ds, arrays=self.standardizer.apply(ds.arrays)), labels

    def _outputs(self, ds: Any, batch_size: int) -> np.ndarray:
        """Raw outputs: logits (N, C), or standardised regression outputs (N, 1 or 2)."""
        if self.is_baseline:  # regression baselines (classifiers give probabilities: predict_proba)
            return self.model.predict(flat(ds))[:, None]
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
        from colliderlab.models.registry import resolve_model

        name = meta["model_name"]
        model = resolve_model(name).cls.load(run_dir / "baseline" / "model")
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
    if ck.get("decorrelation"):  # an adversarially trained tagger's checkpoint holds its adversary too
        from colliderlab.train.decorrelation import wrap_model

        model = wrap_model(model, ck["decorrelation"])
    model.load_state_dict(state)
    model.to(device).eval()
    from colliderlab.calibration import load_calibration

    return LoadedRun(run_dir, model, ck["model_name"], representation_from_dict(ck["representation"]),
                     Standardizer.from_dict(ck["standardizer"]), tuple(ck["class_names"]), False, config,
                     ck.get("target"), temperature=load_calibration(run_dir) or 1.0)


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
    write_scores(out, probs, labels, run.class_names, run.target["name"] if run.target else None, sigma,
                 attrs=inputs.to_dict() if inputs else None)  # what the input contract found
    return out


def evaluate_run(run_dir: str | os.PathLike, data: str | os.PathLike, *, out_dir: str | os.PathLike | None = None,
                 progress: bool = True, bootstrap: int = 0, allow_missing: str | Sequence[str] = ()) -> dict[str, Any]:
    """Metrics and plots of a trained run on a labelled file (any format). A file lacking a field
    the run reads is refused unless ``allow_missing`` names it; results.json records what was
    filled with zeros (:mod:`colliderlab.train.contract`)."""
    from colliderlab import metrics

    run = with_allow_missing(load_run(run_dir), allow_missing)
    inputs = check_run_inputs(run, data)
    found = inputs.to_dict() if inputs else {}
    out_dir = Path(out_dir) if out_dir else Path(run_dir) / f"eval-{Path(data).stem}"
    out_dir.mkdir(parents=True, exist_ok=True)
    if run.target:
        from colliderlab import plots

        probs, sigma, labels = run.predict_regression(data, progress=progress)
        res = {"target": run.target["name"], **metrics.regression_metrics(probs[:, 0], labels[:, 0])}
        if sigma is not None:
            res.update(metrics.pull_metrics(probs[:, 0], labels[:, 0], sigma[:, 0]))
        res.update(model=run.model_name, data=str(data), **meta_of_file(str(data)), **found)
        write_json(out_dir / "results.json", res)
        plots.plot_regression(probs[:, 0], labels[:, 0], out_dir / "regression.png", run.target["name"])
        return res
    probs, labels = run.predict_proba(data, progress=progress)
    if labels is None:
        raise ValueError(f"{data} has no labels; use predict instead")
    res = score_metrics(probs, labels, run.class_names)
    res.update(model=run.model_name, data=str(data), **meta_of_file(str(data)), **found)
    if bootstrap and probs.shape[1] == 2:
        res["bootstrap"] = metrics.bootstrap_metrics(probs[:, 1], labels == 1, n=bootstrap)
    write_json(out_dir / "results.json", res)
    run_plots(out_dir, probs, labels, run.class_names, [], run.model_name)
    return res
