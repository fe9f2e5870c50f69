"""The statistical analysis of a trained run on jet samples (:func:`analyse_run`).

The run's own sample gives the validation and test splits exactly as training made them (the
same ``n_jets``, fractions and ``split_seed``), so no jet the network trained on enters; any other
file (``data=``) is split in half, validation and test, with a fixed seed. Generator-variation
samples are scored whole. Cross sections come from the samples' provenance
(:func:`colliderlab.data.h5.read_cross_sections`) unless given by hand.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from colliderlab.stats.analysis import AnalysisConfig, Split, XsecInput, analyse

__all__ = ["RunInputs", "analyse_run", "run_inputs", "run_splits", "sample_split", "variation_name"]


def variation_name(path: str | os.PathLike) -> str:
    """The variation a sample was generated with, from its provenance: ``vincia`` for the Vincia
    shower at nominal settings, otherwise the variation's name (``fsr-up``, ...)."""
    from colliderlab.data.h5 import read_h5_attrs

    var = dict(read_h5_attrs(path).get("provenance") or {}).get("generator_variation")
    if not var:
        raise ValueError(f"{path} records no generator variation (written before schema 2?); name it by hand")
    if var["shower"] != "simple" and var["variation"] == "nominal":
        return var["shower"]
    return var["variation"] if var["shower"] == "simple" else f"{var['shower']}-{var['variation']}"


def _scored(run: Any, path: str | os.PathLike, discriminant: str, stop: int | None) -> tuple[Split, np.ndarray]:
    """Every jet of ``path`` (the first ``stop``) as a :class:`Split` (scores: the last class's
    probability, replaced by the caller) and the class probabilities (N, C), labels in the run's
    class order."""
    from colliderlab.stats.discriminants import jet_values

    vals = jet_values(path, discriminant, stop=stop)  # refused before scoring when a field is missing
    probs, labels = run.predict_proba(path)
    if labels is None:
        raise ValueError(f"{path} has no labels; a statistical analysis needs labelled samples")
    probs, labels = probs[:stop], labels[:stop]
    if len(vals.values) != len(labels):
        raise ValueError(f"{path}: {len(vals.values)} discriminant values for {len(labels)} scored jets")
    return Split(probs[:, -1], vals.values, labels), probs


def _signal_scores(run: Any, probs: np.ndarray, signal: str | None) -> np.ndarray:
    names = list(run.class_names)
    if signal is not None and signal not in names:
        raise ValueError(f"signal class {signal!r} is not one of the run's classes {names}")
    return probs[:, names.index(signal) if signal else len(names) - 1]


def sample_split(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Validation and test halves of a file of ``n`` jets that no run trained on (seeded)."""
    order = np.random.default_rng(seed).permutation(n)
    return np.sort(order[: n // 2]), np.sort(order[n // 2:])


def run_splits(run: Any, data: str | os.PathLike | None, discriminant: str, signal: str | None,
               seed: int = 0) -> tuple[Split, Split, str]:
    """The validation and test :class:`Split` of a run on its own sample (or on ``data``)."""
    from colliderlab.data.dataset import split_indices
    from colliderlab.train.config import experiment_from_dict

    d = experiment_from_dict(run.config).data if run.config else None
    own = data is None or (d is not None and Path(data).resolve() == Path(d.path).resolve())
    if own:
        if d is None or not d.path:
            raise ValueError(f"{run.run_dir} records no data.path; pass the sample to analyse (--data)")
        if d.stream is True or d.val_path or d.test_path:
            raise ValueError(f"{run.run_dir} was trained on a stream or on separate val/test files; pass a "
                             "sample it did not train on (--data)")
        path = d.path
    else:
        path = str(data)
    split, probs = _scored(run, path, discriminant, d.n_jets if own and d else None)
    split.scores = _signal_scores(run, probs, signal)
    n = len(split.scores)
    if own:
        _, va, te = split_indices(n, d.val_fraction, d.test_fraction, d.split_seed)
    else:
        va, te = sample_split(n, seed)
    sub = lambda idx: Split(split.scores[idx], split.values[idx], split.labels[idx])  # noqa: E731
    return sub(va), sub(te), str(path)


def _cross_sections(path: str | os.PathLike, names: Sequence[str], given: Mapping[str, float]) -> dict[str, XsecInput]:
    from colliderlab.data.errors import DataFormatError
    from colliderlab.data.h5 import read_cross_sections

    try:
        stored = {k: XsecInput.from_cross_section(v) for k, v in read_cross_sections(path).items()}
    except DataFormatError:
        if not all(n in given for n in names):
            raise
        stored = {}
    stored.update({k: XsecInput(float(v)) for k, v in given.items()})
    return stored


@dataclass
class RunInputs:
    """What :func:`colliderlab.stats.analysis.analyse` needs of a run, scored once (analyse it under
    several settings without scoring again)."""

    val: Split
    test: Split
    class_names: tuple[str, ...]
    xsec: dict[str, XsecInput]
    variations: dict[str, tuple[Split, dict[str, XsecInput]]]
    info: dict[str, Any]

    def analyse(self, config: AnalysisConfig) -> dict[str, Any]:
        res = analyse(self.val, self.test, self.class_names, self.xsec, config=config, variations=self.variations)
        res.update(self.info)
        return res


def run_inputs(run_dir: str | os.PathLike, *, data: str | os.PathLike | None = None,
               variations: Sequence[str | os.PathLike] = (), discriminant: str = "mass", signal: str | None = None,
               seed: int = 0, xsec_pb: Mapping[str, float] | None = None) -> RunInputs:
    """Score a run's validation and test splits and every variation sample (see :func:`analyse_run`)."""
    from colliderlab.train.runs import load_run

    run = load_run(run_dir)
    if run.target:
        raise ValueError(f"{run_dir} is a regression run; a statistical analysis needs a classifier")
    val, test, path = run_splits(run, data, discriminant, signal, seed)
    xsec = _cross_sections(path, run.class_names, dict(xsec_pb or {}))
    named = {variation_name(v): v for v in variations}
    var_inputs = {}
    for name, vpath in named.items():
        split, probs = _scored(run, vpath, discriminant, None)
        split.scores = _signal_scores(run, probs, signal)
        var_inputs[name] = (split, _cross_sections(vpath, run.class_names, dict(xsec_pb or {})))
    info = {"run": str(run_dir), "model": run.model_name, "data": path,
            "variation_samples": {k: str(v) for k, v in named.items()}}
    return RunInputs(val, test, tuple(run.class_names), xsec, var_inputs, info)


def analyse_run(run_dir: str | os.PathLike, *, data: str | os.PathLike | None = None,
                variations: Sequence[str | os.PathLike] = (), config: AnalysisConfig | None = None,
                xsec_pb: Mapping[str, float] | None = None) -> dict[str, Any]:
    """:func:`colliderlab.stats.analysis.analyse` of a trained classifier run.

    Args:
        run_dir: a run directory (:func:`colliderlab.train.runs.load_run`).
        data: the sample to analyse (default the run's own, with its own validation/test split).
        variations: samples generated with other generator settings (named from their provenance).
        config: analysis settings.
        xsec_pb: class name -> effective cross section (pb) overriding / replacing the stored ones.

    Raises:
        ValueError: a file lacking the discriminant's fields (named, with the discriminants it
            supports), a regression run, classes without cross sections, ...
    """
    config = config or AnalysisConfig()
    return run_inputs(run_dir, data=data, variations=variations, discriminant=config.discriminant,
                      signal=config.signal, seed=config.seed, xsec_pb=xsec_pb).analyse(config)
