"""``colliderlab explain``: arrays, figures and a summary of what any trained run looks at.

    explain_run(RUN_DIR, DATA, out_dir=RUN_DIR/explain-<file>, config=ExplainConfig())

What is computed depends on the run (see :mod:`colliderlab.explain`): SHAP values for taggers on
observables, integrated gradients and saliency for images, per-particle integrated gradients and
occlusion (removing each particle; both with the three-prong check where the file has truth decay
partons), ParT attention maps, EFN filters.
Output directory::

    OUT/
      explain.h5     the arrays (names in summary.json's "arrays"), labels (B,), jet_p4 (B, 4)
      summary.json   run, file, jets, seconds per stage, SHAP ranking, IG completeness, the
                     three-prong check, the interaction matrix's contribution, ...
      *.png          the figures
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from colliderlab.atomic import replacing, write_json
from colliderlab.progress import write_line

__all__ = ["ExplainConfig", "explain_run"]

TABULAR = ("observables", "nsub", "efp", "calo_features")
IMAGES = ("image",)
PARTICLES = ("particles", "sequence")


@dataclass(frozen=True)
class ExplainConfig:
    """``n_jets`` read from the file; ``n_steps`` of integrated gradients; ``radius`` of the prong
    cones; ``n_show`` single jets drawn per class; ``pt_bins`` jet-pT bins of the image maps; ``background`` jets of DeepExplainer's reference sample;
    ``plots``."""

    n_jets: int = 1000
    n_steps: int = 32
    radius: float = 0.2
    n_show: int = 3
    pt_bins: int = 3
    background: int = 50  # jets of the SHAP background sample (torch models on observables)
    plots: bool = True


def _data(run: Any, path: str | os.PathLike, n: int) -> tuple[Any, dict[str, np.ndarray], np.ndarray]:
    from colliderlab.data.formats import read_jets
    from colliderlab.train.contract import check_run_inputs

    check_run_inputs(run, path)  # a file lacking a field the run reads is refused, naming it
    jets = read_jets(path, stop=n)
    if not len(jets):
        raise ValueError(f"{path} holds no jets")
    rep = run.representation
    arrays = run.standardizer.apply(rep.compute(jets))
    labels = run.map_labels(SimpleNamespace(class_names=jets.label_names, labels=jets.label))  # the run's order
    return jets, arrays, jets.label if labels is None else labels


def explain_run(run_dir: str | os.PathLike, data: str | os.PathLike, out_dir: str | os.PathLike | None = None,
                config: ExplainConfig = ExplainConfig()) -> dict[str, Any]:
    """Explain the run in ``run_dir`` on the first ``config.n_jets`` jets of ``data``; returns the summary."""
    from colliderlab.train.runs import load_run

    run = load_run(run_dir)
    out = Path(out_dir) if out_dir else Path(run_dir) / f"explain-{Path(data).stem}"
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    jets, arrays, labels = _data(run, data, config.n_jets)
    kind = run.representation.kind
    summary: dict[str, Any] = {"run": str(run_dir), "data": str(data), "model": run.model_name, "representation": kind,
                               "n_jets": len(jets), "class_names": list(run.class_names), "config": asdict(config),
                               "seconds": {"read": time.perf_counter() - t0}}
    store: dict[str, np.ndarray] = {"labels": labels, "jet_p4": jets.jet_p4}
    from colliderlab.explain import families

    if kind in TABULAR:
        families.tabular(run, arrays, labels, config, out, summary, store)
    elif kind in IMAGES:
        families.images(run, arrays, labels, jets, config, out, summary, store)
    elif kind in PARTICLES:
        families.particles(run, arrays, labels, jets, config, out, summary, store)
    else:
        raise NotImplementedError(f"explain: no explanation for {kind!r} runs yet; supported representations: "
                                  f"{', '.join(TABULAR + IMAGES + PARTICLES)}")
    summary["seconds"]["total"] = time.perf_counter() - t0
    summary["arrays"] = sorted(store)
    _write_h5(out / "explain.h5", store, summary)
    write_json(out / "summary.json", summary)
    write_line(f"explain: {run.model_name} on {len(jets)} jets in {summary['seconds']['total']:.1f} s -> {out}")
    return summary


def _write_h5(path: Path, store: dict[str, np.ndarray], summary: dict[str, Any]) -> None:
    import h5py

    with replacing(path) as tmp, h5py.File(tmp, "w") as f:
        for k, v in store.items():
            f.create_dataset(k, data=np.asarray(v), compression="gzip")
        f.attrs["summary"] = json.dumps(summary, default=float)
