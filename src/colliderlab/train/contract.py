"""A run's input contract: the fields it reads, recorded at training, checked before scoring.

``run_experiment`` records ``input_fields`` (the JetBatch fields its resolved representation
reads, :func:`input_fields`) in the run metadata: every ``checkpoint_*.json`` and
``baseline/meta.json``. Before ``predict``, ``evaluate`` or ``export --data`` score a file,
:func:`check_run_inputs` compares them with the fields the file carries
(:func:`colliderlab.data.contract.check_fields`): a missing one is a
:class:`~colliderlab.data.errors.MissingFieldsError` naming the fields, the file and its format,
unless the run was given ``allow_missing``, in which case zeros are filled on purpose and the
outputs record it (:meth:`~colliderlab.data.contract.InputReport.to_dict`: ``data_format``,
``input_fields``, ``filled_with_zeros``). A run written before the fields were recorded gets them
from its representation config.

This module holds the logic; the trainer, the run loader and the exporters call it in one line
each.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from colliderlab.data.contract import InputReport, check_fields, parse_fields

__all__ = ["input_fields", "recorded_fields", "check_run_inputs", "with_allow_missing"]

_META_FILES = ("checkpoint_best.json", "checkpoint_last.json", "baseline/meta.json")


def input_fields(representation: Any) -> list[str]:
    """Sorted fields a resolved representation config reads (the run metadata's ``input_fields``)."""
    return sorted(representation.input_fields())


def recorded_fields(run_dir: str | os.PathLike, representation: Any) -> frozenset[str]:
    """The ``input_fields`` recorded in a run's metadata; for runs written before they were
    recorded, those of its representation config."""
    run_dir = Path(run_dir)
    for name in _META_FILES:
        path = run_dir / name
        if path.is_file():
            try:
                meta = json.loads(path.read_text())
            except (OSError, ValueError):
                continue  # loading the run reports a damaged file; here we only look for the entry
            fields = meta.get("input_fields") if isinstance(meta, dict) else None
            if isinstance(fields, list):
                return frozenset(map(str, fields))
            break
    return frozenset(representation.input_fields())


def with_allow_missing(run: Any, allow_missing: str | Iterable[str] | None) -> Any:
    """``run`` (a :class:`~colliderlab.train.experiment.LoadedRun`) allowed to score files that
    lack the named fields (checked names; zeros are filled on purpose)."""
    import dataclasses

    return dataclasses.replace(run, allow_missing=parse_fields(allow_missing))


def check_run_inputs(run: Any, path: str | os.PathLike) -> InputReport | None:
    """Check that the jet file ``path`` carries every field ``run`` reads.

    Returns:
        The :class:`~colliderlab.data.contract.InputReport` (what the outputs record), or None for
        representations of calorimeter showers (their files have a single layout).

    Raises:
        MissingFieldsError: a field the run reads is missing and not in ``run.allow_missing``.
    """
    rep = run.representation
    if getattr(rep, "source", "jets") != "jets":
        return None
    options = ", ".join(f"{k} {v}" for k, v in _options(rep).items())
    reader = f"run {run.run_dir} ({rep.kind}{': ' + options if options else ''})"
    return check_fields(path, recorded_fields(run.run_dir, rep), getattr(run, "allow_missing", ()), reader=reader)


def _options(rep: Any) -> dict[str, Any]:
    from colliderlab.features.representations import representation_to_dict

    d = representation_to_dict(rep)
    return {k: d[k] for k in ("features", "channels") if k in d}
