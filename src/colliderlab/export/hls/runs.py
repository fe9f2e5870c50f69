"""hls4ml export of a training run directory, with its emulation parity on data."""

from __future__ import annotations

import dataclasses
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from colliderlab.atomic import write_json
from colliderlab.export.hls.config import HLSConfig
from colliderlab.export.hls.conversion import compare, convert, emulate
from colliderlab.export.hls.resources import resource_estimate
from colliderlab.metrics import softmax

__all__ = ["export_hls_run"]


# --------------------------------------------------------------------------- run directories


def _model_input_shape(model: Any) -> tuple[int, ...]:
    c = getattr(model, "config", None)
    name = getattr(model, "model_name", "")
    if name in ("dnn", "nsub_dnn") and c is not None:
        return (int(c.n_features),)
    if name == "cnn" and c is not None:
        return (int(c.in_channels), int(c.image_size), int(c.image_size))
    raise NotImplementedError(
        f"export_hls_run handles dense (dnn, nsub_dnn) and cnn runs; "
        f"{name or type(model).__name__} is not one hls4ml's PyTorch frontend converts here"
    )


def _labels_for(run: Any, ds: Any) -> np.ndarray:
    names = tuple(ds.class_names)
    if not names or names == tuple(run.class_names):
        return np.asarray(ds.labels)
    missing = [n for n in names if n not in run.class_names]
    if missing:
        raise ValueError(f"the data's classes {list(names)} include {missing} unknown to the model")
    lut = np.array([list(run.class_names).index(n) for n in names])
    return lut[np.asarray(ds.labels)]


def _float_outputs(model: Any, x: np.ndarray, batch_size: int = 4096) -> np.ndarray:
    import torch

    model = model.cpu().float().eval()
    outs = []
    with torch.no_grad():
        for s in range(0, len(x), batch_size):
            chunk = np.ascontiguousarray(x[s : s + batch_size])
            outs.append(model(torch.from_numpy(chunk)).numpy())
    return np.concatenate(outs).astype(np.float64)


def _trigger_view(f_out: np.ndarray, e_out: np.ndarray, labels: np.ndarray,
                  class_names: Sequence[str], precision: str) -> list[dict[str, Any]]:
    """Each class against the rest at fixed background rates, float vs emulated softmax."""
    from colliderlab.export.trigger import compare_rates

    pf, pe = softmax(np.asarray(f_out, np.float64)), softmax(np.asarray(e_out, np.float64))
    rows = []
    for k, name in enumerate(class_names):
        y = labels == k
        if y.any() and not y.all():
            for r in compare_rates({"float": pf[:, k], precision: pe[:, k]}, y):
                rows.append({"signal": name, **r})
    return rows


def export_hls_run(
    run_dir: str | os.PathLike,
    config: HLSConfig | None = None,
    data: str | os.PathLike | None = None,
    out_dir: str | os.PathLike | None = None,
) -> dict[str, Any]:
    """Convert a trained ``dnn``/``nsub_dnn``/``cnn`` run to firmware.

    Writes ``OUT/hls4ml/`` (``OUT`` = ``out_dir`` or ``RUN_DIR/export``; the HLS project, built in
    a temporary folder, then moved in place) and ``OUT/hls4ml.json`` (written to a temporary file,
    then ``os.replace``d) holding the conversion summary, the resource estimate and, with ``data``
    (any jet file), the float-vs-emulation comparison on its jets and the trigger-rate view
    (:mod:`colliderlab.export.trigger`: each class against the rest at 100 kHz and 1 MHz out of
    40 MHz, float vs emulated scores). ``config.output_dir`` is ignored. Returns the summary.
    """
    from colliderlab.features.build import build_dataset
    from colliderlab.train.runs import load_run

    config = config or HLSConfig()
    run_dir = Path(run_dir)
    run = load_run(run_dir)
    if run.is_baseline:
        raise ValueError(f"{run_dir} holds a {run.model_name!r} baseline, not a torch model")
    if run.target:
        raise ValueError(f"{run_dir} is a regression run; export_hls_run exports classifiers")
    shape = _model_input_shape(run.model)
    export = Path(out_dir) if out_dir else run_dir / "export"
    export.mkdir(parents=True, exist_ok=True)
    final = export / "hls4ml"
    tmp = export / f".hls4ml.tmp{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    handle = convert(run.model, shape, dataclasses.replace(config, output_dir=str(tmp)))
    summary: dict[str, Any] = {
        "run_dir": str(run_dir),
        "model_name": run.model_name,
        "class_names": list(run.class_names),
        **handle.summary(),
        "output_dir": str(final),
        "resource_estimate": resource_estimate(run.model, shape, config),
    }
    summary["config"]["output_dir"] = str(final)
    if data is not None:
        ds, _ = build_dataset(data, run.representation)
        labels = _labels_for(run, ds)
        arrays = run.standardizer.apply(ds.arrays)
        x = arrays[run.model.input_names[0]]
        summary["data"] = str(data)
        f_out, e_out = _float_outputs(run.model, x), emulate(handle, x)
        summary["compare"] = compare(f_out, e_out, labels, run.class_names)
        summary["trigger"] = _trigger_view(f_out, e_out, labels, run.class_names, config.precision)
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    yml = final / "hls4ml_config.yml"  # the only file that names the build folder
    if yml.exists():
        yml.write_text(yml.read_text().replace(f"OutputDir: {tmp}", f"OutputDir: {final}"))
    write_json(export / "hls4ml.json", summary)
    return summary
