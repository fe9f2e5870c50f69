"""``colliderlab export RUN_DIR --to FORMAT``: a trained run directory to a deployable artefact.

Everything lands in ``RUN_DIR/export/`` (or ``--out``)::

    export/
      model.onnx            --to onnx: dynamic batch (and particle) axes
      model.pt2             --to torch-export
      hls4ml/               --to hls4ml: the full HLS project (synthesise with the vendor tools)
      conifer/              --to conifer: the BDT's HLS/C++ project, with conifer.json inside
      onnx.json, torch-export.json, hls4ml.json
                            one summary per format: what a deployer needs (input names and
                            dynamic axes, the representation and its normalisation (mean/std
                            per array), class names) and what was lost: parity against PyTorch
                            (or xgboost) measured on real jets

Parity is measured on the first jets of ``--data`` (default: the run's training file) at several
batch sizes and particle counts; ``max_abs_diff_scores`` compares softmax scores.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from colliderlab.atomic import write_json

__all__ = ["FORMATS", "export_run"]

FORMATS = ("onnx", "torch-export", "hls4ml", "conifer")


def _data_path(run: Any, data: str | os.PathLike | None) -> str:
    path = data or (run.config.get("data") or {}).get("path")
    if not path or not Path(path).exists():
        raise FileNotFoundError(
            f"parity needs real jets: pass --data FILE (the run's training file {path!r} is not there)"
        )
    return str(path)


def export_run(
    run_dir: str | os.PathLike,
    to: str,
    *,
    out_dir: str | os.PathLike | None = None,
    data: str | os.PathLike | None = None,
    n_jets: int = 256,
    options: dict[str, Any] | None = None,
    allow_missing: str | Sequence[str] = (),
) -> dict[str, Any]:
    """Export a trained run; returns (and writes) the ``<format>.json`` summary.

    Args:
        to: one of :data:`FORMATS`.
        data: jets for the parity check (any format the readers know); default the run's training
            file (ONNX/torch.export need jets; hls4ml/conifer skip the comparison without them).
        n_jets: how many of its first jets to compare on.
        options: format-specific settings (hls4ml: an ``HLSConfig`` dict; conifer: precision ...).
        allow_missing: input fields ``data`` may lack (zeros filled on purpose); any other field
            the run reads and ``data`` lacks is refused (:mod:`colliderlab.train.contract`).
    Raises:
        KeyError: an unknown format (the valid ones are listed).
        colliderlab.export.onnx.ExportError: the model cannot be expressed in that format.
    """
    if to not in FORMATS:
        raise KeyError(f"unknown export format {to!r}; valid: {', '.join(FORMATS)}")
    from colliderlab.train.contract import check_run_inputs, with_allow_missing
    from colliderlab.train.runs import load_run

    run_dir = Path(run_dir)
    run = load_run(run_dir)
    out = Path(out_dir) if out_dir else run_dir / "export"
    out.mkdir(parents=True, exist_ok=True)
    options = dict(options or {})
    if data is None:  # compare on the run's own training file when it is still there
        train_file = (run.config.get("data") or {}).get("path")
        data = train_file if train_file and Path(train_file).exists() else None
    if data is not None:  # the input contract: refuse a file that lacks a field the run reads
        check_run_inputs(with_allow_missing(run, allow_missing), data)
    if to == "hls4ml":
        from colliderlab.export.hls import HLSConfig, export_hls_run

        return export_hls_run(run_dir, HLSConfig.from_dict(options), data=data, out_dir=out)
    if to == "conifer":
        from colliderlab.export.bdt import export_bdt_run

        named = {k: options.pop(k) for k in ("precision", "backend") if k in options}
        return export_bdt_run(run_dir, out_dir=out / "conifer", data=data, n_jets=n_jets,
                              options=options, **named)
    if run.is_baseline:
        raise ValueError(
            f"{run.model_name} is a {'BDT' if run.model_name == 'bdt' else 'non-torch'} baseline, "
            f"not a torch model: {'use --to conifer' if run.model_name == 'bdt' else 'nothing to export'}"
        )
    return _export_torch(run, to, out, data, n_jets, options)


def _export_torch(run: Any, to: str, out: Path, data: str | os.PathLike | None, n_jets: int,
                  options: dict[str, Any]) -> dict[str, Any]:
    """ONNX or torch.export of a torch run, with the parity check on ``n_jets`` jets of ``data``."""
    from colliderlab.export import onnx as ox
    from colliderlab.features.build import build_dataset

    data_path = _data_path(run, data)
    ds, _ = build_dataset(data_path, run.representation, stop=n_jets)
    arrays = run.standardizer.apply(ds.arrays)
    model = run.model.cpu().eval()
    spec = ox.export_spec(model, run.representation.kind, arrays)
    inputs = ox.example_inputs(arrays, spec, min(16, len(ds)))
    if to == "onnx":
        path = ox.export_onnx(model, inputs, out / "model.onnx", spec, **options)
        program = ox.onnx_session(path)
    else:
        path = ox.export_program(model, inputs, out / "model.pt2", spec, **options)
        spec = ox.program_spec(model, spec)
        program = ox.load_program(path)
    report = ox.parity(model, program, arrays, spec)
    summary = {
        "format": to,
        "file": str(path),
        "model": run.model_name,
        **spec.to_dict(),
        "representation_config": _rep_dict(run.representation),
        "standardizer": run.standardizer.to_dict(),
        "class_names": list(run.class_names),
        "target": run.target,
        "parity": {**report, "data": data_path, "n_jets": len(ds)},
    }
    write_json(out / f"{to}.json", summary)
    return summary


def _rep_dict(rep: Any) -> dict[str, Any]:
    from colliderlab.features.representations import representation_to_dict

    return representation_to_dict(rep)
