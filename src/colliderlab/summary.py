"""Summaries of jet files of any supported format (what ``colliderlab inspect`` prints)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from colliderlab import kinematics as kin

__all__ = ["SUMMARY_OBSERVABLES", "summarize_file", "format_summary"]

# Per-jet quantities summarised per label.
SUMMARY_OBSERVABLES = ("mass", "pt", "tau32", "n_constituents")
_QUANTILES = (0.25, 0.5, 0.75)


def summarize_file(
    path: str | os.PathLike,
    *,
    chunk_size: int = 50_000,
    max_jets: int | None = None,
    keep_values: bool = False,
    progress: bool = False,
    lumi_fb: float | None = None,
) -> dict[str, Any]:
    """Counts per label and quantiles of mass, pT, tau_32 and multiplicity per label.

    Reads the file in chunks, so files larger than memory work (only four floats per jet
    are kept).

    Returns:
        A JSON-serialisable dict with ``path``, ``format``, ``n_jets``, ``n_particles``,
        ``labels`` (name -> count), and ``<obs>_quantiles`` (name -> {"q25", "q50", "q75"}) for
        ``mass`` and ``pt`` (GeV), ``tau32`` and ``n_constituents``; with ``keep_values`` also
        ``values`` (obs -> (N,) array) and ``label`` ((N,) array) for plotting; ``cross_sections``
        (name -> Pythia's sigma and its error, the jets-per-event efficiency and sigma x efficiency,
        in pb, plus ``expected`` jets at ``lumi_fb`` fb^-1 when given), None for files without.
    """
    from colliderlab.data.readers import detect_format, iter_jets
    from colliderlab.features.observables import compute_observables

    path = Path(path)
    fmt = detect_format(path)
    values: dict[str, list[np.ndarray]] = {k: [] for k in SUMMARY_OBSERVABLES}
    labels: list[np.ndarray] = []
    label_names: tuple[str, ...] = ()
    n_particles = 0
    seen = 0
    for batch in iter_jets(path, chunk_size=chunk_size):
        if max_jets is not None and seen >= max_jets:
            break
        if max_jets is not None:
            batch = batch[: max_jets - seen]
        seen += len(batch)
        label_names, n_particles = batch.label_names, batch.n_particles
        obs = compute_observables(batch, names=("tau32",), progress=progress)
        values["mass"].append(kin.mass(batch.jet_p4))
        values["pt"].append(kin.pt(batch.jet_p4))
        values["tau32"].append(obs["tau32"])
        values["n_constituents"].append(batch.multiplicity.astype(float))
        labels.append(batch.label)
    label = np.concatenate(labels) if labels else np.zeros(0, np.int64)
    arrays = {k: (np.concatenate(v) if v else np.zeros(0)) for k, v in values.items()}
    names = label_names or tuple(str(i) for i in range(int(label.max(initial=-1)) + 1))
    out: dict[str, Any] = {
        "path": str(path),
        "format": fmt,
        "n_jets": int(len(label)),
        "n_particles": int(n_particles),
        "labels": {n: int((label == i).sum()) for i, n in enumerate(names)},
    }
    for obs_name, x in arrays.items():
        out[f"{obs_name}_quantiles"] = {
            n: (
                {f"q{int(q * 100)}": float(v) for q, v in zip(_QUANTILES, np.quantile(x[label == i], _QUANTILES), strict=True)}
                if (label == i).any()
                else {}
            )
            for i, n in enumerate(names)
        }
    out["cross_sections"] = _cross_sections(path, lumi_fb)
    if keep_values:
        out["values"] = arrays
        out["label"] = label
        out["label_names"] = names
    return out


def _cross_sections(path: Path, lumi_fb: float | None) -> dict[str, Any] | None:
    from colliderlab.data.errors import DataFormatError
    from colliderlab.data.h5 import read_cross_sections

    try:
        xs = read_cross_sections(path)
    except (DataFormatError, OSError, ValueError, KeyError):
        return None
    out = {}
    for name, x in xs.items():
        d = {"sigma_pb": x.sigma_pb, "sigma_err_pb": x.sigma_err_pb, "filter_efficiency": x.filter_efficiency,
             "effective_pb": x.effective_pb}
        if lumi_fb is not None:
            d["expected"] = x.expected(lumi_fb)
        out[name] = d
    return out


def format_summary(s: dict[str, Any]) -> str:
    """A human-readable table of :func:`summarize_file`'s result."""
    lines = [f"{s['path']}  ({s['format']}, {s['n_jets']} jets, {s['n_particles']} constituent slots)"]
    head = f"{'label':>10} {'jets':>8}" + "".join(f" {o + ' q25/q50/q75':>30}" for o in SUMMARY_OBSERVABLES)
    lines.append(head)
    for name, count in s["labels"].items():
        row = f"{name:>10} {count:>8}"
        for o in SUMMARY_OBSERVABLES:
            q = s[f"{o}_quantiles"].get(name) or {}
            cell = "/".join(f"{q[k]:.3g}" for k in ("q25", "q50", "q75")) if q else "-"
            row += f" {cell:>30}"
        lines.append(row)
    for name, x in (s.get("cross_sections") or {}).items():
        line = (f"{name:>10} sigma = {x['sigma_pb']:.4g} +- {x['sigma_err_pb']:.2g} pb (Pythia), "
                f"{x['filter_efficiency']:.3g} jets/event: {x['effective_pb']:.4g} pb")
        if "expected" in x:
            line += f"; {x['expected']:.4g} jets expected"
        lines.append(line)
    return "\n".join(lines)
