"""The event-level anomaly search (:func:`colliderlab.anomaly.event_search.run_event_anomaly`) on files:
colliderlab event files mixed into a Standard-Model cocktail, or the ADC2021 files."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import numpy as np

from colliderlab.anomaly.event_search import EventAnomalyConfig, run_event_anomaly

__all__ = ["INPUTS", "run_event_files", "run_adc_files"]

INPUTS = ("features", "objects")


def run_event_files(sm_files: Mapping[str, str | os.PathLike], signal_files: Mapping[str, str | os.PathLike],
                    out_dir: str | os.PathLike, config: EventAnomalyConfig | None = None, *,
                    test_fraction: float = 0.5, n_events: int | None = None,
                    inputs: str = "features") -> dict[str, Any]:
    """:func:`run_event_anomaly` on files of :func:`colliderlab.data.event_io.generate_events`.

    The Standard-Model processes are mixed by :func:`colliderlab.data.event_io.cocktail` (fractions =
    measured sigma x filter x trigger efficiency, shuffled); its last ``test_fraction`` is the
    held-out test sample. ``inputs``: ``"features"``, the high-level features of arXiv:1811.10276,
    or ``"objects"``, the (pT, eta, phi) of the 19 ADC2021 object slots (57 numbers, the input of the
    arXiv:2107.02157 baselines). Returns the metrics with a ``data`` entry (files, fractions, counts).
    """
    from colliderlab.data.adc2021 import INPUT_NAMES, particle_inputs, to_particles
    from colliderlab.data.event_io import cocktail, read_events

    if inputs not in INPUTS:
        raise ValueError(f"unknown inputs {inputs!r}; valid: {', '.join(INPUTS)}")
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    if not sm_files or not signal_files:
        raise ValueError("need at least one Standard-Model file and one signal file")
    mix = cocktail(dict(sm_files), n_events, seed=0)
    if inputs == "features":
        x, names = mix["features"], tuple(mix["feature_names"])
        signals = {name: read_events(path)["features"] for name, path in signal_files.items()}
    else:
        x, names = particle_inputs(mix["particles"]), INPUT_NAMES
        signals = {name: particle_inputs(to_particles(read_events(path))) for name, path in signal_files.items()}
    proc = mix["process"]
    n_test = int(round(test_fraction * len(x)))
    metrics = run_event_anomaly(x[:-n_test], x[-n_test:], signals, config, out_dir, feature_names=names,
                                test_sm_process=proc[-n_test:], process_names=mix["process_names"])
    metrics["data"] = {"inputs": inputs, "sm_files": {k: str(v) for k, v in sm_files.items()},
                       "signal_files": {k: str(v) for k, v in signal_files.items()},
                       "cocktail_fractions": mix["fractions"], "cocktail_counts": mix.get("counts")}
    return metrics


def run_adc_files(background: str | os.PathLike, signal_files: Mapping[str, str | os.PathLike],
                  out_dir: str | os.PathLike, config: EventAnomalyConfig | None = None, *,
                  test_fraction: float = 0.5, max_events: int | None = None) -> dict[str, Any]:
    """:func:`run_event_anomaly` on ADC2021 files (arXiv:2107.02157; :mod:`colliderlab.data.adc2021`).

    ``background``: the Standard-Model cocktail file (e.g. ``background_for_training.h5``; its
    first ``max_events`` events, shuffled, the last ``test_fraction`` held out); ``signal_files``:
    name -> signal file (at most ``max_events`` each). Inputs: the 57 (pT, eta, phi) of the slots.
    """
    from colliderlab.data.adc2021 import INPUT_NAMES, particle_inputs, read_adc2021

    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    if not signal_files:
        raise ValueError("need at least one signal file")
    x = particle_inputs(read_adc2021(background, max_events))
    x = x[np.random.default_rng(0).permutation(len(x))]
    signals = {name: particle_inputs(read_adc2021(path, max_events)) for name, path in signal_files.items()}
    n_test = int(round(test_fraction * len(x)))
    metrics = run_event_anomaly(x[:-n_test], x[-n_test:], signals, config, out_dir, feature_names=INPUT_NAMES)
    metrics["data"] = {"inputs": "objects", "adc_background": str(background), "n_background": len(x),
                       "signal_files": {k: str(v) for k, v in signal_files.items()}}
    return metrics
