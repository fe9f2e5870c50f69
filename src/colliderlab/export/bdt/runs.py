"""conifer export of a BDT training run directory."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from colliderlab.atomic import write_json
from colliderlab.export.bdt.config import ConiferConfig
from colliderlab.export.bdt.conversion import convert_bdt
from colliderlab.export.bdt.emulation import bdt_parity, bdt_resources

__all__ = ["export_bdt_run"]


# ---------------------------------------------------------------------------- runs


def export_bdt_run(
    run_dir: str | os.PathLike,
    out_dir: str | os.PathLike | None = None,
    data: str | os.PathLike | None = None,
    precision: str = "ap_fixed<18,8>",
    *,
    backend: str = "cpp",
    n_jets: int | None = None,
    options: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Convert the BDT of a ``colliderlab train`` run (``model: {name: bdt}``) with conifer.

    Writes the conifer project to ``out_dir`` (default ``RUN_DIR/export/conifer/``) and a
    summary ``conifer.json`` there. With ``data`` (any jet file the project reads; its first
    ``n_jets`` jets), the run's features are built and standardised as in training and the
    parity with xgboost is measured on them.

    Args:
        options: further :class:`ConiferConfig` fields (e.g. ``{"part": ..., "clock_period": 4}``).

    Returns:
        the summary: conversion (``conifer``), ``resources``, ``parity`` (with ``data``), run info.
    """
    import dataclasses as dc

    from colliderlab.features.build import build_dataset
    from colliderlab.models.bdt import BDTClassifier
    from colliderlab.train.runs import load_run

    run = load_run(run_dir)
    if not isinstance(run.model, BDTClassifier):
        raise ValueError(
            f"{run_dir} holds a {run.model_name!r} model; conifer export needs a BDT run "
            "(model: {name: bdt})"
        )
    out = Path(out_dir) if out_dir is not None else Path(run_dir) / "export" / "conifer"
    out.mkdir(parents=True, exist_ok=True)
    opts = dict(options or {})
    cfg = ConiferConfig(backend=backend, precision=precision, output_dir=str(out), **opts)
    handle = convert_bdt(run.model, cfg)
    import conifer
    import xgboost

    summary: dict[str, Any] = {
        "run_dir": str(run_dir),
        "model": run.model_name,
        "class_names": list(run.class_names),
        "conifer_version": str(conifer.__version__),
        "xgboost_version": xgboost.__version__,
        "conifer": handle.to_dict(),
        "resources": bdt_resources(handle),
    }
    if data is not None:
        ds, _ = build_dataset(data, run.representation, stop=n_jets)
        labels = run.map_labels(ds)
        ds = dc.replace(ds, arrays=run.standardizer.apply(ds.arrays))
        x = ds.arrays["x"].reshape(len(ds.arrays["x"]), -1)
        summary["data"] = str(data)
        summary["parity"] = bdt_parity(run.model, handle, x, labels)
    write_json(out / "conifer.json", summary)
    return summary
